"""Text classifier: tiny training, honest hold-out, round-trip, shipped default."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from graph_engine.errors import ModelError
from models import TextRecord, evaluate, load_model, predict, predict_records, train
from models.artifacts import default_artifact_dir

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[2] / "models" / "data"

VOCAB = {
    "Malaria": ["fever", "chills", "sweating", "shivering", "headache", "nausea"],
    "Acne": ["pimples", "blackheads", "pus", "skin", "rash", "face"],
    "Migraine": ["headache", "light", "vision", "throbbing", "nausea", "aura"],
}


def synthetic_notes(n_per: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for label, words in VOCAB.items():
        for _ in range(n_per):
            picked = rng.choice(words, size=4, replace=False)
            out.append((label, f"Lately I have {picked[0]} and {picked[1]}, also {picked[2]} with {picked[3]} {rng.integers(1000)}"))
    return out


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("txt")
    with open(d / "train.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "text"])
        w.writerows(synthetic_notes(20, seed=0))
    train("text", d / "train.csv", d / "model", {"cv_folds": 3, "holdout_fraction": 0.25})
    return d


def test_tiny_training_reaches_high_accuracy_on_unseen_notes(tiny_text: Path) -> None:
    model = load_model(tiny_text / "model", "text")
    fresh = [TextRecord(str(i), t, lb) for i, (lb, t) in enumerate(synthetic_notes(10, seed=7))]
    m = evaluate(model, fresh)
    assert m["accuracy"] >= 0.9
    metrics = json.loads((tiny_text / "model" / "metrics.json").read_text())
    assert "holdout" in metrics and "holdout_baseline_tfidf_logreg" in metrics
    assert (tiny_text / "model" / "holdout.csv").is_file()


def test_round_trip_gives_identical_probabilities(tiny_text: Path) -> None:
    notes = ["fever and chills at night", "blackheads on my face"]
    a = predict(load_model(tiny_text / "model"), notes)
    b = predict(load_model(tiny_text / "model"), notes)
    assert [p.probabilities for p in a] == [p.probabilities for p in b]
    assert a[0].label == "Malaria" and a[0].disease_id == "DOID:12365"
    assert abs(sum(a[1].probabilities.values()) - 1.0) < 1e-9


def test_empty_notes_and_unknown_labels(tiny_text: Path) -> None:
    model = load_model(tiny_text / "model")
    with pytest.raises(ModelError, match="record 'x'.*empty note"):
        predict(model, [TextRecord("x", "  ")])
    with pytest.raises(ModelError, match="one string"):
        predict(model, "fever")
    rep = predict_records(model, [TextRecord("a", "fever"), TextRecord("b", "")])
    assert rep.read == 2 and len(rep.predictions) == 1 and rep.skipped[0].reason == "empty note; expected non-empty free text"
    m = evaluate(model, [TextRecord("1", "fever and chills", "Malaria"), TextRecord("2", "cough", "Scurvy")])
    assert m["n"] == 1 and m["skipped"] == {"unknown label 'Scurvy'": 1} and m["read"] == 2


def test_training_refuses_labels_missing_from_label_map(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("label,text\nScurvy,bleeding gums\nScurvy,loose teeth\nMalaria,fever\nMalaria,chills\n")
    with pytest.raises(ModelError, match="\\['Scurvy'\\] are not in the label map"):
        train("text", p, tmp_path / "m")


def test_training_refuses_unlabelled_notes(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"id": "n1", "text": "fever"}) + "\n")
    with pytest.raises(ModelError, match="'n1' \\(line 1\\) has no label"):
        train("text", p, tmp_path / "m")


def test_shipped_text_model_on_shipped_samples() -> None:
    model = load_model(kind="text")
    assert model.path == default_artifact_dir("text")
    m = evaluate(model, SAMPLES / "sample_notes.jsonl")
    # the shipped weights were refit on every note, samples included: evaluate must say so
    assert m["n"] == 20 and m["in_training_data"] == 20 and m["accuracy"] >= 0.95
    split = model.manifest["data"]["split"]
    assert split["holdout_in_final_training"] and split["final_weights_fitted_on"] == model.manifest["data"]["n_used"]
    assert not (model.path / "holdout.csv").exists()


def test_refit_all_ships_weights_fitted_on_every_note(tiny_text: Path) -> None:
    d = tiny_text
    cfg = {"cv_folds": 3, "holdout_fraction": 0.25}
    art = train("text", d / "train.csv", d / "refit", {**cfg, "refit_all": True})
    held_out = load_model(d / "model")  # same data and split, refit_all off
    holdout = list(csv.DictReader(open(d / "model" / "holdout.csv", encoding="utf-8")))
    notes = [TextRecord(r["id"], r["text"], r["label"]) for r in holdout]
    # hold-out scored by the training-portion fit: identical metrics in both artifacts
    assert art.metrics["holdout"] == json.loads((d / "model" / "metrics.json").read_text())["holdout"]
    assert not (d / "refit" / "holdout.csv").exists()
    split = art.model.manifest["data"]["split"]
    assert split["holdout_in_final_training"] and split["final_weights_fitted_on"] == 60
    assert art.metrics["cross_validation"]["n"] == 60
    assert evaluate(art.model, notes)["in_training_data"] == len(notes)
    assert evaluate(held_out, notes)["in_training_data"] == 0
    # the refit weights differ from the training-portion weights
    assert art.model.coef.shape != held_out.coef.shape or not np.allclose(art.model.coef, held_out.coef)
    fresh = [TextRecord(str(i), t, lb) for i, (lb, t) in enumerate(synthetic_notes(5, seed=9))]
    m = evaluate(art.model, fresh)
    assert m["in_training_data"] == 0 and m["accuracy"] >= 0.9
    with pytest.raises(ModelError, match="refit_all must be true or false"):
        train("text", d / "train.csv", d / "bad", {**cfg, "refit_all": "yes"})


def test_wrong_kind_is_refused() -> None:
    with pytest.raises(ModelError, match="holds a text model, not a image model"):
        load_model(default_artifact_dir("text"), "image")


def test_caller_groups_decide_which_notes_stay_together() -> None:
    from models.text import TextConfig, note_fingerprint, train_text

    notes = synthetic_notes(12, seed=3)
    notes += notes[:12]  # every Malaria note twice: copies must not straddle the default split
    records = [TextRecord(str(i), t, lb) for i, (lb, t) in enumerate(notes)]
    labels = sorted(VOCAB)
    cfg = TextConfig(cv_folds=3, holdout_fraction=0.3, seed=1)

    def straddling(res) -> int:  # notes with a copy on each side of the split
        held = {r.id for r in res.holdout}
        assert held
        held_fp = {note_fingerprint(r.text) for r in records if r.id in held}
        return len(held_fp & {note_fingerprint(r.text) for r in records if r.id not in held})

    default = train_text(records, labels, cfg)
    assert straddling(default) == 0 and "near-identical" in default.split["method"]
    plain = [train_text(records, labels, TextConfig(cv_folds=3, holdout_fraction=0.3, seed=s),
                        groups=np.arange(len(records))) for s in range(4)]
    assert any(straddling(r) > 0 for r in plain)  # a random split does put copies on both sides
    assert all("caller-given groups" in r.split["method"] for r in plain)
    with pytest.raises(ModelError, match="one id per record"):
        train_text(records, labels, cfg, groups=np.arange(3))
