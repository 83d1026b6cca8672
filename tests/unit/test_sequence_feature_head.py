"""The tabular feature head of the next-condition model: shapes, preprocessing, safe artifacts, determinism,
and the chronic / acute split of the risk AUROC."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from models.sequence.api import load_sequence_model, predict_sequence, ranking_metrics, train_sequence
from models.sequence.data import disorder_group
from models.sequence.model import FeatureHead, RetainNet, SequenceConfig

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[2] / "ingest" / "data" / "synthea-sample"
TINY = {"epochs": 2, "dim": 8, "hidden": 8, "feat_hidden": 4, "threads": 1, "val_fraction": 0.3, "cuts": 2}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 20-patient sample plus observations and encounters (BMI rising with age, smoking for some)."""
    d = tmp_path_factory.mktemp("export")
    for f in SAMPLE.glob("*.csv"):
        shutil.copy(f, d / f.name)
    pats = [line.split(",") for line in (SAMPLE / "patients.csv").read_text(encoding="utf-8").splitlines()[1:]]
    obs, enc = [], []
    for i, p in enumerate(pats):
        pid, birth = p[0], int(p[1])
        for year in (2016, 2019, 2022):
            bmi = 18 + (year - birth) * 0.2 + (i % 3)
            obs.append(f"{year}-03-01T10:00:00Z,{pid},e{i}-{year},vital-signs,39156-5,Body mass index,{bmi:.1f},kg/m2,numeric")
            smoke = "Former smoker (finding)" if i % 4 == 0 else "Never smoked tobacco (finding)"
            obs.append(f"{year}-03-01T10:00:00Z,{pid},e{i}-{year},survey,72166-2,Tobacco smoking status,{smoke},,text")
            enc.append(f"e{i}-{year},{year}-03-01T10:00:00Z,,{pid},wellness,162673000,General examination of patient")
    (d / "observations.csv").write_text("DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"
                                        + "\n".join(obs) + "\n", encoding="utf-8")
    (d / "encounters.csv").write_text("Id,START,STOP,PATIENT,ENCOUNTERCLASS,CODE,DESCRIPTION\n" + "\n".join(enc) + "\n",
                                      encoding="utf-8")
    return d


def test_feature_head_fills_missing_values_and_gives_one_logit_per_disorder() -> None:
    x = np.array([[1.0, np.nan, 5.0], [3.0, 2.0, 5.0], [np.nan, 4.0, 5.0]], np.float32)
    head = FeatureHead(3, 7, hidden=4, dropout=0.0)
    head.fit_stats(x)
    assert head.fill.tolist() == [2.0, 3.0, 5.0]                       # medians of the measured values
    assert head.has_missing.tolist() == [True, True, False]
    assert head.scale[2].item() == 1.0                                 # constant column: no division by 0
    u = head.inputs(torch.from_numpy(x))
    assert u.shape == (3, 6) and torch.isfinite(u).all()
    assert u[0, 1].item() == pytest.approx(0.0)                        # filled with the mean-centred median
    assert u[:, 3:].tolist() == [[0, 1, 0], [0, 0, 0], [1, 0, 0]]      # missing indicators, only where possible
    assert head(torch.from_numpy(x)).shape == (3, 7)
    with pytest.raises(ValueError, match="no training samples"):
        head.fit_stats(np.zeros((0, 3), np.float32))


