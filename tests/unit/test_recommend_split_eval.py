"""Leakage-safe splits and the evaluation loop."""

from __future__ import annotations

import numpy as np
import pytest

from graph_engine.errors import RecommendError
from graph_engine.export import EdgeList, tables_from_edges
from recommend.data import IndicationData
from recommend.evaluate import evaluate, evaluate_split, ranking_metrics, summarize, to_markdown
from recommend.split import disease_folds, disease_split, indication_pairs, random_edge_split, remove_pairs
from recommend.toy import toy_graph

pytestmark = pytest.mark.unit


def _with_twins_and_duplicates():
    """Toy graph plus PALLIATES twins of TREATS pairs, duplicated edges and Disease->Drug storage."""
    t = toy_graph()
    tr = t.edges[("Drug", "TREATS", "Disease")]
    pa = t.edges[("Drug", "PALLIATES", "Disease")]
    # twin every third TREATS pair as PALLIATES, duplicate a few TREATS edges
    t.edges[("Drug", "PALLIATES", "Disease")] = EdgeList(np.concatenate([pa.src, tr.src[::3]]),
                                                         np.concatenate([pa.dst, tr.dst[::3]]))
    t.edges[("Drug", "TREATS", "Disease")] = EdgeList(np.concatenate([tr.src, tr.src[:4]]),
                                                      np.concatenate([tr.dst, tr.dst[:4]]))
    # the same relation also stored the other way round for a few pairs
    t.edges[("Disease", "TREATS", "Drug")] = EdgeList(tr.dst[1:6:2], tr.src[1:6:2])
    return t


