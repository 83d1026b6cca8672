"""The safety index read from the graph (issue 19, item 5): curated interactions always count, text-mined
ones from ``min_text_confidence`` up, each flag carries its evidence, and the saved index keeps it (and
old index files still load). The Cypher itself runs against Neo4j in
tests/integration/test_safety_text_neo4j.py; here a stub answers the two reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graph_engine.errors import RecommendError
from recommend import cypher, get_recommender
from recommend.patients import (
    DEFAULT_MIN_TEXT_CONFIDENCE,
    Patient,
    SafetyIndex,
    interaction_evidence,
    recommend_for_patient,
)
from recommend.toy import toy_graph

pytestmark = pytest.mark.unit

A00, A07, A03, P01 = "DRUGBANK:DBA00", "DRUGBANK:DBA07", "DRUGBANK:DBA03", "DRUGBANK:DBP01"


def _text(a: str, b: str, scores: list[float], kind: str | None = "mechanism", sources=("text",)) -> dict:
    p = 1.0
    for s in scores:
        p *= 1.0 - s
    return {"a": a, "b": b, "sources": list(sources), "confidence": 1.0 - p, "interaction_type": kind,
            "sentences": [f"{a} raises {b} levels (sentence {i})." for i in range(len(scores))],
            "evidence_pmids": [f"PMID{i}" for i in range(len(scores))], "evidence_scores": scores}


class StubClient:
    """Answers the safety index's two reads with fixed rows (the server-side filter is mimicked by the
    index's own check, which the integration test runs against the real statement)."""

    def __init__(self, interactions: list[dict], causes: list[dict] | None = None) -> None:
        self.interactions, self.causes = interactions, causes or []
        self.params: list = []

    def read(self, query: str, params: dict | None = None) -> list[dict]:
        self.params.append(params)
        if query == cypher.READ_INTERACTIONS:
            return self.interactions
        assert query == cypher.READ_DRUG_SIDE_EFFECTS
        return self.causes


@pytest.fixture(scope="module")
def model():
    return get_recommender("cf").fit(toy_graph())


def test_text_interactions_count_from_the_threshold_up() -> None:
    rows = [_text(A00, A07, [0.7]), _text(A03, P01, [0.55])]
    client = StubClient(rows)
    idx = SafetyIndex.from_graph(client, min_text_confidence=0.6)
    assert client.params[0] == {"min_text_confidence": 0.6}  # the threshold travels as a parameter
    pat = Patient("PAT:1", current_drugs=[A00, P01])
    assert idx.flags(A07, pat) == [f"interacts_with:{A00}"]
    assert idx.flags(A03, pat) == []  # 0.55 < 0.6: not counted
    assert SafetyIndex.from_graph(StubClient(rows), 0.55).flags(A03, pat) == [f"interacts_with:{P01}"]  # >= counts
    assert SafetyIndex.from_graph(StubClient(rows), 0.71).flags(A07, pat) == []
    # noisy-OR of two weak sentences passes where each alone would not
    two = SafetyIndex.from_graph(StubClient([_text(A00, A07, [0.4, 0.4])]), 0.6)
    assert two.flags(A07, pat) == [f"interacts_with:{A00}"]
    assert SafetyIndex.from_graph(StubClient([_text(A00, A07, [0.4])]), 0.6).flags(A07, pat) == []
    assert SafetyIndex.from_graph(StubClient(rows)).min_text_confidence == DEFAULT_MIN_TEXT_CONFIDENCE


def test_curated_interactions_always_count_and_keep_their_source() -> None:
    curated = {"a": A07, "b": A00, "sources": ["onc-high-priority"], "confidence": None, "interaction_type": None,
               "sentences": None, "evidence_pmids": None, "evidence_scores": None}
    confirmed = _text(A03, P01, [0.1], kind="advise", sources=("drugbank", "text"))  # curated + weak text
    legacy = dict(curated, a=A00, b=A03, sources=[])  # no sources recorded: not text-mined
    idx = SafetyIndex.from_graph(StubClient([curated, confirmed, legacy]), min_text_confidence=0.99)
    pat = Patient("PAT:1", current_drugs=[A00, P01])
    assert idx.flags(A07, pat) == [f"interacts_with:{A00}"]  # stored A07 -> A00: both directions
    assert idx.flags(A03, pat) == [f"interacts_with:{A00}", f"interacts_with:{P01}"]
    (ev,) = idx.interaction_evidence(A00, A07)
    assert ev["source"] == "onc-high-priority" and ev["sentence"] is None
    both = idx.interaction_evidence(P01, A03)
    assert [e["source"] for e in both] == ["drugbank", "text"]
    assert both[1]["sentence"] == confirmed["sentences"][0] and both[1]["interaction_type"] == "advise"
    assert idx.interaction_evidence(A03, A00)[0]["source"] == "unknown"


