"""PHI fences against a real Neo4j (issue #21 item 2): the generic loader cannot write Patient / Run / …
nodes (online path, CLI), a Case id that looks like PHI is refused before any Run, and no refusal
echoes the refused value (messages, CLI output, rejects file, graph)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from graph_engine.errors import IngestError, ModelError
from ingest.curated import load_graph

pytestmark = pytest.mark.neo4j

SECRET_ID = "John Smith 1970-01-01"
SECRET_NAME = "Johnathan Smithers"


def state(graph: Any) -> tuple[list, list]:
    nodes = graph.read("MATCH (n) RETURN n.id AS id, labels(n) AS l, properties(n) AS p ORDER BY id, l[0]")
    rels = graph.read("MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b ORDER BY a, t, b")
    return nodes, rels


def files(tmp_path: Path) -> tuple[Path, Path]:
    n, e = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    n.write_text("id,label,name,synonyms\nDOID:1,Disease,flu,\nDRUGBANK:DB1,Drug,x,\n"
                 f"\"{SECRET_ID}\",Patient,\"{SECRET_NAME}\",\n"
                 "run-forged,Run,,\n", encoding="utf-8")
    e.write_text("source,type,target\nDRUGBANK:DB1,TREATS,DOID:1\n"
                 f"\"{SECRET_ID}\",HAS_CONDITION,DOID:1\n"
                 "DOID:1,PRODUCED_BY,run-forged\n", encoding="utf-8")
    return n, e


def test_online_generic_load_refuses_patient_and_run_rows(graph: Any, tmp_path: Path) -> None:
    n, e = files(tmp_path)
    before = state(graph)
    with pytest.raises(IngestError) as err:
        load_graph(graph, "generic", n, e, progress=False)
    msg = str(err.value)
    assert "nodes.csv, line 4" in msg and "'Patient' is a record label" in msg and "medkg ingest patients" in msg
    assert SECRET_ID not in msg and SECRET_NAME not in msg
    assert state(graph) == before  # the batch holding the refused row is not written

    summary = load_graph(graph, "generic", n, e, on_error="skip", rejects_path=tmp_path / "rej.tsv", progress=False)
    assert summary.balanced() and summary.written == 3 and summary.rejected == 4
    assert graph.read("MATCH (n) WHERE n:Patient OR n:Run RETURN count(n) AS n")[0]["n"] == 0
    assert graph.read("MATCH (:Drug {id: 'DRUGBANK:DB1'})-[:TREATS]->(:Disease {id: 'DOID:1'}) RETURN count(*) AS n")[0]["n"] == 1
    rejects = (tmp_path / "rej.tsv").read_text(encoding="utf-8")
    assert SECRET_ID not in rejects and SECRET_NAME not in rejects
    dump = json.dumps(state(graph), default=str)
    assert SECRET_ID not in dump and SECRET_NAME not in dump and "run-forged" not in dump


def test_cli_generic_load_refuses_without_echoing(graph: Any, neo4j_env: dict[str, str], tmp_path: Path) -> None:
    n, e = files(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", "ingest", "graph", "--format", "generic",
                           "--nodes", str(n), "--edges", str(e), "--quiet"],
                          env=neo4j_env, capture_output=True, text=True)
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error:") and "line 4" in err[0] and "Patient" in err[0]
    assert SECRET_ID not in proc.stdout + proc.stderr and SECRET_NAME not in proc.stdout + proc.stderr
    assert graph.read("MATCH (n:Patient) RETURN count(n) AS n")[0]["n"] == 0


def test_phi_case_id_refused_before_any_run(graph: Any) -> None:
    from models import load_model, predict_records
    from models.records import TextRecord
    from models.writeback import label_disease_records, write_diagnoses

    model = load_model(kind="text")
    graph.upsert_nodes(label_disease_records(model))
    report = predict_records(model, [TextRecord("case-1", "high fever and chills"),
                                     TextRecord("JaneDoe_01-31-1970", "itchy red rash with pimples")])
    before = state(graph)
    with pytest.raises(ModelError) as err:
        write_diagnoses(graph, model, report)
    assert "record 2 of 2" in str(err.value) and "Jane" not in str(err.value) and "1970" not in str(err.value)
    assert state(graph) == before  # no Run, no Case, no Diagnosis
    assert graph.read("MATCH (r:Run) RETURN count(r) AS n")[0]["n"] == 0
