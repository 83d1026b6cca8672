"""A class-conditional GAN for 28 x 28 grayscale images (normal / pneumonia).

Two architectures (``arch``), both ``medkg-cgan-v1`` artifacts:

``"mlp"`` (default; ``h`` = ``g_width`` / ``d_width``)::

    G(z, y): [z (z_dim) ; embed(y) (z_dim)] -> linear(h) BN ReLU -> linear(2h) BN ReLU -> linear(784) tanh
    D(x, y): flatten -> linear(2h) LReLU -> [; minibatch std] -> linear(h) LReLU = h_x;
             D = linear(h_x) + <embed(y), h_x>

``"dcgan"`` (``g`` = ``g_width``, ``d`` = ``d_width``)::

    G(z, y): [z (z_dim) ; embed(y) (z_dim)] -> linear -> 4g x 7 x 7, BN, ReLU
             -> convT4x4/2 (2g) BN ReLU (14 x 14) -> convT4x4/2 (g) BN ReLU (28 x 28)
             -> conv3x3 (1) tanh
    D(x, y): conv4x4/2 (d) LReLU -> conv4x4/2 (2d) LReLU -> conv3x3 (4d) LReLU
             -> sum over space = h;  D = linear(h) + <embed(y), h>   (projection discriminator)

Loss ``"hinge"`` (default): every D layer spectrally normalised (Miyato et al.
2018), hinge loss, one D step per G step.  Loss ``"wgan-gp"``: the same networks
without spectral norm, Wasserstein loss with gradient penalty 10 and
``n_critic`` D steps per G step (Gulrajani et al. 2017); kept for the comparison
in BENCHMARKS.md.  Both use translation DiffAugment on real and fake images
before D (Zhao et al. 2020; few training normals; off in the shipped MLP, whose
D is not translation-equivariant) and an exponential moving
average of G's weights, which is what is shipped.

With ``balance`` (default) real batches and G's labels are drawn class-balanced,
so the rare class (388 training normals) gets half of the updates; without it, it got
a tenth and its images were poor (BENCHMARKS.md). Near-copies of the oversampled
class are what this risks; ``medkg models evaluate --kind gan`` measures them.
:meth:`GANModel.generate` draws labels balanced unless asked for one class.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from graph_engine.errors import ModelError
from graph_engine.devices import torch_device
from models.image import (
    config_from_manifest, config_json, load_weights, save_weights_file, to_unit_float,
)
from models.records import ImageRecord

ARCHITECTURE = "medkg-cgan-v1"
LOSSES = ("hinge", "wgan-gp")
ARCHS = ("mlp", "dcgan")


@dataclass
class GANConfig:
    """Hyper-parameters of the conditional GAN (a run is reproducible from this).

    Attributes:
        z_dim: latent size.
        arch: ``"mlp"`` (fully connected; fast on a CPU) or ``"dcgan"`` (convolutional).
        g_width, d_width: hidden units (mlp) or base channels (dcgan) of generator / discriminator.
        loss: ``"hinge"`` (spectral-norm D) or ``"wgan-gp"``.
        steps: generator updates.
        n_critic: discriminator updates per generator update.
        batch_size: images per update.
        lr_g, lr_d: Adam learning rates; betas ``(beta1, 0.999)``.
        beta1: Adam beta1.
        gp_weight: gradient-penalty weight (``wgan-gp`` only).
        diffaug: random translation (+-2 px, zero padding) of D's inputs.
        balance: draw real batches and G's labels class-balanced (the rare class gets
            half the updates) instead of at the training frequencies.
        ema: decay of the moving average of G's weights (0 disables).
        seed: seed for initialisation, batches, latents and augmentation.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        label_names: names of integer labels 0..C-1.
        split: MedMNIST split read from files with ``{split}_images`` keys.
        label_map: a label map TSV; ``None`` uses the packaged one.
    """

    z_dim: int = 64
    arch: str = "mlp"
    g_width: int = 256
    d_width: int = 256
    loss: str = "hinge"
    steps: int = 4000
    n_critic: int = 1
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    gp_weight: float = 10.0
    diffaug: bool = True
    balance: bool = True
    ema: float = 0.999
    seed: int = 0
    device: str = "auto"
    label_names: tuple[str, ...] = ("normal", "pneumonia")
    split: str = "train"
    label_map: str | None = None

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ModelError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}")
        if self.arch not in ARCHS:
            raise ModelError(f"arch must be one of {list(ARCHS)}, got {self.arch!r}")
        for name in ("z_dim", "g_width", "d_width", "steps", "n_critic", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ModelError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.ema < 1.0:
            raise ModelError(f"ema must be in [0, 1), got {self.ema}")
        self.label_names = tuple(self.label_names)
        if len(self.label_names) < 2:
            raise ModelError("a conditional GAN needs at least 2 label_names")


class Generator(nn.Module):
    """``(N, z_dim)`` latents + ``(N,)`` labels -> ``(N, 1, 28, 28)`` images in ``[-1, 1]``."""

    def __init__(self, n_classes: int, z_dim: int = 64, width: int = 32) -> None:
        super().__init__()
        g = width
        self.z_dim = z_dim
        self.embed = nn.Embedding(n_classes, z_dim)
        self.fc = nn.Sequential(nn.Linear(2 * z_dim, 4 * g * 49, bias=False), nn.BatchNorm1d(4 * g * 49), nn.ReLU(True))
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * g, 2 * g, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * g), nn.ReLU(True),
            nn.ConvTranspose2d(2 * g, g, 4, 2, 1, bias=False), nn.BatchNorm2d(g), nn.ReLU(True),
            nn.Conv2d(g, 1, 3, 1, 1), nn.Tanh(),
        )
        self.width = g

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([z, self.embed(y)], 1)).view(-1, 4 * self.width, 7, 7)
        return self.net(h)


class Discriminator(nn.Module):
    """Projection discriminator: ``(N, 1, 28, 28)`` + labels -> ``(N,)`` scores."""

    def __init__(self, n_classes: int, width: int = 32, spectral: bool = True) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm if spectral else (lambda m: m)
        d = width
        self.net = nn.Sequential(
            sn(nn.Conv2d(1, d, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(d, 2 * d, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(2 * d, 4 * d, 3, 1, 1)), nn.LeakyReLU(0.2, True),
        )
        self.out = sn(nn.Linear(4 * d, 1))
        self.embed = sn(nn.Embedding(n_classes, 4 * d))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.net(x).sum(dim=(2, 3))
        return self.out(h).squeeze(1) + (self.embed(y) * h).sum(1)


class MLPGenerator(nn.Module):
    """Fully connected generator: ``(N, z_dim)`` + labels -> ``(N, 1, 28, 28)`` in ``[-1, 1]``."""

    def __init__(self, n_classes: int, z_dim: int = 64, width: int = 256) -> None:
        super().__init__()
        h = width
        self.z_dim = z_dim
        self.embed = nn.Embedding(n_classes, z_dim)
        self.net = nn.Sequential(
            nn.Linear(2 * z_dim, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(True),
            nn.Linear(h, 2 * h, bias=False), nn.BatchNorm1d(2 * h), nn.ReLU(True),
            nn.Linear(2 * h, 784), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.embed(y)], 1)).view(-1, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    """Fully connected projection discriminator: ``(N, 1, 28, 28)`` + labels -> ``(N,)`` scores."""

    def __init__(self, n_classes: int, width: int = 256, spectral: bool = True) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm if spectral else (lambda m: m)
        h = width
        self.first = nn.Sequential(sn(nn.Linear(784, 2 * h)), nn.LeakyReLU(0.2, True))
        # + 1 input: the minibatch standard deviation (Karras et al. 2018), so a collapsed batch is visible
        self.second = nn.Sequential(sn(nn.Linear(2 * h + 1, h)), nn.LeakyReLU(0.2, True))
        self.out = sn(nn.Linear(h, 1))
        self.embed = sn(nn.Embedding(n_classes, h))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h1 = self.first(x.flatten(1))
        spread = h1.std(0, unbiased=False).mean() if len(h1) > 1 else h1.new_zeros(())
        h = self.second(torch.cat([h1, spread.expand(len(h1), 1)], 1))
        return self.out(h).squeeze(1) + (self.embed(y) * h).sum(1)


def build_generator(config: "GANConfig", n_classes: int) -> nn.Module:
    cls = MLPGenerator if config.arch == "mlp" else Generator
    return cls(n_classes, config.z_dim, config.g_width)


def build_discriminator(config: "GANConfig", n_classes: int) -> nn.Module:
    cls = MLPDiscriminator if config.arch == "mlp" else Discriminator
    return cls(n_classes, config.d_width, spectral=config.loss == "hinge")


def translate(x: torch.Tensor, gen: torch.Generator, shift: int = 2) -> torch.Tensor:
    """DiffAugment translation: shift each image by up to ``shift`` px, zero (= -1 here) padding.

    Differentiable in ``x``; offsets come from ``gen`` (CPU) so runs are reproducible.
    """
    n, _, h, w = x.shape
    off = torch.randint(-shift, shift + 1, (n, 2), generator=gen).to(x.device)
    pad = F.pad(x, (shift, shift, shift, shift), value=-1.0)
    iy = (torch.arange(h, device=x.device).view(1, h, 1) + shift - off[:, 0].view(n, 1, 1)).expand(n, h, w)
    ix = (torch.arange(w, device=x.device).view(1, 1, w) + shift - off[:, 1].view(n, 1, 1)).expand(n, h, w)
    flat = pad[:, 0].reshape(n, -1)
    idx = (iy * (w + 2 * shift) + ix).reshape(n, -1)
    return flat.gather(1, idx).view(n, 1, h, w)


def _gradient_penalty(d: nn.Module, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor,
                      gen: torch.Generator) -> torch.Tensor:
    a = torch.rand((real.shape[0], 1, 1, 1), generator=gen).to(real.device)
    mix = (a * real + (1 - a) * fake).requires_grad_(True)
    out = d(mix, y)
    (grad,) = torch.autograd.grad(out.sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


class GANModel:
    """A trained generator with its labels and config.

    Attributes:
        labels: class names; label ``k`` of :meth:`generate` is ``labels[k]``.
        image_size: ``(28, 28)``.
    """

    kind = "gan"
    temperature = 1.0  # artifacts record it for every kind; meaningless for a generator

    def __init__(self, net: nn.Module, labels: Sequence[str], config: GANConfig | None = None,
                 device: str = "auto") -> None:
        self.net = net
        self.labels = list(labels)
        self.image_size = (28, 28)
        self.config = config or GANConfig()
        self.device = torch_device(device)
        self.net.to(self.device).eval()
        self.manifest: dict[str, Any] = {}
        self.path: Path | None = None

    @torch.no_grad()
    def generate(self, n: int, seed: int, label: int | None = None, batch_size: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """``n`` images, uint8 ``(n, 28, 28)``, and their labels ``(n,)``.

        Labels are ``label`` for all when given, else balanced: ``k`` for
        positions ``i`` with ``i % C == k``, shuffled with ``seed``. The output
        depends only on the weights, ``n``, ``seed`` and ``label`` (not on the batch size).

        Raises:
            ModelError: ``n < 1`` or an unknown label index.
        """
        c = len(self.labels)
        if n < 1:
            raise ModelError(f"n must be >= 1, got {n}")
        if label is not None and not 0 <= label < c:
            raise ModelError(f"label index {label} is not among 0..{c - 1} ({self.labels})")
        rng = np.random.default_rng(seed)
        if label is None:
            y = np.arange(n) % c
            rng.shuffle(y)
        else:
            y = np.full(n, label)
        return self._render(y.astype(np.int64), rng, batch_size), y.astype(np.int64)

    def generate_labels(self, labels: np.ndarray, seed: int, batch_size: int = 2000) -> np.ndarray:
        """One uint8 image per entry of ``labels`` (integer class indices), seeded."""
        y = np.asarray(labels).astype(np.int64).reshape(-1)
        if len(y) == 0 or y.min() < 0 or y.max() >= len(self.labels):
            raise ModelError(f"labels must be a non-empty array of indices 0..{len(self.labels) - 1}")
        return self._render(y, np.random.default_rng(seed), batch_size)

    @torch.no_grad()
    def _render(self, y: np.ndarray, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        n = len(y)
        z = rng.standard_normal((n, int(getattr(self.net, "z_dim")))).astype(np.float32)
        self.net.eval()
        out = np.empty((n, 28, 28), dtype=np.uint8)
        for s in range(0, n, batch_size):
            zb = torch.from_numpy(z[s : s + batch_size]).to(self.device)
            yb = torch.from_numpy(y[s : s + batch_size]).to(self.device)
            x = self.net(zb, yb)[:, 0].float().cpu().numpy()
            out[s : s + batch_size] = np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)
        return out

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        return {
            "architecture": ARCHITECTURE,
            "image_size": list(self.image_size),
            "config": config_json(self.config),
        }

    def save_weights(self, directory: Path) -> list[str]:
        return save_weights_file(self.net, directory, "generator.pt")

    @classmethod
    def from_directory(cls, directory: Path, manifest: dict[str, Any], device: str = "auto") -> "GANModel":
        """Rebuild the generator from an artifact directory (``weights_only=True``)."""
        config = config_from_manifest(directory, manifest, ARCHITECTURE, GANConfig)
        net = build_generator(config, len(manifest["labels"]))
        load_weights(net, directory, "generator.pt")
        return cls(net, manifest["labels"], config, device)


@dataclass
class GANTrainResult:
    model: GANModel
    metrics: dict[str, Any]
    split: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)


def images_and_labels(records: Sequence[ImageRecord], label_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Stack labelled 28 x 28 records into ``(N, 28, 28)`` and integer labels, or raise naming the record."""
    index = {lb: k for k, lb in enumerate(label_names)}
    imgs, ys = [], []
    for r in records:
        img = np.asarray(r.image)
        where = f"record {r.id!r}" + (f" (line {r.line})" if r.line else "")
        if img.ndim == 3 and img.shape[0] == 1:
            img = img[0]
        if img.shape != (28, 28):
            raise ModelError(f"{where}: image has shape {img.shape}; the GAN takes 28x28 grayscale images")
        if r.label not in index:
            raise ModelError(f"{where}: label {r.label!r} is not among label_names {list(label_names)}")
        imgs.append(img)
        ys.append(index[r.label])  # type: ignore[index]
    if not imgs:
        raise ModelError("no training images")
    return np.stack(imgs), np.array(ys, dtype=np.int64)


