"""Conditional GAN: shapes, seeding, training determinism, and the evaluation metrics
checked against independent references (brute force, scikit-learn, eigen-decomposition)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graph_engine.errors import ModelError
from models.gan import GANConfig, GANModel, build_discriminator, build_generator, train_gan, translate
from models.gan_eval import (
    frechet_distance, knn_radii, matched_labels, memorisation, nn_distances, precision_recall, tstr_pixel_lr,
)
from models.records import ImageRecord
from models.synthetic import generate_file, image_grid, is_synthetic_file, write_png

pytestmark = pytest.mark.unit

LABELS = ["normal", "pneumonia"]


def tiny_model(arch: str = "mlp", seed: int = 0) -> GANModel:
    torch.manual_seed(seed)
    cfg = GANConfig(arch=arch, g_width=8, d_width=8, z_dim=8, device="cpu")
    return GANModel(build_generator(cfg, 2), LABELS, cfg, "cpu")


def toy_records(n: int = 40, seed: int = 0) -> list[ImageRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        y = i % 2
        img = np.clip(rng.normal(80 + 100 * y, 20, (28, 28)), 0, 255).astype(np.uint8)
        out.append(ImageRecord(f"r{i}", img, LABELS[y]))
    return out


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_networks_shapes_and_range(arch: str) -> None:
    cfg = GANConfig(arch=arch, g_width=8, d_width=8, z_dim=8, device="cpu")
    g, d = build_generator(cfg, 2), build_discriminator(cfg, 2)
    z, y = torch.randn(5, 8), torch.tensor([0, 1, 0, 1, 1])
    x = g(z, y)
    assert x.shape == (5, 1, 28, 28) and float(x.detach().abs().max()) <= 1.0
    assert d(x, y).shape == (5,)


def test_generate_seeded_balanced_and_batch_independent() -> None:
    m = tiny_model()
    a, ya = m.generate(101, seed=3)
    b, yb = m.generate(101, seed=3, batch_size=7)
    c, _ = m.generate(101, seed=4)
    assert a.shape == (101, 28, 28) and a.dtype == np.uint8 and ya.shape == (101,)
    assert np.array_equal(a, b) and np.array_equal(ya, yb)
    assert not np.array_equal(a, c)
    assert sorted(np.bincount(ya).tolist()) == [50, 51]
    only, yo = m.generate(10, seed=3, label=1)
    assert (yo == 1).all() and only.shape == (10, 28, 28)
    # the label changes the image for the same latent
    assert not np.array_equal(m.generate_labels(np.zeros(4), 1), m.generate_labels(np.ones(4), 1))


def test_generate_rejects_bad_arguments() -> None:
    m = tiny_model()
    with pytest.raises(ModelError, match="n must be >= 1"):
        m.generate(0, seed=0)
    with pytest.raises(ModelError, match="label index 2"):
        m.generate(3, seed=0, label=2)
    with pytest.raises(ModelError, match="loss must be one of"):
        GANConfig(loss="lsgan")
    with pytest.raises(ModelError, match="arch must be one of"):
        GANConfig(arch="stylegan")


def test_translate_matches_shifted_padding_reference() -> None:
    x = torch.arange(2 * 28 * 28, dtype=torch.float32).view(2, 1, 28, 28) / 2000.0 - 0.5
    gen = torch.Generator().manual_seed(5)
    out = translate(x, gen, shift=2)
    off = torch.randint(-2, 3, (2, 2), generator=torch.Generator().manual_seed(5))
    for i in range(2):
        dy, dx = int(off[i, 0]), int(off[i, 1])
        ref = np.full((28, 28), -1.0, dtype=np.float32)
        src = x[i, 0].numpy()
        ys, xs = slice(max(dy, 0), 28 + min(dy, 0)), slice(max(dx, 0), 28 + min(dx, 0))
        yt, xt = slice(max(-dy, 0), 28 + min(-dy, 0)), slice(max(-dx, 0), 28 + min(-dx, 0))
        ref[ys, xs] = src[yt, xt]
        assert np.allclose(out[i, 0].numpy(), ref)


def test_training_is_seeded_and_generates() -> None:
    cfg = GANConfig(g_width=8, d_width=8, z_dim=8, steps=4, batch_size=8, device="cpu")
    a, b = train_gan(toy_records(), cfg), train_gan(toy_records(), cfg)
    for (ka, va), (kb, vb) in zip(a.model.net.state_dict().items(), b.model.net.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert a.split["train_class_counts"] == {"normal": 20, "pneumonia": 20}
    imgs, _ = a.model.generate(6, seed=0)
    assert imgs.shape == (6, 28, 28)
    wgan = train_gan(toy_records(), GANConfig(g_width=8, d_width=8, z_dim=8, steps=2, n_critic=2, batch_size=8,
                                              loss="wgan-gp", device="cpu"))
    assert np.isfinite(wgan.metrics["final_d_loss"])


def test_training_rejects_wrong_shapes_and_labels() -> None:
    bad = [ImageRecord("x", np.zeros((32, 32), np.uint8), "normal")]
    with pytest.raises(ModelError, match="record 'x'.*28x28"):
        train_gan(bad, GANConfig(steps=1, device="cpu"))
    with pytest.raises(ModelError, match="label 'covid'"):
        train_gan([ImageRecord("y", np.zeros((28, 28), np.uint8), "covid")], GANConfig(steps=1, device="cpu"))
    with pytest.raises(ModelError, match="every class"):
        train_gan([ImageRecord("z", np.zeros((28, 28), np.uint8), "normal")], GANConfig(steps=1, device="cpu"))


# ----------------------------------------------------------------------------- metrics
def _fd_reference(a: np.ndarray, b: np.ndarray) -> float:
    """tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) with symmetric square roots from eigh."""
    def psd_sqrt(m: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    r = psd_sqrt(s1)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(psd_sqrt(r @ s2 @ r)))


def test_frechet_distance_matches_independent_formulas() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 5)), rng.normal(1.0, 2.0, size=(300, 5)) @ rng.normal(size=(5, 5))
    assert frechet_distance(a, b) == pytest.approx(_fd_reference(a, b), rel=1e-6)
    x, y = rng.normal(0, 1, (500, 1)), rng.normal(3, 2, (500, 1))  # 1-D: (m1-m2)^2 + (s1-s2)^2
    one_d = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert frechet_distance(x, y) == pytest.approx(one_d, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ModelError):
        frechet_distance(a, b[:, :3])


def test_precision_recall_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(40, 3)), rng.normal(0.7, 1.3, size=(35, 3))
    k = 3

    def radii(x: np.ndarray) -> list[float]:
        return [sorted(np.linalg.norm(x[i] - x[j]) for j in range(len(x)) if j != i)[k - 1] for i in range(len(x))]

    rr, rf = radii(real), radii(fake)
    prec = np.mean([any(np.linalg.norm(f - real[j]) <= rr[j] for j in range(len(real))) for f in fake])
    rec = np.mean([any(np.linalg.norm(r - fake[j]) <= rf[j] for j in range(len(fake))) for r in real])
    got = precision_recall(real, fake, k)
    assert got["precision"] == pytest.approx(prec) and got["recall"] == pytest.approx(rec)
    assert np.allclose(knn_radii(real, k), rr)
    far = precision_recall(real, fake + 100.0, k)
    assert far["precision"] == 0.0 and far["recall"] == 0.0


def test_nn_distances_match_sklearn_and_near_copies_are_counted() -> None:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(2)
    train = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    gen = rng.integers(0, 256, (25, 28, 28), dtype=np.uint8)
    gen[:5] = train[[3, 7, 7, 11, 59]]  # exact copies
    d, idx = nn_distances(gen, train, chunk=7)
    nn = NearestNeighbors(n_neighbors=1).fit(train.reshape(60, -1) / 255.0)
    dist, ref_idx = nn.kneighbors(gen.reshape(25, -1) / 255.0)
    assert np.allclose(d, dist[:, 0] / np.sqrt(784), atol=1e-6)
    assert np.array_equal(idx, ref_idx[:, 0])
    m = memorisation(gen, train, reference=train[:10])
    assert m["near_copies"] == 5 and m["near_copy_share"] == pytest.approx(5 / 25)
    assert m["distinct_train_images_matched"] == 4 and m["reference_near_copy_share"] == 1.0


def test_tstr_pixel_lr_learns_a_pixel_signal_and_refuses_one_class() -> None:
    rng = np.random.default_rng(3)

    def data(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, n)
        x = np.clip(rng.normal(100, 30, (n, 28, 28)) + 40 * y[:, None, None], 0, 255).astype(np.uint8)
        return x, y

    (xa, ya), (xb, yb) = data(300), data(200)
    out = tstr_pixel_lr(xa, ya, xb, yb)
    assert out["auroc"] > 0.95 and set(out["recall_per_class"]) == {"0", "1"}
    with pytest.raises(ModelError, match="both classes"):
        tstr_pixel_lr(xa, np.zeros_like(ya), xb, yb)


def test_matched_labels_keep_proportions() -> None:
    y = matched_labels(np.array([0] * 135 + [1] * 389), 524, seed=0)
    assert np.bincount(y).tolist() == [135, 389]
    assert np.bincount(matched_labels(np.array([0, 1, 1]), 10, 0)).tolist() == [3, 7]


# ----------------------------------------------------------------------------- files
def test_generate_file_metadata_and_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    m = tiny_model()
    out = tmp_path / "gen.npz"
    info = generate_file(m, 30, 7, out)
    with np.load(out, allow_pickle=False) as z:
        assert z["images"].shape == (30, 28, 28) and z["images"].dtype == np.uint8
        assert z["labels"].tolist().count(0) == 15 and bool(z["synthetic"]) and int(z["seed"]) == 7
        assert str(z["ids"][0]) == "synthetic-7-0" and list(z["label_names"]) == LABELS
    assert info["labels"] == {"normal": 15, "pneumonia": 15} and is_synthetic_file(out)
    np.savez(tmp_path / "real.npz", images=np.zeros((2, 28, 28), np.uint8))
    assert not is_synthetic_file(tmp_path / "real.npz")
    with pytest.raises(ModelError, match=r"\.npz"):
        generate_file(m, 3, 0, tmp_path / "x.txt")
    with pytest.raises(ModelError, match="not one of"):
        generate_file(m, 3, 0, out, label="covid")
    with np.load(out) as z:
        grid = image_grid(z["images"], z["labels"], 5, LABELS)
    assert grid.shape == (2 * 32, 5 * 32)
    write_png(tmp_path / "g.png", grid)
    PIL = pytest.importorskip("PIL.Image")
    back = np.asarray(PIL.open(tmp_path / "g.png"))
    assert np.array_equal(back, grid)


def test_image_model_can_train_with_generated_images() -> None:
    from models.image import ImageConfig, train_image

    recs = toy_records(48)
    cfg = dict(width=4, epochs=1, patience=1, batch_size=32, val_fraction=0.25, device="cpu")
    plain = train_image(recs, ImageConfig(**cfg))
    mixed = train_image(recs, ImageConfig(**cfg, synthetic_ratio=1.0))  # the shipped generator
    n = plain.split["n_train"]
    assert mixed.split["n_val"] == plain.split["n_val"] and mixed.split["n_synthetic_train"] == n
    assert sum(mixed.split["train_class_counts"].values()) == 2 * n
    assert plain.split["n_synthetic_train"] == 0
    with pytest.raises(ModelError, match="synthetic_ratio"):
        ImageConfig(synthetic_ratio=-1.0)
