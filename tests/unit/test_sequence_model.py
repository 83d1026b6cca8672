"""Next-condition sequence model: samples, exact attention contributions, metrics, baselines, calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from graph_engine.synthea import Pseudonymizer, read_synthea
from models.sequence.api import (fit_platt, load_sequence_model, predict_sequence, ranking_metrics, sigmoid,
                                 train_sequence)
from models.sequence.baselines import Baselines
from models.sequence.data import build_samples, build_vocab, disorder_onsets, events
from models.sequence.model import RetainNet, SequenceConfig

SAMPLE = Path(__file__).resolve().parents[2] / "ingest" / "data" / "synthea-sample"


@pytest.fixture(scope="module")
def tables():
    return read_synthea(SAMPLE, Pseudonymizer(b"k" * 32))


def test_samples_use_only_the_past_and_targets_are_first_onsets(tables):
    vocab = build_vocab(tables, 1)
    cut = np.datetime64("2022-01-01")
    s = build_samples(tables, cut, vocab)
    ev = events(tables)
    on = disorder_onsets(tables)
    for i, pid in enumerate(s.pids):
        past = set(ev[(ev.pid == pid) & (ev.date < np.datetime64(cut, "ns"))].token)
        got = {vocab.tokens[t] for t in s.hist[i] if t > 1}
        assert got == {t for t in past if t in vocab.token_index}
        mine = on[on.pid == pid]
        firsts = dict(zip(mine.code, mine["first"].to_numpy().astype("datetime64[D]")))
        for d, code in enumerate(vocab.targets):
            f = firsts.get(code)
            assert s.present[i, d] == (f is not None and f < cut)
            assert s.labels[i, d] == (f is not None and cut <= f < cut + np.timedelta64(365, "D"))
    # visits are right-aligned and time features increase towards the past
    assert s.visit_mask[:, -1].all()
    n_vis = s.visit_mask.sum(1)
    i = int(np.argmax(n_vis))
    back = s.times[i, s.visit_mask[i], 1]
    assert np.all(np.diff(back) <= 1e-6)


def _random_net(tables, seed: int, cut: str):
    """An untrained net with a random bag (padding row zero, as in training) and the samples at ``cut``."""
    torch.manual_seed(seed)
    vocab = build_vocab(tables, 1)
    s = build_samples(tables, np.datetime64(cut), vocab)
    cfg = SequenceConfig(dim=16, hidden=8, dropout=0.0)
    net = RetainNet(len(vocab.tokens), len(vocab.targets), cfg).eval()
    with torch.no_grad():
        net.bag.weight.normal_(0, 0.3)
        net.bag.weight[0].zero_()
    return vocab, s, cfg, net


def test_contributions_decompose_the_logit_exactly(tables):
    vocab, s, cfg, net = _random_net(tables, 0, "2022-01-01")
    with torch.no_grad():
        net.time.weight.zero_()
        net.time.bias.zero_()
        net.static.weight.zero_()
    x = (torch.from_numpy(s.codes).long(), torch.from_numpy(s.times), torch.from_numpy(s.visit_mask),
         torch.from_numpy(s.hist).long(), torch.from_numpy(s.static))
    with torch.no_grad():
        z = net(*x)
    d = len(vocab.targets)
    targets = torch.arange(d).repeat(len(s), 1)
    c = net.contributions(x[0], x[1], x[2], x[3], torch.from_numpy(s.hist_pos), targets)
    total = torch.where(torch.isinf(c), torch.zeros_like(c), c).sum(1) + net.out.bias
    assert torch.allclose(total, z, atol=1e-4)


def test_ranking_metrics_against_hand_counts():
    from types import SimpleNamespace

    labels = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0]], bool)
    present = np.array([[0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]], bool)
    scores = np.array([[0.9, 0.8, 0.99, 0.1], [0.5, 0.4, 0.3, 0.2], [0.99, 0.2, 0.5, 0.1]])
    s = SimpleNamespace(labels=labels, present=present)
    m = ranking_metrics(scores, s, k=2)  # type: ignore[arg-type]
    # patient 0: top-2 among non-present = [0, 1] -> 1 of 2 onsets; patient 2: top-2 = [2, 1] -> 1 of 1
    assert m["recall@10"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["auroc_disorders"] == 0  # no disorder has 5 onsets


def test_baselines_match_counts(tables):
    vocab = build_vocab(tables, 1)
    s = build_samples(tables, np.datetime64("2021-01-01"), vocab)
    b = Baselines.fit(s, len(vocab.tokens))
    d = int(np.argmax(s.labels.sum(0)))
    elig = ~s.present[:, d]
    assert b.population[d] == pytest.approx((s.labels[elig, d].sum() + 1) / (elig.sum() + 2), rel=1e-5)
    sc = b.scores(s)
    assert sc["population"].shape == s.labels.shape and np.all(sc["markov"] > 0)


def test_platt_scaling_fixes_a_shifted_model():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (4000, 3))
    y = rng.random(z.shape) < sigmoid(0.5 * z - 1.0)
    m = np.ones_like(y, bool)
    a, b = fit_platt(z, y, m)
    assert a == pytest.approx(0.5, abs=0.1) and b == pytest.approx(-1.0, abs=0.15)


def test_train_save_load_predict_roundtrip(tmp_path):
    out = tmp_path / "m"
    cfg = SequenceConfig(epochs=2, dim=8, hidden=8, threads=1, val_fraction=0.3, cuts=2)
    model = train_sequence(SAMPLE, out, cfg, cohort={"seed": 1, "state": "Massachusetts", "patients": 20})
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "trained on synthetic data, for research only" in card.lower() and "seed 1" in card
    manifest = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "sequence" and manifest["data"]["files_sha256"]
    assert "sample-0001" not in (out / "vocab.json").read_text(encoding="utf-8")
    loaded = load_sequence_model(out)
    rows, _ = predict_sequence(loaded, SAMPLE, "2023-06-01")
    rows2, _ = predict_sequence(model, SAMPLE, "2023-06-01")
    assert [r["predictions"][0]["probability"] for r in rows] == [r["predictions"][0]["probability"] for r in rows2]
    r = rows[0]
    assert r["id"].startswith("sample-") and r["as_of"] == "2023-06-01"
    probs = [p["probability"] for p in r["predictions"]]
    assert probs == sorted(probs, reverse=True) and all(0 < p < 1 for p in probs)
    assert set(r["predictions"][0]) == {"code", "name", "probability", "disease_id", "because"}
    assert all(b.startswith(("SNOMEDCT:", "RXNORM:")) for p in r["predictions"] for b in p["because"])


def test_batched_because_matches_a_brute_force_decomposition(tables):
    """predict_top: one pass gives the probabilities, the top disorders (present ones last) and the because
    codes, equal to the per-visit, per-code contributions summed by hand."""
    from models.sequence.api import SequenceModel

    vocab, s, cfg, net = _random_net(tables, 1, "2022-06-01")
    model = SequenceModel(net, vocab, cfg, (0.7, -1.0), Baselines.fit(s, len(vocab.tokens)), {})
    m = 7
    p, order, because = model.predict_top(s, top=m, explain=3, batch=4)  # several batches
    x = (torch.from_numpy(s.codes).long(), torch.from_numpy(s.times), torch.from_numpy(s.visit_mask),
         torch.from_numpy(s.hist).long(), torch.from_numpy(s.static))
    with torch.no_grad():
        z = net(*x).numpy()
        alpha, beta, _ = net.attention(x[0], x[1], x[2])
    assert np.allclose(p, sigmoid(0.7 * z - 1.0), atol=1e-6)
    emb, w, bag = net.emb.weight.detach().numpy(), net.out.weight.detach().numpy(), net.bag.weight.detach().numpy()
    al, be = alpha.numpy(), beta.numpy()
    checked = 0
    for i in range(len(s)):
        sc = np.where(s.present[i], -np.inf, z[i])
        n_new = int((~s.present[i]).sum())
        assert list(order[i, :min(m, n_new)]) == list(np.argsort(-sc, kind="stable")[:min(m, n_new)])
        for j, d in enumerate(order[i]):
            contrib: dict[int, float] = {}
            for tok in set(s.hist[i].tolist()) - {0, 1}:
                contrib[tok] = float(bag[tok, d])
            for t in range(s.codes.shape[1]):
                for k in range(s.codes.shape[2]):
                    tok = int(s.codes[i, t, k])
                    if tok > 1:
                        contrib[tok] += float(al[i, t] * (w[d] @ (be[i, t] * emb[tok])))
            best = [tok for tok, v in sorted(contrib.items(), key=lambda kv: -kv[1]) if v > 0][:3]
            assert [int(b) for b in because[i, j] if b] == best
            checked += len(best)
    assert checked > 0
    # rows: same codes as strings, present disorders never listed
    from models.sequence.api import prediction_rows

    rows = prediction_rows(model, s, tables, top=m)
    r0 = rows[0]["predictions"]
    assert all(not s.present[0, vocab.target_index[q["code"]]] for q in r0)
    assert [q["because"] for q in r0] == [[model._token_codes()[b] for b in because[0, j] if b] for j in range(len(r0))]


def test_acute_disorders_blend_with_the_age_sex_rate(tables):
    """acute_agesex_weight: acute columns become sigmoid((1 - w) logit p + w logit rate), chronic ones never
    change; at w = 1 an acute disorder ranks exactly as the age band x sex table and has no "because"."""
    from models.sequence.api import SequenceModel, target_groups

    vocab, s, cfg, net = _random_net(tables, 2, "2022-06-01")
    base = Baselines.fit(s, len(vocab.tokens))
    vocab.target_names[0] = "Acute viral pharyngitis (disorder)"   # make sure both groups exist
    vocab.target_names[1] = "Essential hypertension (disorder)"
    model = SequenceModel(net, vocab, cfg, (0.7, -1.0), base, {})
    acute = np.asarray([g == "acute" for g in target_groups(vocab)])
    assert acute.any() and (~acute).any() and (model.acute_mask() == acute).all()
    p0 = model.probabilities(s)
    from models.sequence.data import age_band

    rate = base.age_sex[age_band(s.age), (s.sex == "M").astype(int)]
    logit = lambda q: np.log(q / (1 - q))  # noqa: E731
    for w in (0.5, 1.0):
        model.cfg.acute_agesex_weight = w
        p = model.probabilities(s)
        assert np.allclose(p[:, ~acute], p0[:, ~acute])
        want = sigmoid((1 - w) * logit(np.clip(p0[:, acute], 1e-7, 1 - 1e-7)) + w * logit(np.clip(rate[:, acute], 1e-7, 1 - 1e-7)))
        assert np.allclose(p[:, acute], want, atol=1e-9)
        pt, order, because = model.predict_top(s, top=len(vocab.targets), explain=3, batch=4)
        assert np.allclose(pt, p)
        for i in range(len(s)):
            sc = np.where(s.present[i], -np.inf, p[i])
            n_new = int((~s.present[i]).sum())
            assert sorted(sc[order[i, :n_new]], reverse=True) == list(sc[order[i, :n_new]])
        if w == 1.0:
            assert not because[acute[order]].any()
            assert because[~acute[order]].any()
    model.cfg.acute_agesex_weight = 0.0
    assert np.array_equal(model.probabilities(s), p0)


def test_acute_weight_choice_and_record(tmp_path):
    """benchmarks.sequence_acute: the rule (best macro AUROC among weights keeping recall@10 >= population + 0.05)
    and its record in the artifact (loaded back as the config; the version says so; re-recording 0 restores it)."""
    from benchmarks.sequence_acute import choose, record

    def row(r, m):
        return {"recall@10": r, "macro_auroc": m, "macro_auroc_chronic": m, "macro_auroc_acute": m,
                "minus_age_sex": {"all": {"difference": 0.0, "low": 0.0, "high": 0.0}}}
    table = {"data": "v", "data_sha256": {}, "as_of": "2025-01-01", "patients": 3,
             "baselines": {"population": row(0.70, 0.5), "age_sex": row(0.74, 0.6), "markov": row(0.7, 0.55)},
             "weights": {"0.0": row(0.80, 0.66), "0.5": row(0.79, 0.69), "1.0": row(0.74, 0.71)}}
    assert choose(table) == 0.5                     # 1.0 is better but loses recall@10 below 0.75
    table["weights"]["1.0"]["recall@10"] = 0.76
    assert choose(table) == 1.0
    table["weights"]["0.5"]["macro_auroc"] = 0.71
    assert choose(table) == 0.5                     # a tie: the smaller weight
    out = tmp_path / "m"
    train_sequence(SAMPLE, out, SequenceConfig(epochs=1, dim=8, hidden=8, threads=1, val_fraction=0.3, cuts=2),
                   cohort={"seed": 1, "state": "Massachusetts", "patients": 20})
    base = json.loads((out / "model.json").read_text(encoding="utf-8"))["model_version"]
    record(out, 0.5, table)
    loaded = load_sequence_model(out)
    assert loaded.cfg.acute_agesex_weight == 0.5 and loaded.model_version == f"{base}-acute0.5"
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"{base}-acute0.5" in card and card.count("## Acute disorders") == 1
    record(out, 0.0, table)
    loaded = load_sequence_model(out)
    assert loaded.cfg.acute_agesex_weight == 0.0 and loaded.model_version == base
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card.count("## Acute disorders") == 1 and card.splitlines()[0].endswith(f" {base}")
