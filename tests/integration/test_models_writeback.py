"""Diagnosis write-back against a real Neo4j: once per run, linked to Case and
Disease, idempotent re-runs, all-or-nothing on failure, readable by Cypher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from models import load_model, predict_file
from models.cypher import DIAGNOSES_OF_CASE
from models.writeback import write_diagnoses

pytestmark = pytest.mark.neo4j

SAMPLES = Path(__file__).resolve().parents[2] / "models" / "data"


def counts(graph: Any) -> dict[str, int]:
    row = graph.read(
        "MATCH (d:Diagnosis) OPTIONAL MATCH (d)-[o:OF]->(:Case) OPTIONAL MATCH (d)-[s:SUGGESTS]->(:Disease) "
        "RETURN count(DISTINCT d) AS d, count(DISTINCT o) AS o, count(DISTINCT s) AS s"
    )[0]
    return {k: int(v) for k, v in row.items()}


def add_label_diseases(graph: Any, model: Any) -> None:
    from models.writeback import label_disease_records

    graph.upsert_nodes(label_disease_records(model))


def test_text_diagnoses_written_once_per_run_and_replaced(graph: Any) -> None:
    model = load_model(kind="text")
    report = predict_file(model, SAMPLES / "sample_notes.jsonl")
    add_label_diseases(graph, model)
    first = write_diagnoses(graph, model, report, top_k=3)
    assert counts(graph) == {"d": 60, "o": 60, "s": 60}
    assert graph.read("MATCH (c:Case) RETURN count(c) AS n")[0]["n"] == 20
    top = graph.read(DIAGNOSES_OF_CASE, {"case_id": "note-01"})
    assert [r["rank"] for r in top] == [1, 2, 3] and top[0]["run_id"] == first.run_id
    assert top[0]["probability"] >= top[1]["probability"]
    assert top[0]["disease_id"] == model.label_info[top[0]["label"]].disease_id
    run = graph.read("MATCH (r:Run {id: $id}) RETURN r.status AS s", {"id": first.run_id})[0]
    assert run["s"] == "succeeded"
    assert graph.read("MATCH (:Diagnosis)-[p:PRODUCED_BY]->(:Run) RETURN count(p) AS n")[0]["n"] == 60

    second = write_diagnoses(graph, model, report, top_k=3)
    assert counts(graph) == {"d": 60, "o": 60, "s": 60}
    assert {r["run_id"] for r in graph.read("MATCH (d:Diagnosis) RETURN d.run_id AS run_id")} == {second.run_id}

    fewer = write_diagnoses(graph, model, report, top_k=1)  # a new run replaces the old one's nodes
    assert counts(graph) == {"d": 20, "o": 20, "s": 20}
    assert fewer.diagnoses == 20


class FailAtCommit:
    """Runs the Diagnosis write, then fails inside the same transaction (the Run bookkeeping's own
    transactions go through)."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    def run_in_transaction(self, fn: Any) -> Any:
        def work(tx: Any) -> Any:
            seen: list[str] = []

            class Spy:
                def run(self, query: str, *a: Any, **k: Any) -> Any:
                    seen.append(query)
                    return tx.run(query, *a, **k)

            out = fn(Spy())
            if any("Diagnosis" in q for q in seen):
                raise RuntimeError("boom before commit")
            return out

        return self.graph.run_in_transaction(work)

    def create_run(self, *a: Any, **k: Any) -> str:
        return self.graph.create_run(*a, **k)

    def finish_run(self, *a: Any, **k: Any) -> None:
        self.graph.finish_run(*a, **k)


def test_missing_disease_is_refused_and_never_created(graph: Any) -> None:
    """The rule of every prediction write-back: an object id not in the graph is refused, by name."""
    from graph_engine.errors import ModelError

    model = load_model(kind="text")
    report = predict_file(model, SAMPLES / "sample_notes.jsonl")
    with pytest.raises(ModelError, match=r"Disease id\(s\) not in the graph: '"):
        write_diagnoses(graph, model, report, top_k=2)
    assert graph.read("MATCH (n) WHERE n:Disease OR n:Diagnosis OR n:Case RETURN count(n) AS n")[0]["n"] == 0
    assert [r["s"] for r in graph.read("MATCH (r:Run) RETURN r.status AS s")] == ["failed"]


def test_failed_run_leaves_previous_diagnoses(graph: Any) -> None:
    model = load_model(kind="text")
    report = predict_file(model, SAMPLES / "sample_notes.jsonl")
    add_label_diseases(graph, model)
    ok = write_diagnoses(graph, model, report, top_k=2)
    before = graph.read("MATCH (d:Diagnosis) RETURN d.id AS id, d.run_id AS run ORDER BY id")
    with pytest.raises(RuntimeError, match="boom before commit"):
        write_diagnoses(FailAtCommit(graph), model, report, top_k=3)
    assert graph.read("MATCH (d:Diagnosis) RETURN d.id AS id, d.run_id AS run ORDER BY id") == before
    assert {r["run"] for r in before} == {ok.run_id}
    statuses = sorted(r["s"] for r in graph.read("MATCH (r:Run) RETURN r.status AS s"))
    assert statuses == ["failed", "succeeded"]


def test_image_normal_has_no_disease_and_drugs_query(graph: Any) -> None:
    from graph_engine.records import EdgeRecord, NodeRecord

    graph.upsert_nodes([NodeRecord("Disease", "DOID:552", "pneumonia", source="t"),
                        NodeRecord("Drug", "DRUGBANK:DB00254", "doxycycline", source="t")])
    graph.upsert_relationships([EdgeRecord("TREATS", "Drug", "DRUGBANK:DB00254", "Disease", "DOID:552", source="t")])
    model = load_model(kind="image")
    report = predict_file(model, SAMPLES / "sample_images.npz")
    write_diagnoses(graph, model, report, top_k=2)
    c = counts(graph)
    assert c["d"] == 40 and c["o"] == 40 and c["s"] == 20  # only 'pneumonia' suggests a Disease
    assert graph.read("MATCH (d:Disease) RETURN count(d) AS n")[0]["n"] == 1  # merged onto the existing node
    rows = graph.read(
        "MATCH (c:Case)<-[:OF]-(d:Diagnosis {label: 'pneumonia'})-[:SUGGESTS]->(dis:Disease) "
        "OPTIONAL MATCH (drug:Drug)-[:TREATS]->(dis) "
        "RETURN c.id AS case, d.probability AS p, collect(drug.name) AS drugs"
    )
    assert len(rows) == 20 and all(r["drugs"] == ["doxycycline"] for r in rows)


def test_enrich_diagnose_cli(graph: Any, neo4j_env: dict[str, str]) -> None:
    from click.testing import CliRunner

    from jobs.cli import main

    args = ["enrich", "diagnose", "--kind", "text", "--input", str(SAMPLES / "sample_notes.jsonl")]
    res = CliRunner().invoke(main, args, env=neo4j_env)
    assert res.exit_code == 1 and "not in the graph" in res.output and "--add-label-diseases" in res.output
    res = CliRunner().invoke(main, [*args, "--add-label-diseases"], env=neo4j_env)
    assert res.exit_code == 0, res.output
    assert "cases 20, diagnoses 60" in res.output
    res = CliRunner().invoke(main, args, env=neo4j_env)
    assert res.exit_code == 0, res.output
    assert counts(graph)["d"] == 60
