"""The one prediction write-back against a real Neo4j: replaced per run and scope in one
transaction, linked FOR / PREDICTS / PRODUCED_BY, refusing missing ids."""

from __future__ import annotations

import pytest

from graph_engine.errors import QueryError
from graph_engine.predictions import PredictionKind, replace_predictions
from graph_engine.records import NodeRecord
from graph_engine.runs import open_run

pytestmark = pytest.mark.neo4j

SE = PredictionKind(label="Prediction", kind="side_effect", for_label="Drug", object_label="SideEffect",
                    scope=("model",))


def rows(run, drugs, effects, model="m"):
    return [{"id": f"{run}:{d}:{s}", "for": d, "object": s, "props": {"model": model, "probability": 0.5}}
            for d in drugs for s in effects]


def state(graph):
    return graph.read(
        "MATCH (p:Prediction {kind: 'side_effect'})-[:FOR]->(d:Drug) OPTIONAL MATCH (p)-[:PREDICTS]->(s:SideEffect) "
        "OPTIONAL MATCH (p)-[:PRODUCED_BY]->(r:Run) "
        "RETURN p.id AS id, d.id AS drug, s.id AS se, r.id AS run, p.run_id AS run_id, p.model AS model ORDER BY id")


def test_prediction_nodes_replaced_per_run_and_refused_when_missing(graph):
    graph.upsert_nodes([NodeRecord("Drug", f"DRUGBANK:DB0000{i}", f"d{i}") for i in (1, 2)]
                       + [NodeRecord("SideEffect", f"UMLS:C000000{i}", f"s{i}") for i in (1, 2)])
    drugs, effects = ["DRUGBANK:DB00001", "DRUGBANK:DB00002"], ["UMLS:C0000001", "UMLS:C0000002"]
    with open_run(graph, "predict", "se", {}) as r1:
        assert replace_predictions(graph, r1.id, SE, drugs, rows(r1.id, drugs, effects)) == 4
    first = state(graph)
    assert len(first) == 4 and all(x["run"] == x["run_id"] == r1.id for x in first)
    with open_run(graph, "predict", "se", {}) as r2:
        replace_predictions(graph, r2.id, SE, drugs[:1], rows(r2.id, drugs[:1], effects[:1]))
    after = state(graph)
    assert {(x["drug"], x["run"]) for x in after} == {(drugs[0], r2.id), (drugs[1], r1.id)} and len(after) == 3
    with pytest.raises(QueryError, match="SideEffect id\\(s\\) not in the graph: 'UMLS:C9'"):
        with open_run(graph, "predict", "se", {}) as r3:
            replace_predictions(graph, r3.id, SE, drugs, rows(r3.id, drugs, ["UMLS:C9"]))
    assert state(graph) == after
    assert graph.read("MATCH (s:SideEffect) RETURN count(s) AS n")[0]["n"] == 2
    assert graph.read("MATCH (r:Run {id: $id}) RETURN r.status AS s", {"id": r3.id})[0]["s"] == "failed"
