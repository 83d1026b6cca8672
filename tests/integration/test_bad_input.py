"""Issue 21 items 8-11 against a real Neo4j: the index key limit is the server's, oversized values are
rejected per row on the row and column paths (the rest of the load goes on), `ingest graph` / `ingest text`
report read = written + rejected, in text and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import neo4j
import pytest

from graph_engine.client import GraphClient
from graph_engine.errors import IngestError
from graph_engine.limits import INDEX_KEY_MAX_BYTES
from ingest.curated import load_graph
from tests.conftest import REPO
from tests.integration.test_ingest_graph import EDGES_HEADER, NODES_HEADER, write

pytestmark = pytest.mark.neo4j


class RowPath(GraphClient):
    column_writer = None  # type: ignore[assignment]


def _exactly(n_bytes: int, char: str) -> str:
    """A string of exactly ``n_bytes`` UTF-8 bytes made of ``char`` (padded with ASCII)."""
    width = len(char.encode())
    return char * (n_bytes // width) + "a" * (n_bytes % width)


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])
def test_index_key_limit_is_the_servers(graph, neo4j_driver, char):
    """INDEX_KEY_MAX_BYTES fits a uniqueness constraint (id) and a name index; one byte more is refused."""
    with neo4j_driver.session(database=graph.database) as s:
        for prop in ("id", "name"):
            fits = _exactly(INDEX_KEY_MAX_BYTES, char)
            assert len(fits.encode()) == INDEX_KEY_MAX_BYTES
            s.run(f"CREATE (:Disease {{id: $id, {prop}: $v}})" if prop == "name" else "CREATE (:Disease {id: $v})",
                  id=f"fits-{prop}", v=fits).consume()
            too_big = _exactly(INDEX_KEY_MAX_BYTES + 1, char)
            with pytest.raises(neo4j.exceptions.Neo4jError, match="too large to index"):
                s.run(f"CREATE (:Disease {{id: $id, {prop}: $v}})" if prop == "name" else "CREATE (:Disease {id: $v})",
                      id=f"big-{prop}", v=too_big).consume()
    assert graph.read("MATCH (d:Disease) RETURN count(d) AS n")[0]["n"] == 2


def _bad_generic(tmp_path: Path) -> tuple[Path, Path]:
    nodes = write(tmp_path / "nodes.csv", "id,label,name,score:float\n"
                  "DOID:1,Disease,one,0.5\n"
                  f"DOID:{'9' * 20_000},Disease,huge id,1\n"                     # line 3
                  f"DOID:3,Disease,{'é' * (INDEX_KEY_MAX_BYTES // 2 + 1)},1\n"   # line 4: name over the limit
                  "DOID:4,Disease,\"four\nlines\n\nlong\",NaN\n"                 # lines 5-8: NaN
                  "DOID:5,Disease,\"five\non two lines\",2\n")                   # lines 9-10
    edges = write(tmp_path / "edges.csv", "source,type,target,weight:float\n"
                  "DOID:1,RESEMBLES,DOID:5,1\n"
                  f"DOID:1,RESEMBLES,DOID:{'9' * 20_000},1\n"                    # line 3
                  "DOID:5,RESEMBLES,DOID:1,-inf\n")                              # line 4
    return nodes, edges


@pytest.mark.parametrize("path", ["row", "column"])
def test_bad_generic_rows_are_rejected_and_the_load_goes_on(graph, neo4j_driver, tmp_path, path):
    client = RowPath(neo4j_driver, graph.database) if path == "row" else graph
    nodes, edges = _bad_generic(tmp_path)
    rejects = tmp_path / "rejects.tsv"
    s = load_graph(client, "generic", nodes, edges, on_error="skip", rejects_path=rejects, progress=False)
    assert (s.read, s.written, s.rejected) == (8, 3, 5) and s.balanced()
    ids = [r["id"] for r in graph.read("MATCH (d:Disease) RETURN d.id AS id ORDER BY id")]
    assert ids == ["DOID:1", "DOID:5"]
    assert graph.get("DOID:5", "Disease").name == "five\non two lines"
    assert graph.read("MATCH (a)-[r:RESEMBLES]->(b) RETURN a.id AS a, b.id AS b, r.weight AS w") == \
        [{"a": "DOID:1", "b": "DOID:5", "w": 1.0}]
    got = [line.split("\t")[:3] for line in rejects.read_text(encoding="utf-8").splitlines()[1:]]
    assert [(Path(f).name, n) for f, n, _ in got] == [("nodes.csv", "3"), ("nodes.csv", "4"), ("nodes.csv", "5"),
                                                     ("edges.csv", "3"), ("edges.csv", "4")]
    assert all("limit is 8,164 bytes" in r for _, n, r in got[:2]) and "'NaN' is not a finite number" in got[2][2]
    with pytest.raises(IngestError) as err:  # --on-error fail: the first bad row, never a server error
        load_graph(client, "generic", nodes, edges, progress=False)
    assert err.value.line == 3 and "limit is 8,164 bytes" in err.value.reason


@pytest.mark.parametrize("path", ["row", "column"])
def test_oversized_hetionet_values_are_rejected(graph, neo4j_driver, tmp_path, path):
    client = RowPath(neo4j_driver, graph.database) if path == "row" else graph
    big = "Gene::" + "1" * 9000
    nodes = write(tmp_path / "n.tsv", NODES_HEADER + "Gene::1\tA1BG\tGene\nGene::2\tA2M\tGene\n"
                  f"{big}\tbig\tGene\nGene::3\t{'n' * 9000}\tGene\n")
    edges = write(tmp_path / "e.sif", EDGES_HEADER + "Gene::1\tGiG\tGene::2\n" + f"Gene::1\tGiG\t{big}\n"
                  + "Gene::2\tGiG\tGene::1\n")
    s = load_graph(client, "hetionet", nodes, edges, on_error="skip", rejects_path=tmp_path / "r.tsv", progress=False)
    assert (s.read, s.written, s.rejected) == (7, 4, 3) and s.balanced()
    assert graph.read("MATCH (g:Gene) RETURN count(g) AS n")[0]["n"] == 2
    assert graph.read("MATCH ()-[r:INTERACTS_WITH]->() RETURN count(r) AS n")[0]["n"] == 2


def cli(env, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], env=dict(env, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, cwd=REPO, timeout=timeout)


def test_cli_ingest_graph_json_and_warnings(graph, neo4j_env, tmp_path):
    nodes, edges = _bad_generic(tmp_path)
    out = cli(neo4j_env, "ingest", "graph", "--format", "generic", "--nodes", str(nodes), "--edges", str(edges),
              "--on-error", "skip", "--quiet", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert (d["read"], d["written"], d["rejected"]) == (8, 3, 5) and d["read"] == d["written"] + d["rejected"]
    assert "Traceback" not in out.stderr and "rejected rows written to" in out.stderr
    # a header-only edges file loads with a warning; a zero-byte one is one error line
    header_only = write(tmp_path / "none.csv", "source,type,target\n")
    out = cli(neo4j_env, "ingest", "graph", "--format", "generic", "--nodes", str(nodes), "--edges", str(header_only),
              "--on-error", "skip", "--quiet")
    assert out.returncode == 0 and f"warning: {header_only}: no data rows" in out.stderr
    assert "read 5 = written 2 + rejected 3" in out.stdout
    empty = write(tmp_path / "empty.csv", "")
    out = cli(neo4j_env, "ingest", "graph", "--format", "generic", "--nodes", str(empty), "--edges", str(edges), "--quiet")
    assert out.returncode != 0
    assert out.stderr.strip().splitlines() == [f"Error: {empty}: empty file: no header row (expected at least the "
                                               "columns ['id', 'label'])"]
    long = write(tmp_path / "long.csv", f"id,label,{'c' * 70}\nDOID:1,Disease,x\n")
    out = cli(neo4j_env, "ingest", "graph", "--format", "generic", "--nodes", str(long), "--edges", str(edges), "--quiet")
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith(f"Error: {long}, line 1: column name 'cccc") and "the limit is 63" in out.stderr


def test_cli_ingest_text_rejects_oversized_and_duplicate_ids(graph, neo4j_env, tmp_path):
    src = tmp_path / "docs.jsonl"
    docs = [{"id": "d1", "text": "Metformin treats type 2 diabetes."},
            {"id": "P" * 20_000, "text": "Cisplatin causes nephrotoxicity."},   # line 2
            {"id": "d3", "text": "Aspirin treats pain."},
            {"id": "d1", "text": "Warfarin causes bleeding."}]                 # line 4: duplicate
    src.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = cli(neo4j_env, "ingest", "text", "--input", str(src), "--no-ner", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert (d["read"], d["written"], d["rejected"]) == (4, 2, 2) and d["read"] == d["written"] + d["rejected"]
    # relations counted by type; on an empty graph every extracted relation is written or said why not
    assert d["relations"] >= 2 and sum(d["relations_by_type"].values()) == d["relations"]
    assert sum(d["relation_evidence_written_by_type"].values()) == d["relation_evidence_written"] >= 1
    assert d["relations"] == d["relation_evidence_written"] + d["relations_not_written"]
    assert d["relations_not_written"] == d["relations_not_asserted"] + d["relations_unlinked"] + d["relations_unsupported"]
    # the other documents of the chunk are written; the first d1 wins
    assert [r["id"] for r in graph.read("MATCH (a:Article) RETURN a.id AS id ORDER BY id")] == ["d1", "d3"]
    from ingest.text.pipeline import extract_text, load_pipeline

    nlp = load_pipeline(ner=False)
    first, duplicate = ({m.id for m in extract_text(nlp, d["text"]).mentions if m.id} for d in (docs[0], docs[3]))
    assert first and duplicate and not first & duplicate
    mentioned = graph.read("MATCH (:Article {id: 'd1'})-[:MENTIONS]->(e) RETURN collect(e.id) AS ids")[0]["ids"]
    assert set(mentioned) == first  # nothing of the duplicate was merged into it
    err = out.stderr
    assert f"{src}, line 2: document 'PPP" in err and "limit is 8,164 bytes" in err
    assert f"{src}, line 4: duplicate document id 'd1': the first one, at line 1, is kept" in err
    plain = cli(neo4j_env, "ingest", "text", "--input", str(src), "--no-ner")
    assert plain.returncode == 0 and plain.stdout.startswith("read 4 = written 2 + rejected 2 · ")
    assert "TREATS" in plain.stdout and "0 new relation evidences" in plain.stdout  # by type; written once
