"""Contract tests every recommender passes on the toy graph whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from graph_engine.errors import RecommendError
from recommend import available, get_recommender, load_recommender
from recommend.toy import block_of, toy_embeddings, toy_graph

pytestmark = pytest.mark.unit

METHODS = ["popularity", "random", "cf", "cf-svd", "content", "imc", "ppr", "metapath", "gnn", "hybrid", "structure", "content+structure"]
LEARNED = [m for m in METHODS if m not in ("popularity", "random")]
COLD_CAPABLE = ["content", "imc", "ppr", "gnn", "hybrid"]  # CF has nothing to say about a disease without drugs
PARAMS = {"cf-svd": {"rank": 3}, "imc": {"rank": 4, "c": 1.0}, "hybrid": {"val_rounds": 1}}


@pytest.fixture(scope="module")
def tables():
    return toy_graph()


@pytest.fixture(scope="module")
def fitted(tables):
    out = {}
    for m in METHODS:
        kw = dict(PARAMS.get(m, {}))
        if m == "gnn":
            kw["embeddings"] = toy_embeddings(tables)
        out[m] = get_recommender(m, seed=0, **kw).fit(tables)
    return out


def test_registry_lists_every_method():
    assert set(METHODS) <= set(available())
    with pytest.raises(RecommendError, match="unknown recommender"):
        get_recommender("nope")


@pytest.mark.parametrize("method", METHODS)
def test_shapes_order_and_batch(fitted, method):
    rec = fitted[method]
    ids, scores = rec.recommend(["DOID:A0", "DOID:B1"], k=5)
    assert ids.shape == (2, 5) and scores.shape == (2, 5)
    assert np.all(np.diff(scores, axis=1) <= 0), "scores must be sorted best first"
    assert set(ids.ravel()) <= set(map(str, rec.item_ids))
    one_ids, one_scores = rec.recommend("DOID:B1", k=5)
    np.testing.assert_array_equal(one_ids[0], ids[1])
    np.testing.assert_allclose(one_scores[0], scores[1], rtol=1e-5)
    all_ids, _ = rec.recommend(["DOID:A0"], k=None)
    assert all_ids.shape == (1, len(rec.item_ids))


@pytest.mark.parametrize("method", METHODS)
def test_errors(fitted, method):
    rec = fitted[method]
    with pytest.raises(RecommendError, match="unknown target"):
        rec.recommend(["DOID:NOPE"], k=3)
    with pytest.raises(RecommendError):
        rec.recommend(["DOID:A0"], k=0)
    with pytest.raises(RecommendError, match="not fitted"):
        get_recommender(method).recommend(["DOID:A0"])


#: ``structure`` ranks by the structural neighbours' indications; the toy graph's drugs have no
#: structures, so its known answer is tested on real DrugBank structures (test_side_effects_structure.py).
GRAPH_SIGNAL = [m for m in LEARNED if m != "structure"]


@pytest.mark.parametrize("method", GRAPH_SIGNAL)
def test_known_answer_block_recovery(fitted, method):
    """DBA07 is the block-A drug DOID:A0 lacks; the planted DBP01 binds A0's genes."""
    ids, _ = fitted[method].recommend(["DOID:A0"], k=2, exclude_known=True)
    top = set(ids[0])
    if method.startswith("cf"):
        assert "DRUGBANK:DBA07" in top  # CF sees co-treatment only
    else:
        assert top <= {"DRUGBANK:DBA07", "DRUGBANK:DBP01"}, top
    # every block-B disease gets block-B drugs first
    ids, _ = fitted[method].recommend(["DOID:B0", "DOID:B2"], k=3)
    assert all(block_of(i) == "B" for i in ids.ravel()), ids


@pytest.mark.parametrize("method", COLD_CAPABLE)
def test_cold_start_disease(fitted, method):
    """DOID:A9 has no known treatment but block-A genes/symptoms: block-A drugs must win."""
    rec = fitted[method]
    s = rec.score(["DOID:A9"])[0]
    blocks = np.array([block_of(str(i)) for i in rec.item_ids])
    a, b = s[blocks == "A"], s[blocks == "B"]
    auc = (a[:, None] > b[None, :]).mean() + 0.5 * (a[:, None] == b[None, :]).mean()
    assert auc >= 0.9, auc


@pytest.mark.parametrize("method", METHODS)
def test_save_load_round_trip(fitted, method, tmp_path):
    rec = fitted[method]
    path = rec.save(tmp_path / method)
    back = load_recommender(path)
    assert type(back) is type(rec)
    targets = ["DOID:A0", "DOID:A9", "DOID:B3"]
    np.testing.assert_array_equal(back.score(targets), rec.score(targets))
    i1, s1 = rec.recommend(targets, k=4)
    i2, s2 = back.recommend(targets, k=4)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(s1, s2)
    assert back.model_version == rec.model_version


