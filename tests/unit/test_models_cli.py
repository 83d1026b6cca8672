"""``medkg models`` commands on the shipped default models and samples."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from jobs.commands.models import register

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[2] / "models" / "data"


@pytest.fixture(scope="module")
def root() -> click.Group:
    @click.group()
    def main() -> None:
        pass

    @main.group("enrich")
    def enrich() -> None:
        pass

    register(main)
    return main


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_commands_registered(root: click.Group) -> None:
    # jobs.commands.gan adds "generate" to the same group when registered
    assert {"train", "predict", "evaluate"} <= set(root.commands["models"].commands)  # type: ignore[attr-defined]
    assert "diagnose" in root.commands["enrich"].commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind, sample", [("image", "sample_images.npz"), ("text", "sample_notes.jsonl")])
def test_predict_with_shipped_default_writes_valid_jsonl(root: click.Group, tmp_path: Path, kind: str, sample: str) -> None:
    out = tmp_path / "p.jsonl"
    res = CliRunner().invoke(root, ["models", "predict", "--kind", kind, "--input", str(SAMPLES / sample), "--output", str(out)])
    assert res.exit_code == 0, res.output
    rows = _lines(out)
    assert len(rows) == 20 and "read 20, predicted 20, skipped 0" in res.output
    for r in rows:
        assert {"id", "label", "probabilities"} <= set(r)
        assert abs(sum(r["probabilities"].values()) - 1.0) < 1e-6
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
    assert len({r["id"] for r in rows}) == 20


def test_predict_counts_skipped_records(root: click.Group, tmp_path: Path) -> None:
    imgs = np.zeros((4, 28, 28), np.float32)
    imgs[2, 5, 5] = np.inf
    np.savez(tmp_path / "in.npz", images=imgs, ids=np.array(["a", "b", "c", "d"]))
    out = tmp_path / "p.jsonl"
    res = CliRunner().invoke(root, ["models", "predict", "--kind", "image", "--input", str(tmp_path / "in.npz"), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "read 4, predicted 3, skipped 1" in res.output
    assert [r["id"] for r in _lines(out)] == ["a", "b", "d"]


def test_predict_csv_notes(root: click.Group, tmp_path: Path) -> None:
    (tmp_path / "n.csv").write_text('id,text\nc1,"fever, chills and sweating"\nc2,\n')
    out = tmp_path / "p.jsonl"
    res = CliRunner().invoke(root, ["models", "predict", "--kind", "text", "--input", str(tmp_path / "n.csv"), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "read 2, predicted 1, skipped 1" in res.output and [r["id"] for r in _lines(out)] == ["c1"]


def test_predict_failures_exit_non_zero_with_message(root: click.Group, tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 28, 28), np.int64))
    out = tmp_path / "p.jsonl"
    res = CliRunner().invoke(root, ["models", "predict", "--kind", "image", "--input", str(tmp_path / "bad.npz"), "--output", str(out)])
    assert res.exit_code == 1 and "dtype int64" in res.output and not out.exists()
    res = CliRunner().invoke(root, ["models", "predict", "--kind", "text", "--input", str(tmp_path / "bad.npz"), "--output", str(out)])
    assert res.exit_code == 1 and "expected a .csv or .jsonl" in res.output


def test_evaluate_prints_metrics(root: click.Group) -> None:
    from models.artifacts import default_artifact_dir

    res = CliRunner().invoke(root, ["models", "evaluate", "--model", str(default_artifact_dir("image")), "--data", str(SAMPLES / "sample_images.npz"), "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert m["n"] == 20 and 0.0 <= m["accuracy"] <= 1.0 and set(m["per_class"]) == {"normal", "pneumonia"}
    res = CliRunner().invoke(root, ["models", "evaluate", "--model", str(default_artifact_dir("text")), "--data", str(SAMPLES / "sample_notes.jsonl")])
    assert res.exit_code == 0 and "accuracy" in res.output and "ece" in res.output


def test_train_text_cli(root: click.Group, tmp_path: Path) -> None:
    import csv

    words = {"Malaria": ["fever", "chills", "sweating", "shivering", "nausea", "headache"],
             "Acne": ["pimples", "blackheads", "pus", "oily", "face", "spots"]}
    rng = np.random.default_rng(0)
    rows = [(lb, " ".join(rng.permutation(w)[:3]) + f" since {d} days") for lb, w in words.items() for d in range(8)]
    with open(tmp_path / "t.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "text"])
        w.writerows(rows)
    (tmp_path / "c.toml").write_text("[text]\ncv_folds = 2\nholdout_fraction = 0.25\n")
    res = CliRunner().invoke(root, ["models", "train", "--kind", "text", "--data", str(tmp_path / "t.csv"), "--output", str(tmp_path / "m"), "--config", str(tmp_path / "c.toml")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "model.json").is_file() and "holdout" in res.output
    assert (tmp_path / "m" / "holdout.csv").is_file() and "refit on all" not in res.output
    res = CliRunner().invoke(root, ["models", "train", "--kind", "text", "--data", str(tmp_path / "t.csv"), "--output", str(tmp_path / "m2"), "--config", str(tmp_path / "c.toml"), "--set", "refit_all=true", "--set", "C=2"])
    assert res.exit_code == 0, res.output
    assert "shipped weights refit on all 16 notes" in res.output and not (tmp_path / "m2" / "holdout.csv").exists()
    assert json.loads((tmp_path / "m2" / "model.json").read_text())["model"]["config"]["C"] == 2
    res = CliRunner().invoke(root, ["models", "evaluate", "--model", str(tmp_path / "m2"), "--data", str(tmp_path / "m" / "holdout.csv")])
    assert res.exit_code == 0 and "are in this model's training data" in res.output
    res = CliRunner().invoke(root, ["models", "train", "--kind", "text", "--data", str(tmp_path / "t.csv"), "--output", str(tmp_path / "m5"), "--set", "refit_all"])
    assert res.exit_code == 2 and "expected KEY=VALUE" in res.output
    res = CliRunner().invoke(root, ["models", "train", "--kind", "text", "--data", str(tmp_path / "t.csv"), "--output", str(tmp_path / "m5"), "--set", "nope=1"])
    assert res.exit_code == 1 and "unknown text config keys ['nope']" in res.output
    (tmp_path / "dup.csv").write_text("label,text\n" + "".join(f"{lb},same note {lb}\n" for lb in ["Malaria", "Acne"] * 4))
    res = CliRunner().invoke(root, ["models", "train", "--kind", "text", "--data", str(tmp_path / "dup.csv"), "--output", str(tmp_path / "m4"), "--config", str(tmp_path / "c.toml")])
    assert res.exit_code == 1 and "distinct (non-near-duplicate) notes" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[text]\nC = -1\n")
    res = CliRunner().invoke(root, ["models", "train", "--kind", "text", "--data", str(tmp_path / "t.csv"), "--output", str(tmp_path / "m3"), "--config", str(bad)])
    assert res.exit_code == 1 and "C must be > 0" in res.output
