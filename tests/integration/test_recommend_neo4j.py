"""Recommendations written back to a real Neo4j: atomic replacement, rollback, readable explanations."""

from __future__ import annotations

import json

import pytest

from graph_engine.errors import RecommendError

from ingest.curated import load_graph
from ingest.demo import demo_files
from recommend import get_recommender
from recommend.api import export_for_recommend, patient_from_graph
from recommend.cypher import read_recommendations
from recommend.patients import SafetyIndex, patient_records, recommend_for_patient, synthetic_cohort
from recommend.writeback import recommendation_rows, run_writeback, write_recommendations

pytestmark = pytest.mark.neo4j


@pytest.fixture()
def fitted(graph):
    nodes, edges = demo_files()
    load_graph(graph, "hetionet", nodes, edges, progress=False)
    tables = export_for_recommend(graph)
    return graph, tables, get_recommender("metapath", seed=0).fit(tables)


def _current(g, target):
    return g.read(read_recommendations("Disease"), {"target": target, "method": None})


def test_recommendations_replace_atomically_and_explanations_are_readable(fitted):
    g, _, model = fitted
    target = str(model.target_ids[0])
    run1, n1 = run_writeback(g, model, [target], k=5)
    rows = _current(g, target)
    assert n1 == 5 and [r["rank"] for r in rows] == [1, 2, 3, 4, 5] and {r["run_id"] for r in rows} == {run1}
    exp = json.loads(rows[0]["explanation"])
    assert exp["method"] == "metapath" and exp["target"] == target
    run2, _ = run_writeback(g, model, [target], k=3)
    rows = _current(g, target)
    assert len(rows) == 3 and {r["run_id"] for r in rows} == {run2}
    # linked to its drug, target and run
    linked = g.read("MATCH (r:Recommendation {run_id: $run})-[:RECOMMENDS]->(:Drug), (r)-[:FOR]->(:Disease), "
                    "(r)-[:PRODUCED_BY]->(run:Run {id: $run}) RETURN count(r) AS n, collect(DISTINCT run.status) AS s",
                    {"run": run2})[0]
    assert linked["n"] == 3 and linked["s"] == ["succeeded"]


def test_failed_run_keeps_previous_recommendations(fitted):
    g, _, model = fitted
    target = str(model.target_ids[0])
    run1, _ = run_writeback(g, model, [target], k=4)
    rows = recommendation_rows(model, [target], 4, "broken-run", explain=False)
    rows[-1]["drug"] = "DRUGBANK:NOT_A_DRUG"
    with pytest.raises(RecommendError, match="Drug id\\(s\\) not in the graph: 'DRUGBANK:NOT_A_DRUG'"):
        write_recommendations(g, rows, model.name)
    assert {r["run_id"] for r in _current(g, target)} == {run1}


def test_synthetic_patient_round_trip(fitted):
    g, tables, model = fitted
    pat = synthetic_cohort(tables, n=1, seed=0)[0]
    nodes, edges = patient_records([pat])
    g.upsert_nodes(nodes)
    g.upsert_relationships(edges)
    back = patient_from_graph(g, pat.id)
    assert sorted(back.conditions) == sorted(pat.conditions) and back.synthetic is True
    res = recommend_for_patient(model, back, SafetyIndex.from_tables(tables), k=5)
    assert res.items and all(i.drug not in pat.current_drugs for i in res.items)