@pytest.mark.parametrize("method", ["metapath", "hybrid"])
def test_explanation_names_the_planted_path(fitted, method):
    exp = fitted[method].explain("DOID:A0", "DRUGBANK:DBP01", top=10)
    binds = [p for p in exp.paths if p.metapath == "CbGaD"]
    assert binds, [p.text() for p in exp.paths]
    p = binds[0]
    assert p.nodes[0] == ("Drug", "DRUGBANK:DBP01") and p.nodes[-1] == ("Disease", "DOID:A0")
    assert p.nodes[1][0] == "Gene" and p.rels == ["BINDS", "<ASSOCIATES"]
    assert p.contribution > 0
    # the gene really links both ends in the graph
    gene = p.nodes[1][1]
    t = toy_graph()
    gi = {str(g): i for i, g in enumerate(t.nodes["Gene"])}[gene]
    di = {str(d): i for i, d in enumerate(t.nodes["Drug"])}["DRUGBANK:DBP01"]
    e = t.edges[("Drug", "BINDS", "Gene")]
    assert np.any((e.src == di) & (e.dst == gi))
    assert "BINDS" in exp.to_dict()["paths"][0]["text"] or exp.paths


def test_cf_explanation_uses_co_treating_drugs(fitted):
    exp = fitted["cf"].explain("DOID:A0", "DRUGBANK:DBA07")
    assert exp.paths and all(p.nodes[0] == ("Drug", "DRUGBANK:DBA07") for p in exp.paths)
    assert all(p.nodes[-1] == ("Disease", "DOID:A0") and p.rels[-1] in ("TREATS", "PALLIATES") for p in exp.paths)
    assert exp.score == pytest.approx(sum(p.contribution for p in fitted["cf"].explain("DOID:A0", "DRUGBANK:DBA07", top=100).paths), rel=1e-4)


