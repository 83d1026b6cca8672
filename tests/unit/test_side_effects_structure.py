"""Side-effect kNN pieces against independent references, and the structure content signal."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.unit


def test_fast_metrics_match_sklearn() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from models.side_effects import fast_column_auroc_ap

    rng = np.random.default_rng(0)
    Y = (rng.random((60, 12)) < 0.3).astype(np.uint8)
    P = rng.random((60, 12)) + 0.5 * Y  # continuous: no ties
    P[:, 0] = np.round(P[:, 0], 1)  # ties in one column: AUROC still exact
    a, ap = fast_column_auroc_ap(Y, P, list(range(12)))
    assert np.allclose(a, [roc_auc_score(Y[:, j], P[:, j]) for j in range(12)])
    assert np.allclose(ap[1:], [average_precision_score(Y[:, j], P[:, j]) for j in range(1, 12)])


def test_knn_scores_weighted_rate_and_self_exclusion() -> None:
    from models.side_effects import knn_scores

    S = np.array([[1.0, 0.5, 0.2, 0.0]], np.float32)
    Y = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], np.uint8)
    got = knn_scores(S, Y, k=2)
    assert np.allclose(got, [[(1.0 + 0.5) / 1.5, 0.5 / 1.5]])
    got = knn_scores(S, Y, k=2, exclude_self=np.array([[True, False, False, False]]))
    assert np.allclose(got, [[0.5 / 0.7, (0.5 + 0.2) / 0.7]])


def test_multiview_uses_targets_when_structure_is_uninformative() -> None:
    from models.side_effects import DrugTable, MultiViewKNN

    fp = np.zeros((6, 16), np.uint8)
    fp[:, 0] = 1  # identical structures
    tg = [{"G1"}, {"G1"}, {"G1"}, {"G2"}, {"G2"}, {"G2"}]
    Y = np.array([[1], [1], [1], [0], [0], [0]], np.uint8)
    train = DrugTable([f"D{i}" for i in range(6)], fp, np.zeros((6, 2), np.float32), tg, [set()] * 6, Y, ["S"])
    q = DrugTable(["Q1", "Q2"], fp[:2], np.zeros((2, 2), np.float32), [{"G1"}, {"G2"}], [set(), set()])
    fp_only = MultiViewKNN({"fp": 1.0}, 3, 0.0).fit(train).predict(q)
    both = MultiViewKNN({"fp": 1.0, "target": 1.0}, 3, 0.0).fit(train).predict(q)
    assert fp_only[0, 0] == pytest.approx(fp_only[1, 0])
    assert both[0, 0] == pytest.approx(1.0) and both[1, 0] == pytest.approx(0.0)


def test_structure_recommender_ranks_a_cold_drug_by_its_neighbours() -> None:
    from graph_engine.export import tables_from_edges
    from recommend import get_recommender
    from recommend.structure import drug_cold_split, evaluate_drug_cold

    # two chemical series: phenols treat D:A, long alkyl amines treat D:B
    smi = {"DRUGBANK:A1": "Oc1ccccc1", "DRUGBANK:A2": "Oc1ccccc1C", "DRUGBANK:A3": "Oc1ccccc1CC",
           "DRUGBANK:B1": "CCCCCCN", "DRUGBANK:B2": "CCCCCCCN", "DRUGBANK:B3": "CCCCCCCCN",
           "DRUGBANK:NEW": "Oc1ccccc1CCC"}
    nodes = {"Drug": list(smi), "Disease": ["D:A", "D:B"]}
    edges = {("Drug", "TREATS", "Disease"): [(d, "D:A") for d in smi if "A" in d.split(":")[1]]
             + [(d, "D:B") for d in smi if "B" in d.split(":")[1]]}
    t = tables_from_edges(nodes, edges)
    rec = get_recommender("structure", structures=smi, k=2).fit(t)
    s = rec.score(["D:A", "D:B"])
    j = list(rec.item_ids).index("DRUGBANK:NEW")  # no edges at all
    assert s[0, j] > 0 and s[1, j] == 0
    content = get_recommender("content").fit(t)
    assert np.all(content.score(["D:A", "D:B"])[:, j] == 0)  # today's content cannot place it
    split = drug_cold_split(t, test_frac=0.34, seed=0, structures=smi)
    assert len(split.test_diseases) == 2
    m = evaluate_drug_cold(split, "structure", {"structures": smi, "k": 2})
    assert m["auroc"] == 1.0 and evaluate_drug_cold(split, "content")["auroc"] == 0.5
