"""``medkg models train --kind gan``, ``generate`` and ``evaluate --kind gan`` (CLI, no services)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from jobs.commands import gan as gan_commands
from jobs.commands import models as model_commands

pytestmark = pytest.mark.unit

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "artifacts" / "gan-default"


@pytest.fixture(scope="module")
def root() -> click.Group:
    @click.group()
    def main() -> None:
        pass

    model_commands.register(main)
    gan_commands.register(main)
    return main


def toy_npz(path: Path, n: int = 48, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    arrays = {}
    for split in ("train", "val"):
        y = np.arange(n) % 2
        x = np.clip(rng.normal(70 + 90 * y[:, None, None], 25, (n, 28, 28)), 0, 255).astype(np.uint8)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = x, y.reshape(-1, 1).astype(np.uint8)
    np.savez(path, **arrays)
    return path


def test_generate_with_shipped_default_is_seeded(root: click.Group, tmp_path: Path) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for out in (a, b):
        res = CliRunner().invoke(root, ["models", "generate", "--kind", "image", "--n", "50", "--seed", "3",
                                        "--output", str(out), "--grid", str(tmp_path / "g.png"), "--grid-columns", "4"])
        assert res.exit_code == 0, res.output
    manifest = json.loads((DEFAULT / "model.json").read_text())
    with np.load(a) as za, np.load(b) as zb:
        assert za["images"].shape == (50, 28, 28) and za["images"].dtype == np.uint8
        assert np.array_equal(za["images"], zb["images"]) and np.bincount(za["labels"]).tolist() == [25, 25]
        assert bool(za["synthetic"]) and int(za["seed"]) == 3
        assert str(za["model"]) == manifest["name"] and str(za["version"]) == manifest["model_version"]
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = CliRunner().invoke(root, ["models", "generate", "--kind", "image", "--n", "7", "--seed", "3",
                                    "--label", "pneumonia", "--output", str(a)])
    assert res.exit_code == 0, res.output
    with np.load(a) as za:
        assert za["labels"].tolist() == [1] * 7


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "--n must be between 1"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--label", "covid"], "Invalid value for '--label'"),
    (["--output", "x.csv"], "must be an .npz file"),
    (["--model", "IMAGE_DEFAULT"], "holds a image model, not a gan model"),
])
def test_generate_bad_arguments_give_clear_errors(root: click.Group, tmp_path: Path, args: list[str], message: str) -> None:
    base = {"--n": "5", "--seed": "0", "--output": str(tmp_path / "o.npz")}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v.replace("IMAGE_DEFAULT", str(DEFAULT.parent / "image-default"))
    argv = ["models", "generate", "--kind", "image"] + [x for kv in base.items() for x in kv]
    res = CliRunner().invoke(root, argv)
    assert res.exit_code != 0 and message in res.output
    assert "Traceback" not in res.output


def test_train_and_evaluate_gan_cli(root: click.Group, tmp_path: Path) -> None:
    data = toy_npz(tmp_path / "toy.npz")
    out = tmp_path / "gan"
    res = CliRunner().invoke(root, ["models", "train", "--kind", "gan", "--data", str(data), "--output", str(out),
                                    "--set", "steps=3", "--set", "batch_size=16", "--set", "g_width=16",
                                    "--set", "d_width=16", "--set", "device=\"cpu\""])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["kind"] == "gan" and manifest["model"]["config"]["steps"] == 3
    card = (out / "MODEL_CARD.md").read_text()
    assert "Must not be used for" in card and "synthetic: true" in card
    report = tmp_path / "report.json"
    res = CliRunner().invoke(root, ["models", "evaluate", "--kind", "gan", "--model", str(out), "--data", str(data),
                                    "--n", "60", "--output", str(report)])
    assert res.exit_code == 0, res.output
    assert "not Inception FID" in res.output
    rep = json.loads(report.read_text())
    assert rep["train_data_matches_model"] is True and rep["n_generated"] == 60
    assert 0.0 <= rep["generated"]["precision"] <= 1.0 and set(rep["generated"]["per_class"]) == {"normal", "pneumonia"}
    assert 0.0 <= rep["tstr_pixel_lr"]["synthetic"]["auroc"] <= 1.0
    # without --kind, a generator directory is recognised
    res = CliRunner().invoke(root, ["models", "evaluate", "--model", str(out), "--data", str(data), "--n", "60"])
    assert res.exit_code == 0 and "Frechet" in res.output, res.output
    res = CliRunner().invoke(root, ["models", "evaluate", "--kind", "gan", "--model", str(out), "--data", str(data),
                                    "--split", "test"])
    assert res.exit_code != 0 and "no 'test_images' array" in res.output
    res = CliRunner().invoke(root, ["models", "predict", "--kind", "image", "--model", str(out),
                                    "--input", str(data), "--output", str(tmp_path / "p.jsonl")])
    assert res.exit_code != 0 and "holds a gan model" in res.output