def test_svd_explanation_of_a_known_drug_has_no_path_to_itself(fitted, tables):
    """cf-svd's similarity has a diagonal: a drug the disease already has contributes through its own edge, shown
    as that edge, never as "Drug X -SIMILAR_CF-> Drug X"; the contributions still add up to the score."""
    rec = fitted["cf-svd"]
    d = rec._data()
    row, col = next((r, c) for r in range(d.n_diseases) for c in d.indications[r].indices)
    disease, drug = str(d.disease_ids[row]), str(d.drug_ids[col])
    exp = rec.explain(disease, drug, top=1000)
    assert not [p for p in exp.paths if len(p.nodes) == 3 and p.nodes[0] == p.nodes[1]]
    own = [p for p in exp.paths if p.metapath == "cf-svd:known"]
    assert len(own) == 1 and own[0].nodes == [("Drug", drug), ("Disease", disease)]
    assert exp.score == pytest.approx(sum(p.contribution for p in exp.paths), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("method", ["content", "ppr", "gnn"])
def test_explanations_exist(fitted, method):
    exp = fitted[method].explain("DOID:A0", "DRUGBANK:DBP01")
    assert exp.method == method and exp.paths
    assert all(p.nodes[0] == ("Drug", "DRUGBANK:DBP01") for p in exp.paths)


def test_gnn_without_embeddings_says_how_to_get_them(tables):
    with pytest.raises(RecommendError, match="no node embeddings"):
        get_recommender("gnn").fit(tables)


def test_hybrid_uses_cold_blend_for_diseases_without_treatments(fitted):
    hyb = fitted["hybrid"]
    w = hyb.blend_weights()
    assert set(w) == {"warm", "cold"}
    exp = hyb.explain("DOID:A9", "DRUGBANK:DBA01")
    assert "cold-start" in exp.note


def test_patients_as_cf_targets():
    from graph_engine.export import tables_from_edges

    t = toy_graph()
    nodes = {k: [str(i) for i in v] for k, v in t.nodes.items()}
    nodes["Patient"] = ["PAT:1"]
    edges = {}
    for k, e in t.edges.items():
        s_ids, d_ids = t.nodes[k[0]], t.nodes[k[2]]
        edges[k] = [(str(s_ids[a]), str(d_ids[b])) for a, b in zip(e.src, e.dst)]
    edges[("Patient", "TAKES", "Drug")] = [("PAT:1", "DRUGBANK:DBA00"), ("PAT:1", "DRUGBANK:DBA01")]
    t2 = tables_from_edges(nodes, edges)
    rec = get_recommender("cf").fit(t2)
    ids, _ = rec.recommend(["PAT:1"], k=3, exclude_known=True)
    assert all(block_of(i) == "A" for i in ids[0])


def test_ppr_with_alpha_is_a_fresh_fit_at_that_alpha(tables):
    from recommend.graph import PPRRecommender
    base = PPRRecommender(alpha=0.3).fit(tables)
    other = base.with_alpha(0.15)
    fresh = PPRRecommender(alpha=0.15).fit(tables)
    targets = ["DOID:A0", "DOID:A9", "DOID:B3"]
    np.testing.assert_array_equal(other.score(targets), fresh.score(targets))
    assert not np.array_equal(other.score(targets), base.score(targets))  # the restart probability matters
    assert other.alpha == 0.15 and other.adj_ is base.adj_  # one walk graph, not a second export
    restored = base.with_alpha(0.15, scores=fresh.scores_)
    np.testing.assert_array_equal(restored.score(targets), fresh.score(targets))


def test_one_walk_gives_every_restart_probability(tables):
    import scipy.sparse as sp

    from graph_engine.scoring.walk import ppr_walk, ppr_walk_dampings
    from recommend.graph import PPRRecommender
    rng = np.random.default_rng(0)
    a = sp.random(60, 60, density=0.05, random_state=1, format="csr")
    dense = (a + a.T).toarray()
    dense[:, 55:] = 0  # dangling nodes: their mass restarts at the seed
    dense[55:, :] = 0
    a = sp.csr_matrix(dense)
    seeds = np.zeros((60, 4), dtype=np.float32)
    seeds[rng.choice(55, 4, replace=False), np.arange(4)] = 1.0
    alphas = (0.3, 0.15, 0.5)
    for iters in (1, 7, 30):
        walks = ppr_walk_dampings(a, seeds, [1 - al for al in alphas], iters)
        for al, got in zip(alphas, walks):
            want = ppr_walk(a, seeds, damping=1 - al, max_iter=iters, tol=0.0)  # the plain iteration, every step
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(got.sum(axis=0), 1.0, atol=1e-5)
    # the recommender: one fit, every alpha the same as fitting it alone
    base = PPRRecommender(alpha=0.3)
    others = base.fit_alphas(tables, (0.15, 0.5))
    targets = ["DOID:A0", "DOID:A9", "DOID:B3"]
    np.testing.assert_allclose(base.score(targets), PPRRecommender(alpha=0.3).fit(tables).score(targets), rtol=1e-4, atol=1e-7)
    for al, other in zip((0.15, 0.5), others):
        assert other.alpha == al and other.adj_ is base.adj_
        np.testing.assert_allclose(other.score(targets), PPRRecommender(alpha=al).fit(tables).score(targets),
                                   rtol=1e-4, atol=1e-7)
    assert base._also_alphas == () and not hasattr(base, "_also_scores")  # no per-fit state left behind


def test_hybrid_signals_follow_its_settings(tables, tmp_path):
    from recommend.hybrid import HybridRecommender
    rec = HybridRecommender(val_rounds=1, seed=0).fit(tables)  # defaults: 3 PPR restarts, damping 0.2, no CtDlAlD
    names = rec.signals_.names
    assert {"ppr", "ppr@0.15", "ppr@0.5"} <= set(names) and "CtDlAlD" not in names
    assert rec.signals_.mf.damping == 0.2
    plain = HybridRecommender(val_rounds=1, ppr_alphas=[0.3], damping=None, exclude_metapaths=[], seed=0).fit(tables)
    assert not any(n.startswith("ppr@") for n in plain.signals_.names) and "CtDlAlD" in plain.signals_.names
    assert plain.signals_.mf.damping == 0.4  # metapaths.toml's
    targets = ["DOID:A0", "DOID:A9"]
    assert not np.array_equal(rec.score(targets), plain.score(targets))
    back = load_recommender(rec.save(tmp_path / "h"))
    assert back.params() == rec.params() and back.signals_.names == names
    np.testing.assert_array_equal(back.score(targets), rec.score(targets))
    # the extra PPR signals are stored as scores only, next to one walk graph
    assert back.signals_.subs["ppr@0.5"].adj_ is back.signals_.subs["ppr"].adj_
    # explained as one walk: the three PPR terms' net, spread over walk paths, no per-restart entries
    for disease, drug in (("DOID:A0", "DRUGBANK:DBP01"), ("DOID:A9", "DRUGBANK:DBA01")):
        row, col = rec.rows_of([disease])[0], int(np.flatnonzero(rec.item_ids == drug)[0])
        x = rec.signals_.rows(np.array([row]))[0, col]
        blend = rec.blends_["cold" if rec._cold(np.array([row]))[0] else "warm"]
        terms = dict(zip(names, blend.terms(x)))
        net = terms["ppr"] + terms["ppr@0.15"] + terms["ppr@0.5"]
        exp = rec.explain(disease, drug, top=1000)
        walk = [p for p in exp.paths if p.metapath.split(":")[0] == "ppr"]
        assert walk and not [p for p in exp.paths if p.metapath.startswith("ppr@")]
        assert sum(p.contribution for p in walk) == pytest.approx(net, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("kw, match", [
    ({"ppr_alphas": [0.3, 0.3]}, "distinct"), ({"ppr_alphas": [1.5]}, r"in \(0, 1\)"), ({"ppr_alphas": []}, "ppr_alphas"),
    ({"exclude_metapaths": ["CtDxD"]}, "unknown metapaths.*CtDxD"),
])
def test_hybrid_rejects_bad_signal_settings(kw, match):
    from recommend.hybrid import HybridRecommender
    with pytest.raises(RecommendError, match=match):
        HybridRecommender(**kw)


def test_hybrid_disease_degree_terms(tables, tmp_path):
    from recommend.data import INDICATION_TYPES
    from recommend.hybrid import HybridRecommender, _Signals
    rec = HybridRecommender(val_rounds=1, disease_degrees=True, seed=0).fit(tables)
    sig = rec.signals_
    rels = [("ASSOCIATES", "Gene"), ("UPREGULATES", "Gene"), ("DOWNREGULATES", "Gene"), ("LOCALIZES", "Anatomy"),
            ("PRESENTS", "Symptom"), ("RESEMBLES", "Disease")]
    assert sig.ddeg_names == [f"ddeg:{r}:{l}" for r, l in rels]
    # independent count: distinct neighbours per disease over the stored edges, in either direction
    n = len(tables.nodes["Disease"])
    for j, (rel, label) in enumerate(rels):
        nbrs: list[set] = [set() for _ in range(n)]
        for (a, r, b), e in tables.edges.items():
            if r != rel or {a, b} != {"Disease", label}:
                continue
            for s, d in zip(e.src.tolist(), e.dst.tolist()):
                if a == "Disease":
                    nbrs[s].add((b, d))
                if b == "Disease":
                    nbrs[d].add((a, s))
        want = np.log1p([len({x for x in ns if x != ("Disease", i)}) for i, ns in enumerate(nbrs)])
        np.testing.assert_allclose(sig.ddeg[:, j], want, rtol=1e-6)
    assert sig.ddeg[:, 0].max() > 0 and sig.ddeg[:, 5].max() > 0  # the toy graph has genes and resemblance
    # disease-level: the same value for every drug of a disease, in the disease's row
    rows = rec.rows_of(["DOID:A0", "DOID:B1"])
    x = sig.rows(rows)
    for j, name in enumerate(sig.names):
        if name.startswith("ddeg:"):
            np.testing.assert_array_equal(x[:, :, j], np.repeat(sig.ddeg[rows, sig.ddeg_names.index(name)][:, None],
                                                                x.shape[1], axis=1))
    # never an indication relation: removing every TREATS / PALLIATES edge changes nothing
    bare = type(tables)(nodes=tables.nodes, edges={k: v for k, v in tables.edges.items() if k[1] not in INDICATION_TYPES})
    from recommend.metapaths import disease_degrees
    np.testing.assert_array_equal(disease_degrees(bare)[1], sig.ddeg)
    # off: no such terms, other scores
    plain = HybridRecommender(val_rounds=1, disease_degrees=False, seed=0).fit(tables)
    assert not any(nm.startswith("ddeg:") for nm in plain.signals_.names)
    assert not np.array_equal(plain.score(["DOID:A0", "DOID:B1"]), rec.score(["DOID:A0", "DOID:B1"]))
    back = load_recommender(rec.save(tmp_path / "h"))
    assert back.params()["disease_degrees"] is True and back.signals_.ddeg_names == sig.ddeg_names
    np.testing.assert_array_equal(back.score(["DOID:A0", "DOID:A9"]), rec.score(["DOID:A0", "DOID:A9"]))
    # a model saved before disease degrees existed loads with none
    old = plain.signals_.get_state()
    del old["ddeg"], old["ddeg_names"]
    assert _Signals.from_state(old, plain._data(), 0).names == plain.signals_.names
    # explained as a disease-level term with its blend weight
    row, col = rec.rows_of(["DOID:A0"])[0], int(np.flatnonzero(rec.item_ids == "DRUGBANK:DBP01")[0])
    terms = dict(zip(sig.names, rec.blends_["warm"].terms(sig.rows(np.array([row]))[0, col])))
    got = {p.metapath: p.contribution for p in rec.explain("DOID:A0", "DRUGBANK:DBP01", top=1000).paths}
    for name in sig.ddeg_names:
        if terms[name] != 0:
            assert got[name] == pytest.approx(float(terms[name]), rel=1e-5)