def test_net_requires_exactly_its_features() -> None:
    cfg = SequenceConfig(dim=8, hidden=8, feat_hidden=4, dropout=0.0)
    net = RetainNet(10, 5, cfg, n_features=3).eval()
    n, V, K = 2, 4, 3
    codes = torch.randint(2, 10, (n, V, K))
    times, mask = torch.rand(n, V, 2), torch.ones(n, V, dtype=torch.bool)
    hist, static = torch.arange(2, 8).repeat(n, 1), torch.rand(n, 25)
    with torch.no_grad():
        net.feat.lin.weight.normal_()                                    # type: ignore[union-attr]
        z = net(codes, times, mask, hist, static, torch.rand(n, 3))
        z2 = net(codes, times, mask, hist, static, torch.rand(n, 3) + 5)
    assert z.shape == (n, 5) and not torch.allclose(z, z2)               # the features move the logits
    with pytest.raises(ValueError, match="needs 3 tabular features"):
        net(codes, times, mask, hist, static)
    with pytest.raises(ValueError, match="needs 3 tabular features"):
        net(codes, times, mask, hist, static, torch.rand(n, 2))


def _no_pickle_load(d: Path) -> None:
    """Every artifact file loads with pickle refused (weights: ``weights_only``; npz: ``allow_pickle=False``)."""
    state = torch.load(d / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    with np.load(d / "baselines.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    for f in ("model.json", "vocab.json", "features.json", "metrics.json"):
        json.loads((d / f).read_text(encoding="utf-8"))


def test_artifact_round_trip_keeps_the_feature_head(export: Path, tmp_path: Path) -> None:
    model = train_sequence(export, tmp_path / "m", SequenceConfig(**TINY),
                           cohort={"seed": 1, "state": "Massachusetts", "patients": 20})
    d = tmp_path / "m"
    _no_pickle_load(d)
    spec = json.loads((d / "features.json").read_text(encoding="utf-8"))
    assert "39156-5" in spec["obs_numeric"] and "72166-2" in spec["obs_text"]
    manifest = json.loads((d / "model.json").read_text(encoding="utf-8"))
    assert "features.json" in manifest["files"] and "tabular risk-factor head" in manifest["model"]["architecture"]
    assert manifest["data"]["n_features"] == len(model.spec.names)     # type: ignore[union-attr]
    state = torch.load(d / "weights.pt", weights_only=True)
    assert state["feat.mean"].shape == (len(model.spec.names),)        # type: ignore[union-attr]
    assert not torch.all(state["feat.scale"] == 1)                     # the statistics are saved, not defaults
    loaded = load_sequence_model(d)
    assert loaded.spec is not None and loaded.spec.names == model.spec.names  # type: ignore[union-attr]
    rows, tables = predict_sequence(loaded, export, "2023-06-01")
    rows2, _ = predict_sequence(model, tables, "2023-06-01")
    assert rows == rows2
    s = loaded.samples(tables, np.datetime64("2023-06-01"))
    assert s.features is not None and s.features.shape == (len(s), len(loaded.spec.names))
    assert set(rows[0]["predictions"][0]) == {"code", "name", "probability", "disease_id", "because"}
    card = (d / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "chronic AUROC" in card and "for research only" in card.lower()
    # without the head: no features.json, and the loader builds a net without one
    train_sequence(export, tmp_path / "plain", SequenceConfig(**TINY, features=False))
    assert not (tmp_path / "plain" / "features.json").exists()
    plain = load_sequence_model(tmp_path / "plain")
    assert plain.net.feat is None and plain.spec is None and not plain.cfg.features
    assert plain.samples(tables, np.datetime64("2023-06-01")).features is None


def test_training_is_deterministic(export: Path, tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        train_sequence(export, tmp_path / name, SequenceConfig(**TINY, seed=3))
        digests.append(hashlib.sha256((tmp_path / name / "weights.pt").read_bytes()).hexdigest())
    state_a = torch.load(tmp_path / "a" / "weights.pt", weights_only=True)
    state_b = torch.load(tmp_path / "b" / "weights.pt", weights_only=True)
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    train_sequence(export, tmp_path / "c", SequenceConfig(**TINY, seed=4))
    state_c = torch.load(tmp_path / "c" / "weights.pt", weights_only=True)
    assert not torch.equal(state_a["feat.hid.weight"], state_c["feat.hid.weight"])


def test_disorder_groups_and_grouped_macro_auroc() -> None:
    acute = ["Viral sinusitis (disorder)", "Acute bronchitis (disorder)", "Laceration - injury (disorder)",
             "Fracture of bone (disorder)", "Infection of tooth (disorder)", "Alveolitis of jaw (disorder)",
             "Streptococcal sore throat (disorder)", "Concussion injury of brain (disorder)"]
    chronic = ["Gingivitis (disorder)", "Essential hypertension (disorder)", "Anemia (disorder)",
               "Chronic kidney disease stage 2 (disorder)", "Chronic sinusitis (disorder)",
               "Chronic obstructive bronchitis (disorder)", "Microalbuminuria due to type 2 diabetes mellitus (disorder)"]
    assert [disorder_group(d) for d in acute] == ["acute"] * len(acute)
    assert [disorder_group(d) for d in chronic] == ["chronic"] * len(chronic)
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    n = 200
    labels = np.zeros((n, 3), bool)
    labels[:20, :] = True
    present = np.zeros_like(labels)
    scores = rng.random((n, 3))
    scores[:, 0] += labels[:, 0]                                       # disorder 0: perfectly ranked
    s = SimpleNamespace(labels=labels, present=present)
    m = ranking_metrics(scores, s, groups=["chronic", "acute", "acute"])  # type: ignore[arg-type]
    per = m["per_disorder_auroc"]
    assert per[0] == 1.0 and m["macro_auroc_chronic"] == 1.0 and m["auroc_disorders_chronic"] == 1
    assert m["macro_auroc_acute"] == pytest.approx((per[1] + per[2]) / 2) and m["auroc_disorders_acute"] == 2
    assert m["macro_auroc"] == pytest.approx(np.mean(list(per.values())))


def test_head_restricted_to_chronic_disorders(export: Path, tmp_path: Path) -> None:
    head = FeatureHead(2, 3, hidden=4, dropout=0.0)
    with torch.no_grad():
        head.lin.weight.normal_()
        head.out.weight.normal_()
        head.targets.copy_(torch.tensor([1.0, 0.0, 1.0]))
    y = head(torch.rand(5, 2))
    assert torch.all(y[:, 1] == 0) and torch.all(y[:, 0] != 0)
    model = train_sequence(export, tmp_path / "m", SequenceConfig(**TINY, feat_targets="chronic"))
    want = [float(disorder_group(n) == "chronic") for n in model.vocab.target_names]
    assert 0 < sum(want) < len(want)
    loaded = load_sequence_model(tmp_path / "m")
    assert loaded.net.feat is not None and loaded.net.feat.targets.tolist() == want
    with pytest.raises(Exception, match="feat_targets"):
        train_sequence(export, tmp_path / "bad", SequenceConfig(**TINY, feat_targets="some"))


def test_bootstrap_difference_brackets_a_clear_gain_and_a_tie() -> None:
    from types import SimpleNamespace

    from models.sequence.api import bootstrap_auroc_difference

    rng = np.random.default_rng(1)
    n = 400
    labels = rng.random((n, 2)) < 0.1
    s = SimpleNamespace(labels=labels, present=np.zeros_like(labels))
    noise = rng.random((n, 2))
    good = noise + 2.0 * labels                                         # separates both disorders
    out = bootstrap_auroc_difference(good, noise, s, ["chronic", "acute"], n_boot=50)  # type: ignore[arg-type]
    assert out["all"]["difference"] > 0.3 and out["all"]["low"] > 0.2    # type: ignore[operator]
    assert out["chronic"]["low"] <= out["chronic"]["difference"] <= out["chronic"]["high"]  # type: ignore[operator]
    tie = bootstrap_auroc_difference(noise, noise, s, ["chronic", "acute"], n_boot=20)  # type: ignore[arg-type]
    assert tie["all"] == {"difference": 0.0, "low": 0.0, "high": 0.0}