def train_gan(
    records: Sequence[ImageRecord],
    config: GANConfig,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> GANTrainResult:
    """Train the conditional GAN on labelled images; returns the EMA generator.

    Args:
        records: labelled 28 x 28 images (uint8 or float in [0, 1]).
        config: hyper-parameters.
        progress: called every 50 generator steps with ``(step, steps, stats)``.

    Raises:
        ModelError: wrong shapes, unknown labels, or a class with no image.
    """
    labels = list(config.label_names)
    images, y = images_and_labels(records, labels)
    counts = np.bincount(y, minlength=len(labels))
    if (counts < 1).any():
        raise ModelError(f"every class needs training images; counts {dict(zip(labels, counts.tolist()))}")
    device = torch_device(config.device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    x_all = torch.from_numpy(to_unit_float(images) * 2.0 - 1.0).unsqueeze(1)
    y_all = torch.from_numpy(y)
    g_net = build_generator(config, len(labels)).to(device)
    d_net = build_discriminator(config, len(labels)).to(device)
    g_ema = copy.deepcopy(g_net).eval()
    opt_g = torch.optim.Adam(g_net.parameters(), lr=config.lr_g, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(d_net.parameters(), lr=config.lr_d, betas=(config.beta1, 0.999))
    n, bs = len(x_all), min(config.batch_size, len(x_all))
    weights = torch.from_numpy((1.0 / counts[y]) if config.balance else np.ones(n))

    def draw() -> torch.Tensor:
        return torch.multinomial(weights, bs, replacement=True, generator=gen)

    aug = (lambda t: translate(t, gen)) if config.diffaug else (lambda t: t)
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    d_sum = g_sum = 0.0
    for step in range(1, config.steps + 1):
        g_net.train()
        for _ in range(config.n_critic):
            idx = draw()
            real, yr = x_all[idx].to(device), y_all[idx].to(device)
            z = torch.randn((bs, config.z_dim), generator=gen).to(device)
            with torch.no_grad():
                fake = g_net(z, yr)
            d_real, d_fake = d_net(aug(real), yr), d_net(aug(fake), yr)
            if config.loss == "hinge":
                d_loss = F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
            else:
                d_loss = d_fake.mean() - d_real.mean() + config.gp_weight * _gradient_penalty(d_net, real, fake, yr, gen)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        # G step: labels drawn like the real batches
        yg = y_all[draw()].to(device)
        z = torch.randn((bs, config.z_dim), generator=gen).to(device)
        g_loss = -d_net(aug(g_net(z, yg)), yg).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        with torch.no_grad():
            decay = min(config.ema, (1.0 + step) / (10.0 + step)) if config.ema > 0 else 0.0
            for pe, p in zip(g_ema.parameters(), g_net.parameters()):
                pe.lerp_(p, 1.0 - decay)
            for be, b in zip(g_ema.buffers(), g_net.buffers()):
                be.copy_(b)
        d_sum += float(d_loss.detach())
        g_sum += float(g_loss.detach())
        if step % 50 == 0 or step == config.steps:
            k = 50 if step % 50 == 0 else step % 50
            stats = {"step": step, "d_loss": d_sum / k, "g_loss": g_sum / k, "seconds": time.perf_counter() - t0}
            if not (np.isfinite(stats["d_loss"]) and np.isfinite(stats["g_loss"])):
                raise ModelError(f"GAN training diverged at step {step} (loss {stats}); lower lr_g / lr_d")
            history.append(stats)
            d_sum = g_sum = 0.0
            if progress:
                progress(step, config.steps, stats)
    seconds = time.perf_counter() - t0
    model = GANModel(g_ema.cpu(), labels, config, config.device)
    metrics = {
        "train_seconds": seconds,
        "seconds_per_1000_steps": 1000.0 * seconds / config.steps,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "final_d_loss": history[-1]["d_loss"],
        "final_g_loss": history[-1]["g_loss"],
    }
    split = {"n_train": int(n), "train_class_counts": dict(zip(labels, counts.astype(int).tolist())),
             "method": "all training images (no internal split; judged on a separate real split)"}
    return GANTrainResult(model, metrics, split, history)