def test_text_evidence_is_the_best_scored_sentences() -> None:
    row = _text(A00, A07, [0.6, 0.95, 0.7, 0.9], kind="effect")
    ev = interaction_evidence(row, 0.5, max_text=2)
    assert ev is not None
    assert [e["pmid"] for e in ev] == ["PMID1", "PMID3"] and [e["score"] for e in ev] == [0.95, 0.9]
    assert all(e["source"] == "text" and e["confidence"] == pytest.approx(row["confidence"]) for e in ev)
    assert ev[0]["sentence"] == row["sentences"][1] and ev[0]["interaction_type"] == "effect"
    assert interaction_evidence(dict(row, confidence=0.4), 0.5) is None
    assert interaction_evidence(dict(row, confidence=None), 0.0) is None  # text-only without a confidence


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "high"])
def test_bad_threshold_is_refused(bad) -> None:
    with pytest.raises(RecommendError, match="min_text_confidence"):
        SafetyIndex.from_graph(StubClient([]), min_text_confidence=bad)


@pytest.mark.parametrize("mode", ["flag", "remove"])
def test_recommendation_names_the_evidence(model, mode) -> None:
    idx = SafetyIndex.from_graph(StubClient([_text(A00, A07, [0.8], kind="mechanism")]), 0.6)
    free = recommend_for_patient(model, Patient("PAT:2", conditions=["DOID:A0"]), idx, k=10)
    assert A07 in [i.drug for i in free.items] and all(not i.flag_evidence for i in free.items)
    res = recommend_for_patient(model, Patient("PAT:1", conditions=["DOID:A0"], current_drugs=[A00]), idx, k=10,
                                on_conflict=mode)
    flag = f"interacts_with:{A00}"
    if mode == "flag":
        (hit,) = [i for i in res.items if i.drug == A07]
    else:
        assert A07 not in [i.drug for i in res.items]
        (hit,) = [i for i in res.removed_items if i.drug == A07]
        assert res.removed == len(res.removed_items) >= 1
    assert hit.flags == [flag]  # the flag string is unchanged
    (ev,) = hit.flag_evidence[flag]
    assert ev["source"] == "text" and ev["pmid"] == "PMID0" and ev["sentence"].startswith(A00)
    assert ev["confidence"] == pytest.approx(0.8) and ev["interaction_type"] == "mechanism"


def test_saved_index_keeps_evidence_without_pickle(tmp_path) -> None:
    idx = SafetyIndex.from_graph(StubClient([_text(A00, A07, [0.8])], [{"drug": A07, "side_effect": "UMLS:C1"}]), 0.6)
    path = idx.save(tmp_path / "safety.npz")
    with np.load(path, allow_pickle=False) as z:  # plain arrays only
        meta = json.loads(str(z["meta_json"]))
    assert meta["min_text_confidence"] == 0.6
    back = SafetyIndex.load(path)
    pat = Patient("PAT:1", current_drugs=[A00], avoid_side_effects=["UMLS:C1"])
    assert back.flags(A07, pat) == idx.flags(A07, pat) == [f"interacts_with:{A00}", "causes:UMLS:C1"]
    assert back.flag_evidence(A07, back.flags(A07, pat)) == idx.flag_evidence(A07, idx.flags(A07, pat))
    assert back.min_text_confidence == 0.6


def test_an_index_saved_before_evidence_still_loads(tmp_path) -> None:
    """The old safety.npz layout (no meta_json): flags as before, no evidence."""
    ids = np.array([A00, A07])
    inter = np.array([[0, 1], [1, 0]], dtype=float)
    import scipy.sparse as sp

    m = sp.csr_matrix(inter)
    c = sp.csr_matrix((2, 0))
    np.savez_compressed(tmp_path / "old.npz", drug_ids=ids, side_effect_ids=np.array([], dtype=str),
                        i_data=m.data, i_indices=m.indices, i_indptr=m.indptr, c_data=c.data,
                        c_indices=c.indices, c_indptr=c.indptr)
    back = SafetyIndex.load(tmp_path / "old.npz")
    flags = back.flags(A07, Patient("PAT:1", current_drugs=[A00]))
    assert flags == [f"interacts_with:{A00}"]
    assert back.flag_evidence(A07, flags) == {flags[0]: []} and back.min_text_confidence is None


def test_cli_prints_the_evidence_lines() -> None:
    from jobs.commands.recommend import evidence_lines

    idx = SafetyIndex.from_graph(StubClient([_text(A00, A07, [0.8], kind="advise"),
                                             dict(_text(A07, P01, [0.1]), sources=["onc"])]), 0.6)
    lines = evidence_lines(idx.flag_evidence(A07, [f"interacts_with:{A00}", f"interacts_with:{P01}"]))
    assert lines[0].startswith(f"interacts_with:{A00} [text, PMID0, confidence 0.80, advise]: \"{A00} raises")
    assert lines[1] == f"interacts_with:{P01} [curated: onc, mechanism]"


def test_partners_follow_the_threshold() -> None:
    """What the Synthea condition path (jobs.patient_recs.fit_from_graph) screens with."""
    rows = [_text(A00, A07, [0.7]), _text(A00, P01, [0.55])]
    assert SafetyIndex.from_graph(StubClient(rows), 0.6).partners(A00) == {A07}
    assert SafetyIndex.from_graph(StubClient(rows), 0.5).partners(A00) == {A07, P01}
    assert SafetyIndex.from_graph(StubClient(rows), 0.6).partners("DRUGBANK:NONE") == set()
