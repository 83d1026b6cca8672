"""Image CNN: a tiny training run on separable synthetic data, determinism,
artifact round-trip and input validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from graph_engine.errors import ModelError
from models import ImageRecord, evaluate, load_model, predict, predict_records, train
from models.image import SmallCNN, augment_batch

pytestmark = pytest.mark.unit
torch.set_num_threads(1)


def synthetic_images(n: int = 160, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: a bright square top-left; class 1: bottom-right; noisy background. 1:3 imbalance."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.75).astype(np.uint8)
    x = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(y):
        r0 = 4 if c == 0 else 15
        x[i, r0 : r0 + 9, r0 : r0 + 9] = 220
    return x, y


TINY = {"width": 4, "epochs": 6, "patience": 6, "batch_size": 32, "lr": 0.01, "val_fraction": 0.25, "seed": 0}


@pytest.fixture(scope="module")
def tiny_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x, y = synthetic_images()
    d = tmp_path_factory.mktemp("img")
    np.savez(d / "train.npz", images=x, labels=y)
    train("image", d / "train.npz", d / "model", TINY)
    return d


def test_tiny_training_run_separates_the_classes(tiny_artifact: Path) -> None:
    xt, yt = synthetic_images(80, seed=1)
    model = load_model(tiny_artifact / "model", "image")
    m = evaluate(model, [ImageRecord(str(i), xt[i], ["normal", "pneumonia"][yt[i]]) for i in range(len(xt))])
    assert m["accuracy"] >= 0.95 and m["auroc"] >= 0.98
    assert m["read"] == 80 and m["skipped"] == {}


def test_artifact_round_trip_and_manifest(tiny_artifact: Path) -> None:
    d = tiny_artifact / "model"
    for f in ("model.json", "weights.pt", "label_map.tsv", "metrics.json", "MODEL_CARD.md"):
        assert (d / f).is_file()
    model = load_model(d)
    man = model.manifest
    assert man["kind"] == "image" and man["labels"] == ["normal", "pneumonia"]
    assert man["label_map"]["pneumonia"]["disease_id"] == "DOID:552"
    assert len(man["data"]["sha256"]) == 64 and man["medkg_version"]
    assert "not a medical device" in (d / "MODEL_CARD.md").read_text().lower()
    x, _ = synthetic_images(10, seed=2)
    p1 = [p.probabilities for p in predict(model, x)]
    p2 = [p.probabilities for p in predict(load_model(d), x)]
    assert p1 == p2


def test_training_is_deterministic_on_cpu(tmp_path: Path) -> None:
    x, y = synthetic_images(64, seed=3)
    np.savez(tmp_path / "t.npz", images=x, labels=y)
    cfg = {**TINY, "epochs": 2, "device": "cpu"}
    a = train("image", tmp_path / "t.npz", tmp_path / "a", cfg)
    b = train("image", tmp_path / "t.npz", tmp_path / "b", cfg)
    assert a.model_version == b.model_version  # version embeds the weights' sha256


def test_tampered_weights_are_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(tiny_artifact / "model", d)
    with open(d / "weights.pt", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ModelError, match="sha256"):
        load_model(d)


def test_bad_images_raise_or_are_skipped(tiny_artifact: Path) -> None:
    model = load_model(tiny_artifact / "model")
    good = np.zeros((28, 28), np.uint8)
    with pytest.raises(ModelError, match="32x32.*28x28"):
        predict(model, [ImageRecord("big", np.zeros((32, 32), np.uint8))])
    with pytest.raises(ModelError, match="dtype int32"):
        predict(model, [ImageRecord("i32", good.astype(np.int32))])
    with pytest.raises(ModelError, match="expected images of shape"):
        predict(model, np.zeros((28, 28), np.uint8))
    nan = np.full((28, 28), np.nan, np.float32)
    rep = predict_records(model, [ImageRecord("ok", good), ImageRecord("nan", nan), ImageRecord("rgb", np.zeros((28, 28, 3), np.uint8))])
    assert rep.read == 3 and [p.id for p in rep.predictions] == ["ok"]
    assert {s.id for s in rep.skipped} == {"nan", "rgb"}


def test_training_refuses_unknown_labels(tmp_path: Path) -> None:
    x, _ = synthetic_images(10)
    np.savez(tmp_path / "t.npz", images=x, labels=np.array(["cat"] * 10))
    with pytest.raises(ModelError, match="'cat'.*label_names"):
        train("image", tmp_path / "t.npz", tmp_path / "m", TINY)


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown image config keys \\['widht'\\]"):
        train("image", tmp_path / "none.npz", tmp_path / "m", {"widht": 3})


def test_shapes_of_network_and_augmentation() -> None:
    net = SmallCNN(3, width=4)
    assert net(torch.zeros(5, 1, 28, 28)).shape == (5, 3)
    x = torch.rand(6, 1, 28, 28)
    out = augment_batch(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    again = augment_batch(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])],
)
def test_train_and_predict_on_device(tmp_path: Path, device: str) -> None:
    x, y = synthetic_images(64, seed=4)
    np.savez(tmp_path / "t.npz", images=x, labels=y)
    art = train("image", tmp_path / "t.npz", tmp_path / "m", {**TINY, "epochs": 1, "device": device})
    model = load_model(art.path, device=device)
    assert model.device.type == device
    probs = np.array([[p.probabilities[k] for k in ("normal", "pneumonia")] for p in predict(model, x[:5])])
    assert probs.shape == (5, 2) and np.allclose(probs.sum(1), 1.0)
