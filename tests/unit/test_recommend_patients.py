"""Patients: import format, synthetic cohort, and the safety filter."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graph_engine.errors import IngestError, RecommendError
from graph_engine.export import tables_from_edges
from recommend import get_recommender
from recommend.patients import (
    Patient,
    SafetyIndex,
    patient_records,
    patients_from_tables,
    read_patients,
    recommend_for_patient,
    synthetic_cohort,
    write_patients,
)
from recommend.toy import toy_graph

pytestmark = pytest.mark.unit


def _with_interactions(extra_pairs):
    """The toy graph plus Drug-Drug INTERACTS_WITH edges (Hetionet has none)."""
    t = toy_graph()
    nodes = {k: [str(i) for i in v] for k, v in t.nodes.items()}
    edges = {k: [(str(t.nodes[k[0]][a]), str(t.nodes[k[2]][b])) for a, b in zip(e.src, e.dst)] for k, e in t.edges.items()}
    edges[("Drug", "INTERACTS_WITH", "Drug")] = list(extra_pairs)
    return tables_from_edges(nodes, edges)


@pytest.fixture(scope="module")
def graph():
    # DBA07 (the best new drug for A0) interacts with DBA00; stored in one direction only
    return _with_interactions([("DRUGBANK:DBA00", "DRUGBANK:DBA07"), ("DRUGBANK:DBP01", "DRUGBANK:DBA03")])


@pytest.fixture(scope="module")
def model(graph):
    return get_recommender("cf").fit(graph)


def test_interacting_drug_is_removed_or_flagged(graph, model):
    safety = SafetyIndex.from_tables(graph)
    pat = Patient("PAT:1", conditions=["DOID:A0"], current_drugs=["DRUGBANK:DBA00"])
    free = recommend_for_patient(model, Patient("PAT:2", conditions=["DOID:A0"]), safety, k=10)
    assert "DRUGBANK:DBA07" in [i.drug for i in free.items]  # it would be recommended ...
    removed = recommend_for_patient(model, pat, safety, k=10)
    assert "DRUGBANK:DBA07" not in [i.drug for i in removed.items]  # ... but not with DBA00 on board
    assert removed.removed >= 1
    assert "DRUGBANK:DBA00" not in [i.drug for i in removed.items]  # already taken
    flagged = recommend_for_patient(model, pat, safety, k=10, on_conflict="flag")
    hit = [i for i in flagged.items if i.drug == "DRUGBANK:DBA07"]
    assert hit and hit[0].flags == ["interacts_with:DRUGBANK:DBA00"]
    assert [i.rank for i in flagged.items] == list(range(1, len(flagged.items) + 1))


def test_side_effect_and_allergy_flags(graph, model):
    safety = SafetyIndex.from_tables(graph)
    di = {str(d): i for i, d in enumerate(graph.nodes["Drug"])}["DRUGBANK:DBA07"]
    e = graph.edges[("Drug", "CAUSES", "SideEffect")]
    se = str(graph.nodes["SideEffect"][e.dst[e.src == di][0]])
    pat = Patient("PAT:3", conditions=["DOID:A0"], avoid_side_effects=[se], allergies=["DRUGBANK:DBP01"])
    res = recommend_for_patient(model, pat, safety, k=20, on_conflict="flag")
    flags = {i.drug: i.flags for i in res.items}
    assert f"causes:{se}" in flags["DRUGBANK:DBA07"]
    assert "allergy:DRUGBANK:DBP01" in flags.get("DRUGBANK:DBP01", ["allergy:DRUGBANK:DBP01"])
    res = recommend_for_patient(model, pat, safety, k=20)
    assert all(not i.flags for i in res.items)
    assert "DRUGBANK:DBA07" not in {i.drug for i in res.items}


@pytest.mark.parametrize("mode", ["remove", "flag"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_interacting_drug_ever_reaches_a_list_unflagged(mode, seed):
    """Random interaction graphs and a synthetic cohort: the invariant holds for every patient."""
    rng = np.random.default_rng(seed)
    drugs = [str(d) for d in toy_graph().nodes["Drug"]]
    pairs = {tuple(sorted(rng.choice(drugs, 2, replace=False))) for _ in range(25)}
    g = _with_interactions(sorted(pairs))
    safety = SafetyIndex.from_tables(g)
    rec = get_recommender("content").fit(g)
    inter = {d: set() for d in drugs}
    for a, b in pairs:
        inter[a].add(b)
        inter[b].add(a)
    for pat in synthetic_cohort(g, n=15, seed=seed):
        res = recommend_for_patient(rec, pat, safety, k=10, on_conflict=mode)
        for it in res.items:
            bad = inter[it.drug] & set(pat.current_drugs)
            if bad:
                assert mode == "flag" and {f"interacts_with:{d}" for d in bad} <= set(it.flags)
            assert it.drug not in pat.current_drugs


def test_patient_needs_a_known_condition(model):
    safety = SafetyIndex.from_tables(toy_graph())
    with pytest.raises(RecommendError, match="none of the conditions"):
        recommend_for_patient(model, Patient("PAT:9", conditions=["DOID:UNKNOWN"]), safety)
    res = recommend_for_patient(model, Patient("PAT:9", conditions=["DOID:UNKNOWN", "DOID:B0"]), safety, k=2)
    assert res.skipped_conditions == ["DOID:UNKNOWN"] and len(res.items) == 2
    with pytest.raises(RecommendError):
        recommend_for_patient(model, Patient("PAT:9", conditions=["DOID:B0"]), safety, on_conflict="ignore")


def test_synthetic_cohort_is_labelled_and_seeded():
    t = toy_graph()
    a, b = synthetic_cohort(t, n=12, seed=3), synthetic_cohort(t, n=12, seed=3)
    assert a == b and len(a) == 12
    assert all(p.synthetic and p.id.startswith("SYNTH:") and p.conditions for p in a)
    assert synthetic_cohort(t, n=12, seed=4) != a


def test_jsonl_round_trip_and_validation(tmp_path):
    cohort = synthetic_cohort(toy_graph(), n=5, seed=0)
    path = write_patients(tmp_path / "p.jsonl", cohort)
    assert read_patients(path) == cohort
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "PAT:1", "name": "Jane Doe"}) + "\n")
    with pytest.raises(IngestError, match="unknown keys.*line 1|line 1.*unknown keys"):
        read_patients(bad)
    bad.write_text(json.dumps({"id": "Jane Doe 1970-01-01"}) + "\n")
    with pytest.raises(IngestError, match="pseudonym"):
        read_patients(bad)
    bad.write_text('{"id": "PAT:1"}\n{"id": "PAT:1"}\n')
    with pytest.raises(IngestError, match="duplicate"):
        read_patients(bad)


def test_patient_records_and_export_round_trip():
    pat = Patient("PAT:7", ["DOID:A0"], ["DRUGBANK:DBA00"], ["UMLS:C0000001"], ["DRUGBANK:DBB00"], synthetic=True)
    nodes, edges = patient_records([pat])
    assert nodes[0].label == "Patient" and nodes[0].properties == {"synthetic": True}
    assert {(e.type, e.target_id) for e in edges} == {
        ("HAS_CONDITION", "DOID:A0"), ("TAKES", "DRUGBANK:DBA00"), ("AVOIDS", "UMLS:C0000001"),
        ("ALLERGIC_TO", "DRUGBANK:DBB00")}
    t = toy_graph()
    node_ids = {k: [str(i) for i in v] for k, v in t.nodes.items()}
    node_ids["Patient"] = ["PAT:7"]
    back = patients_from_tables(tables_from_edges(node_ids, {
        (e.source_label, e.type, e.target_label): [(e.source_id, e.target_id)] for e in edges}))
    assert back[0].conditions == pat.conditions and back[0].allergies == pat.allergies


def test_safety_index_save_load(tmp_path, graph):
    s = SafetyIndex.from_tables(graph)
    back = SafetyIndex.load(s.save(tmp_path / "safety.npz"))
    pat = Patient("PAT:1", current_drugs=["DRUGBANK:DBA00"])
    assert back.flags("DRUGBANK:DBA07", pat) == s.flags("DRUGBANK:DBA07", pat) == ["interacts_with:DRUGBANK:DBA00"]
