"""Synthetic image files: write generated images with their provenance, recognise them,
and evaluate a generator from files.

A generated file is an ``.npz`` with ``images`` (N, 28, 28) uint8, ``labels`` (N,) int64
(0 = normal, 1 = pneumonia), ``ids`` (``synthetic-<seed>-<i>``, so generated Cases never
merge with real ones), ``label_names``, and the metadata arrays ``synthetic`` (True),
``model``, ``version`` (the generator's ``model_version``), ``seed``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graph_engine.errors import ModelError
from models.datasets import read_images, sha256_file

MAX_GENERATE = 10_000_000


def label_index(model: Any, label: str | None) -> int | None:
    """``"normal"`` / ``"pneumonia"`` (or ``None``) -> the generator's class index."""
    if label is None:
        return None
    if label not in model.labels:
        raise ModelError(f"--label {label!r} is not one of this generator's labels {model.labels}")
    return int(model.labels.index(label))


def generate_file(model: Any, n: int, seed: int, output: str | Path, label: str | None = None) -> dict[str, Any]:
    """Generate ``n`` images with ``seed`` (balanced labels unless ``label``) and write ``output`` (.npz).

    Returns:
        ``{"path", "n", "labels": {name: count}, "seconds", "images_per_second"}``.

    Raises:
        ModelError: ``n`` out of range, an unknown label, or ``output`` not ending in ``.npz``.
    """
    out = Path(output)
    if out.suffix.lower() != ".npz":
        raise ModelError(f"{out}: --output must be an .npz file")
    if not 1 <= n <= MAX_GENERATE:
        raise ModelError(f"--n must be between 1 and {MAX_GENERATE}, got {n}")
    if seed < 0:
        raise ModelError(f"--seed must be >= 0, got {seed}")
    k = label_index(model, label)
    t0 = time.perf_counter()
    images, labels = model.generate(n, seed, k)
    seconds = time.perf_counter() - t0
    man = getattr(model, "manifest", {}) or {}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp.npz")
    np.savez_compressed(
        tmp,
        images=images,
        labels=labels,
        ids=np.array([f"synthetic-{seed}-{i}" for i in range(n)]),
        label_names=np.array(model.labels),
        synthetic=np.array(True),
        model=np.array(str(man.get("name", "medkg-image-cgan"))),
        version=np.array(str(man.get("model_version", "unversioned"))),
        seed=np.array(int(seed)),
    )
    tmp.replace(out)  # never leave a half-written file under the final name
    counts = np.bincount(labels, minlength=len(model.labels))
    return {"path": str(out), "n": int(n), "labels": dict(zip(model.labels, counts.tolist())),
            "seconds": seconds, "images_per_second": n / max(seconds, 1e-9)}


def is_synthetic_file(path: str | Path) -> bool:
    """True when ``path`` is an ``.npz`` written by :func:`generate_file` (``synthetic`` is True)."""
    p = Path(path)
    if p.suffix.lower() != ".npz" or not p.is_file():
        return False
    try:
        with np.load(p, allow_pickle=False) as npz:
            return "synthetic" in npz.files and bool(np.asarray(npz["synthetic"]).reshape(-1)[0])
    except Exception:  # unreadable files are reported by the reader that follows
        return False


def labelled_arrays(path: str | Path, split: str, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """Images ``(N, 28, 28)`` and integer labels of ``split`` in ``path``; the file's sha256.

    Raises:
        ModelError: the split is missing, a record is unlabelled or not 28 x 28.
    """
    loaded = read_images(path, split=split, class_names=list(names))
    index = {lb: k for k, lb in enumerate(names)}
    xs, ys = [], []
    for r in loaded.records:
        img = np.asarray(r.image)
        if img.shape != (28, 28):
            raise ModelError(f"{path}: record {r.id!r} (line {r.line}) is {img.shape}; the generator makes 28x28 images")
        if r.label not in index:
            raise ModelError(f"{path}: record {r.id!r} (line {r.line}) has label {r.label!r}; expected one of {list(names)}")
        xs.append(img if img.dtype == np.uint8 else np.rint(img * 255).astype(np.uint8))
        ys.append(index[r.label])  # type: ignore[index]
    if not xs:
        raise ModelError(f"{path}: no usable {split!r} images ({len(loaded.skipped)} skipped)")
    return np.stack(xs), np.array(ys, dtype=np.int64), sha256_file(path)


def evaluate_gan(
    model: Any,
    data: str | Path,
    split: str = "val",
    train_data: str | Path | None = None,
    train_split: str = "train",
    n: int = 6000,
    seed: int = 0,
    cnn_epochs: int = 0,
    feature_model: Any = None,
) -> dict[str, Any]:
    """Score a generator against the real ``split`` of ``data``.

    Args:
        model: a loaded generator (``load_model(kind="gan")``).
        data: real labelled images (MedMNIST ``.npz`` with ``{split}_images``, or ``images`` + ``labels``).
        split: which split of ``data`` is the real test set (default ``val``).
        train_data: the generator's training images (default: ``data``), read from ``train_split``.
        n: generated images for TSTR and memorisation (default 6,000, balanced).
        seed: generation seed.
        cnn_epochs: epochs of the TSTR run with medkg's CNN (0 skips it).
        feature_model: the CNN whose features are used; default the shipped image model.

    Returns:
        see :func:`models.gan_eval.evaluate_generator`, plus ``data``, ``split``, ``model``, ``model_version``
        and ``train_data_matches_model`` (the training file's sha256 equals the one recorded in the generator).
    """
    from models.api import load_model
    from models.gan_eval import evaluate_generator

    if not 1 <= n <= 1_000_000:
        raise ModelError(f"--n must be between 1 and 1000000, got {n}")
    if cnn_epochs < 0:
        raise ModelError(f"--cnn-epochs must be >= 0, got {cnn_epochs}")
    names = list(model.labels)
    real_x, real_y, _ = labelled_arrays(data, split, names)
    train_path = train_data if train_data is not None else data
    train_x, train_y, train_sha = labelled_arrays(train_path, train_split, names)
    if len(np.unique(real_y)) < len(names):
        raise ModelError(f"{data}: split {split!r} lacks a class; evaluation needs every label {names}")
    feats = feature_model if feature_model is not None else load_model(kind="image", device="cpu")
    out = evaluate_generator(model, real_x, real_y, train_x, train_y, feats, n=n, seed=seed, cnn_epochs=cnn_epochs)
    man = getattr(model, "manifest", {}) or {}
    out.update({
        "data": Path(str(data)).name, "split": split, "train_data": Path(str(train_path)).name,
        "model": man.get("name"), "model_version": man.get("model_version"),
        "train_data_matches_model": train_sha == man.get("data", {}).get("sha256"),
    })
    return out


def image_grid(images: np.ndarray, labels: np.ndarray, per_class: int, names: Sequence[str], pad: int = 2) -> np.ndarray:
    """One row per class of ``per_class`` images (uint8), ``pad`` px white between; shape ``(H, W)``."""
    rows = []
    for c in range(len(names)):
        sel = images[labels == c][:per_class]
        if len(sel) < per_class:
            raise ModelError(f"grid needs {per_class} images of {names[c]!r}, got {len(sel)}")
        tiles = [np.pad(t, pad, constant_values=255) for t in sel]
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def write_png(path: str | Path, gray: np.ndarray) -> None:
    """Write a uint8 ``(H, W)`` array as an 8-bit grayscale PNG (zlib only; no imaging library)."""
    import struct
    import zlib

    g = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = g.shape
    raw = b"".join(b"\x00" + g[i].tobytes() for i in range(h))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
