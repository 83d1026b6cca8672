"""Every batch job through a ``neo4j://`` routing URI (the scheme of a Neo4j cluster or Aura, ``neo4j+s://``).

The driver asks the server for a routing table and sends reads and writes where
it says; against the managed single server the table names that server. A job
that opened sessions without a database name or relied on ``bolt://`` direct
connections would fail here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.demo import demo_files
from ingest.text.pipeline import sample_abstracts

pytestmark = pytest.mark.neo4j

SAMPLES = Path(__file__).resolve().parents[2] / "models" / "data"


def test_every_job_works_through_a_routing_uri(graph, neo4j_env, tmp_path):
    from jobs.cli import main

    uri = neo4j_env["NEO4J_URI"]
    assert uri.startswith("bolt://"), uri
    env = {**neo4j_env, "NEO4J_URI": "neo4j://" + uri[len("bolt://"):], "MEDKG_HOME": str(tmp_path / "home")}
    nodes, edges = demo_files()
    jobs = [
        ["ingest", "graph", "--format", "hetionet", "--nodes", str(nodes), "--edges", str(edges), "--quiet"],
        ["ingest", "text", "--input", str(sample_abstracts()), "--no-ner"],
        ["enrich", "pagerank", "--quiet", "--device", "cpu"],
        ["enrich", "hits", "--quiet", "--device", "cpu"],
        ["enrich", "ppr", "--quiet", "--device", "cpu", "--seed", "DOID:2377"],
        ["enrich", "embed", "--dim", "8", "--epochs", "1", "--device", "cpu", "--quiet"],
        ["recommend", "fit", "--method", "metapath"],
        ["enrich", "recommend", "--no-explain"],
        ["enrich", "diagnose", "--kind", "text", "--input", str(SAMPLES / "sample_notes.jsonl"),
         "--add-label-diseases"],
    ]
    runner = CliRunner()
    for args in jobs:
        res = runner.invoke(main, args, env=env)
        assert res.exit_code == 0, f"medkg {' '.join(args)}:\n{res.output}"
    ran = graph.read("MATCH (r:Run) RETURN r.kind AS kind, r.status AS status")
    assert ran and all(r["status"] == "succeeded" for r in ran), ran
    checks = {
        "pagerank": "MATCH (n) WHERE n.pagerank IS NOT NULL RETURN count(n) AS n",
        "hits": "MATCH (n) WHERE n.hub IS NOT NULL RETURN count(n) AS n",
        "embedding": "MATCH (n) WHERE n.embedding IS NOT NULL RETURN count(n) AS n",
        "recommendations": "MATCH (r:Recommendation)-[:FOR]->(:Disease) RETURN count(r) AS n",
        "diagnoses": "MATCH (d:Diagnosis)-[:OF]->(:Case) RETURN count(d) AS n",
        "articles": "MATCH (a:Article)-[:MENTIONS]->() RETURN count(DISTINCT a) AS n",
        "relationships": "MATCH (:Drug)-[r:TREATS]->(:Disease) RETURN count(r) AS n",
    }
    got = {k: graph.read(q)[0]["n"] for k, q in checks.items()}
    assert all(v > 0 for v in got.values()), got