def _train_pairs(tables):
    d = IndicationData.from_tables(tables)
    r, c = d.indications.nonzero()
    return set(zip(r.tolist(), c.tolist()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_edge_split_holds_out_twins_and_duplicates(seed):
    t = _with_twins_and_duplicates()
    all_pairs = set(map(tuple, indication_pairs(t).tolist()))
    s = random_edge_split(t, test_frac=0.3, seed=seed)
    test = set(map(tuple, s.test_pairs.tolist()))
    train = _train_pairs(s.train)
    assert test and not (test & train), "a held-out pair (or its PALLIATES twin / duplicate) leaked"
    assert test | train == all_pairs
    assert set(map(tuple, s.train_pairs.tolist())) == train
    # every indication edge list of the training graph is free of test pairs, in both storages
    for key in [("Drug", "TREATS", "Disease"), ("Drug", "PALLIATES", "Disease"), ("Disease", "TREATS", "Drug")]:
        e = s.train.edges[key]
        pairs = zip(e.dst.tolist(), e.src.tolist()) if key[0] == "Drug" else zip(e.src.tolist(), e.dst.tolist())
        pairs = list(pairs)
        assert not (set(pairs) & test)
        assert len(pairs) == len(set(pairs)), "duplicates must be removed"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_disease_split_removes_all_treatments_of_test_diseases(seed):
    t = _with_twins_and_duplicates()
    s = disease_split(t, test_frac=0.25, seed=seed)
    d = IndicationData.from_tables(s.train)
    assert len(s.test_diseases) >= 1
    assert d.indications[s.test_diseases].nnz == 0
    assert set(s.test_pairs[:, 0].tolist()) == set(s.test_diseases.tolist())
    # other relations of the test diseases stay (genes, symptoms): zero-shot, not amputated
    assert len(s.train.edges[("Disease", "ASSOCIATES", "Gene")]) == len(t.edges[("Disease", "ASSOCIATES", "Gene")])


@pytest.mark.parametrize("k", [2, 3])
def test_disease_folds_are_disjoint_cover_every_disease_and_leak_nothing(k):
    t = _with_twins_and_duplicates()
    pairs = indication_pairs(t)
    folds = disease_folds(t, k=k, seed=4)
    assert len(folds) == k
    held = [set(f.test_diseases.tolist()) for f in folds]
    assert set().union(*held) == set(np.unique(pairs[:, 0]).tolist())
    assert sum(len(h) for h in held) == len(set().union(*held)), "a disease was held out in two folds"
    for f in folds:
        assert IndicationData.from_tables(f.train).indications[f.test_diseases].nnz == 0
        test = set(map(tuple, f.test_pairs.tolist()))
        assert test == {p for p in map(tuple, pairs.tolist()) if p[0] in set(f.test_diseases.tolist())}
        assert not (test & _train_pairs(f.train))
    again = disease_folds(t, k=k, seed=4)
    assert [a.test_diseases.tolist() for a in again] == [f.test_diseases.tolist() for f in folds]
    with pytest.raises(RecommendError, match="too few"):
        disease_folds(t, k=len(np.unique(pairs[:, 0])) + 1)


def test_splits_are_seeded():
    t = toy_graph()
    a, b = random_edge_split(t, 0.2, seed=5), random_edge_split(t, 0.2, seed=5)
    np.testing.assert_array_equal(a.test_pairs, b.test_pairs)
    assert not np.array_equal(random_edge_split(t, 0.2, seed=6).test_pairs, a.test_pairs)


def test_remove_pairs_keeps_node_tables():
    t = toy_graph()
    out = remove_pairs(t, indication_pairs(t)[:3])
    assert out.nodes is t.nodes
    assert len(indication_pairs(out)) == len(indication_pairs(t)) - 3


def test_split_refuses_a_graph_without_indications():
    t = tables_from_edges({"Disease": ["DOID:1"], "Drug": ["DRUGBANK:DB1"]}, {})
    with pytest.raises(RecommendError, match="too few"):
        random_edge_split(t)


def test_ranking_metrics_perfect_and_reversed():
    scores = np.array([[3.0, 2.0, 1.0, 0.0]])
    pos = np.array([[True, False, False, False]])
    cand = np.ones_like(pos)
    m = ranking_metrics(scores, pos, cand)
    assert m["auroc"] == 1.0 and m["mrr"] == 1.0 and m["hits@10"] == 1.0
    m = ranking_metrics(-scores, pos, cand)
    assert m["auroc"] == 0.0 and m["mrr"] == pytest.approx(0.25)


def test_evaluate_detects_leaks():
    t = toy_graph()
    s = random_edge_split(t, 0.2, seed=0)
    s.train = t  # simulate a broken split: test pairs still in training
    with pytest.raises(RecommendError, match="leak"):
        evaluate_split(s, "popularity")


def test_evaluate_table_has_every_method_and_split():
    t = toy_graph()
    rows = evaluate(t, methods=["random", "popularity", "cf", "content", "gnn"], seeds=[0, 1, 2], test_frac=0.25)
    summary = summarize(rows)
    assert {(e["split"], e["method"]) for e in summary} == {
        (s, m) for s in ("random-edge", "held-out-disease") for m in ("random", "popularity", "cf", "content", "gnn")}
    gnn = [e for e in summary if e["method"] == "gnn"]
    assert all(e["status"].startswith("skipped") for e in gnn)
    by = {(e["split"], e["method"]): e for e in summary}
    assert by[("held-out-disease", "content")]["auroc"][0] > by[("held-out-disease", "random")]["auroc"][0]
    assert by[("random-edge", "cf")]["seeds"] == 3
    md = to_markdown(summary)
    assert md.count("\n") == len(summary) + 1 and "skipped" in md


def test_hybrid_cold_blend_learns_from_disjoint_disease_folds():
    from recommend.hybrid import HybridRecommender

    t = toy_graph()
    diseases = set(np.unique(indication_pairs(t)[:, 0]).tolist())
    folds = HybridRecommender(cold_folds=2, seed=3)._inner_splits("cold", t)
    assert len(folds) == 2
    held = [set(f.test_diseases.tolist()) for f in folds]
    assert held[0] | held[1] == diseases and not (held[0] & held[1])
    # more folds than diseases with indications: one held-out-disease split instead
    fallback = HybridRecommender(cold_folds=len(diseases) + 1, seed=3)._inner_splits("cold", t)
    assert len(fallback) == 1 and 0 < len(fallback[0].test_diseases) < len(diseases)
    warm = HybridRecommender(val_rounds=3, seed=3)._inner_splits("warm", t)
    assert len(warm) == 3 and all(w.kind == "random-edge" for w in warm)


def test_hybrid_trains_gnn_embeddings_on_each_inner_graph_without_its_held_out_pairs(monkeypatch, tmp_path):
    """embeddings="train": one GraphSAGE run per graph the signals are fitted on (each warm round, each
    cold fold, the final fit), each on a graph that lacks that round's validation pairs."""
    import graph_engine.embeddings as emb
    from recommend import load_recommender
    from recommend.hybrid import HybridRecommender

    t = toy_graph()
    seen, configs = [], []
    real = emb.train_embeddings

    def recording(tables, config=None, progress=None):
        seen.append(_train_pairs(tables))
        configs.append(dict(config))
        return real(tables, config, progress)

    monkeypatch.setattr(emb, "train_embeddings", recording)
    cfg = {"dim": 8, "epochs": 1, "num_neighbors": [3, 2], "batch_size": 256, "device": "cpu"}
    hyb = HybridRecommender(val_rounds=1, cold_folds=2, embeddings="train", embedding_config=cfg, seed=4).fit(t)
    inner = hyb._inner_splits("warm", t) + hyb._inner_splits("cold", t)
    assert len(seen) == len(inner) + 1  # every inner graph, then the whole training graph
    for pairs, split in zip(seen, inner):
        held = set(map(tuple, split.test_pairs.tolist()))
        assert held and not (pairs & held), "a validation pair reached the embeddings the blend learns from"
        assert pairs == _train_pairs(split.train)
    assert seen[-1] == _train_pairs(t)
    assert all(c["dim"] == 8 and c["seed"] == 4 for c in configs)
    assert "gnn" in hyb.signals_.names and hyb.params()["embedding_config"]["dim"] == 8
    hyb.save(tmp_path / "h")
    back = load_recommender(tmp_path / "h")
    rows = np.arange(len(t.nodes["Disease"]))
    np.testing.assert_allclose(back._score_rows(rows), hyb._score_rows(rows), rtol=1e-5, atol=1e-5)


def test_paired_differences_pair_by_seed_and_skip_failed_rows():
    from recommend.evaluate import EvalRow, paired_differences

    def row(seed, auroc, status="ok", split="held-out-disease"):
        return EvalRow("hybrid", split, seed, {"auroc": auroc, "mrr": auroc / 10}, status=status)

    base = [row(1, 0.80), row(2, 0.90), row(3, 0.70), row(4, 0.85), row(5, 0.6)]
    deltas = {1: 0.01, 2: 0.02, 3: -0.01, 4: 0.02}
    variant = [row(s, b.metrics["auroc"] + deltas[s]) for s, b in zip([3, 1, 4, 2], [base[2], base[0], base[3], base[1]])]
    variant.append(row(5, 0.0, status="skipped: no embeddings"))
    (e,) = paired_differences({"base": base, "new": variant}, "base", metrics=["auroc", "mrr"])
    d = np.array(list(deltas.values()))
    assert e["variant"] == "new" and e["seeds"] == 4
    assert e["auroc_diff"] == pytest.approx(d.mean()) and e["auroc_wins"] == 3
    assert e["auroc_se"] == pytest.approx(d.std(ddof=1) / 2)
    assert e["auroc"] == pytest.approx(np.mean([0.81, 0.92, 0.69, 0.87]))
    assert e["mrr_diff"] == pytest.approx(d.mean() / 10)
    (same,) = paired_differences({"base": base, "copy": list(reversed(base))}, "base", metrics=["auroc"])
    assert same["auroc_diff"] == 0.0 and same["auroc_wins"] == 0 and same["seeds"] == 5
    with pytest.raises(RecommendError, match="base variant"):
        paired_differences({"new": variant}, "base")
    with pytest.raises(RecommendError, match="mix split kinds"):
        paired_differences({"base": base, "re": [row(1, 0.9, split="random-edge")]}, "base")


def test_default_hetionet_dir_env_then_beside_the_checkout(monkeypatch, tmp_path):
    from pathlib import Path

    import recommend
    from recommend.hetionet_tables import HETIONET_DIR_ENV, default_hetionet_dir
    monkeypatch.setenv(HETIONET_DIR_ENV, str(tmp_path / "het"))
    assert default_hetionet_dir() == tmp_path / "het"
    monkeypatch.setenv(HETIONET_DIR_ENV, "  ")  # blank counts as unset
    checkout = Path(recommend.__file__).resolve().parents[1]
    assert default_hetionet_dir() == checkout.parent / "shared" / "data" / "hetionet"
    monkeypatch.delenv(HETIONET_DIR_ENV)
    assert default_hetionet_dir() == checkout.parent / "shared" / "data" / "hetionet"


def test_evaluate_cli_names_a_missing_default_hetionet_dir(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from jobs.cli import main
    monkeypatch.setenv("MEDKG_HETIONET_DIR", str(tmp_path / "nowhere"))
    res = CliRunner().invoke(main, ["evaluate", "recommend", "--methods", "random", "--seeds", "0"])
    assert res.exit_code != 0
    assert str(tmp_path / "nowhere") in res.output and "no Hetionet edges file" in res.output
