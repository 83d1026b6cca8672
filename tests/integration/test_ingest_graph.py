"""Curated-source ingest against a real server: full Hetionet, idempotency, bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from graph_engine.errors import IngestError
from ingest.curated import load_graph
from ingest.demo import demo_files
from tests.conftest import shared_data

pytestmark = pytest.mark.neo4j

NODES_HEADER = "id\tname\tkind\n"
EDGES_HEADER = "source\tmetaedge\ttarget\n"


def write(path: Path, text: str | bytes, gz: bool = False) -> Path:
    data = text.encode() if isinstance(text, str) else text
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def full_state(graph):
    nodes = graph.read("MATCH (n) RETURN n.id AS id, labels(n) AS l, properties(n) AS p ORDER BY id, l[0]")
    rels = graph.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b, properties(r) AS p ORDER BY a, t, b"
    )
    return nodes, rels


def test_whole_shared_hetionet_loads_and_reload_changes_nothing(graph, tmp_path):
    nodes = shared_data("hetionet", "hetionet-v1.0-nodes.tsv")
    edges = shared_data("hetionet", "hetionet-v1.0-edges-sample.sif.gz")
    summary = load_graph(graph, "hetionet", nodes, edges, progress=False, batch_size=5000)
    assert summary.rejected == 0 and summary.balanced()
    assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 47031
    assert graph.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"] == 99370
    # CURIEs and readable types
    assert graph.get("DRUGBANK:DB00997", "Drug").name == "Doxorubicin"
    assert graph.get("NCBIGene:5742", "Gene") is not None
    assert graph.read("MATCH (:Drug)-[r:TREATS]->(:Disease) RETURN count(r) AS n")[0]["n"] == 508
    types = {r["t"] for r in graph.read("MATCH ()-[r]->() RETURN DISTINCT type(r) AS t")}
    assert all(t.isupper() for t in types) and "TREATS" in types
    before = full_state(graph)
    again = load_graph(graph, "hetionet", nodes, edges, progress=False, batch_size=5000)
    assert again.read == summary.read and again.rejected == 0
    assert full_state(graph) == before


def test_broken_line_stops_with_its_line_and_batch_is_not_written(graph, tmp_path):
    nodes = write(tmp_path / "n.tsv", NODES_HEADER
                  + "Compound::DB00001\tLepirudin\tCompound\n"
                  + "Disease::DOID:1\tdisease one\tDisease\n"
                  + "Gene::1\tA1BG\tGene\n")
    edges = write(tmp_path / "e.sif", EDGES_HEADER
                  + "Compound::DB00001\tCtD\tDisease::DOID:1\n"
                  + "Compound::DB00001\tCbG\n"  # line 3: malformed
                  + "Compound::DB00001\tCbG\tGene::1\n", gz=True)
    with pytest.raises(IngestError) as err:
        load_graph(graph, "hetionet", nodes, edges, progress=False)
    assert err.value.line == 3 and err.value.path == str(edges)
    assert "line 3" in str(err.value) and "expected 3 tab-separated columns" in str(err.value)
    assert graph.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"] == 0


@pytest.mark.parametrize("bad_line, reason", [
    ("Compound::DB00001\tXyZ\tDisease::DOID:1\n", "unknown metaedge"),
    ("Compound::DB00001\tCtD\tDisease::DOID:404\n", "missing endpoint"),
    ("Planet::Mars\tCtD\tDisease::DOID:1\n", "unknown kind"),
    ("Compound::DB00001\tCtD\tGene::1\n", "joins Compound to Disease"),
])
def test_each_kind_of_bad_row_is_named(graph, tmp_path, bad_line, reason):
    nodes = write(tmp_path / "n.tsv", NODES_HEADER + "Compound::DB00001\tLepirudin\tCompound\n"
                  "Disease::DOID:1\tdisease one\tDisease\nGene::1\tA1BG\tGene\n")
    edges = write(tmp_path / "e.sif", EDGES_HEADER + "Compound::DB00001\tCbG\tGene::1\n" + bad_line)
    with pytest.raises(IngestError, match=reason) as err:
        load_graph(graph, "hetionet", nodes, edges, progress=False)
    assert err.value.line == 3


def test_skip_mode_rejects_file_and_counts_balance(graph, tmp_path):
    nodes = write(tmp_path / "n.tsv", (NODES_HEADER + "Compound::DB00001\tLepirudin\tCompound\n"
                  "Disease::DOID:1\tdisease one\tDisease\n").encode()
                  + b"Gene::1\tbad \xff\xfe bytes\tGene\n" + b"Gene::2\tA2M\tGene\n")
    edges = write(tmp_path / "e.sif", EDGES_HEADER
                  + "Compound::DB00001\tCtD\tDisease::DOID:1\n"
                  + "Compound::DB00001\tCbG\tGene::1\n"      # endpoint rejected with its node
                  + "Compound::DB00001\tCbG\tGene::2\n"
                  + "garbage\n"
                  + "Compound::DB00001\tCtD\tDisease::DOID:2\n")
    rejects = tmp_path / "rejects.tsv"
    s = load_graph(graph, "hetionet", nodes, edges, on_error="skip", rejects_path=rejects, progress=False)
    assert s.read == s.written + s.rejected
    assert (s.read, s.written, s.rejected) == (9, 5, 4)
    assert s.balanced()
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "file\tline\treason\traw" and len(lines) == 5
    reasons = "\n".join(lines)
    assert "invalid UTF-8" in reasons and "missing endpoint" in reasons and "expected 3" in reasons
    assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 3
    assert graph.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"] == 2


def test_generic_format_with_types_and_labels(graph, tmp_path):
    nodes = write(tmp_path / "nodes.csv",
                  "id,label,name,synonyms,approved:bool,year:int\n"
                  "DRUGBANK:DB9,Drug,aspirin,ASA|acetylsalicylic acid,true,1899\n"
                  "DOID:9,Disease,pain,,,\n")
    edges = write(tmp_path / "edges.csv",
                  "source,type,target,confidence:float\n"
                  "DRUGBANK:DB9,TREATS,DOID:9,0.9\n")
    s = load_graph(graph, "generic", nodes, edges, progress=False)
    assert (s.read, s.written, s.rejected) == (3, 3, 0)
    drug = graph.get("DRUGBANK:DB9", "Drug")
    assert drug.properties["approved"] is True and drug.properties["year"] == 1899
    assert drug.properties["synonyms"] == ["ASA", "acetylsalicylic acid"]
    assert graph.search("acetylsalicylic")[0][0].id == "DRUGBANK:DB9"
    rel = graph.read("MATCH (:Drug)-[r:TREATS]->(:Disease) RETURN r.confidence AS c, r.sources AS s")[0]
    assert rel == {"c": 0.9, "s": ["nodes"]}
    bad = write(tmp_path / "bad.csv", "source,type,target\nDRUGBANK:DB9,HEALS,DOID:9\n")
    with pytest.raises(IngestError, match="unknown relationship type 'HEALS'") as err:
        load_graph(graph, "generic", nodes, bad, progress=False)
    assert err.value.line == 2


def test_demo_graph_is_connected_and_loads(graph):
    import networkx as nx

    nodes, edges = demo_files()
    s = load_graph(graph, "hetionet", nodes, edges, progress=False)
    assert s.rejected == 0 and s.read > 5000
    m = graph.export_csr(symmetric=True)
    g = nx.from_scipy_sparse_array(m.matrix)
    assert nx.is_connected(g) and g.number_of_nodes() == graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"]


def run_cli(args, env, check=True):
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", *args], env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"medkg {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_cli_ingest_and_query_contract(graph, neo4j_env, tmp_path):
    nodes, edges = demo_files()
    out = run_cli(["ingest", "graph", "--format", "hetionet", "--nodes", str(nodes), "--edges", str(edges), "--quiet"], neo4j_env)
    assert "read 5374 = written 5374 + rejected 0" in out.stdout
    q = run_cli(["query", "MATCH (d:Disease {id: $id}) RETURN d.name AS name", "--param", "id=DOID:2377", "--json"], neo4j_env)
    assert [json.loads(l) for l in q.stdout.splitlines()] == [{"name": "multiple sclerosis"}]
    q = run_cli(["query", "RETURN $n + 1 AS x", "-p", "n=41", "--json"], neo4j_env)
    assert json.loads(q.stdout) == {"x": 42}
    refused = run_cli(["query", "MATCH (n) DETACH DELETE n"], neo4j_env, check=False)
    assert refused.returncode != 0 and "refused" in refused.stderr
    assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 1789
    broken = write(tmp_path / "broken.sif", EDGES_HEADER + "Compound::DB00014\tCtD\n")
    bad = run_cli(["ingest", "graph", "--format", "hetionet", "--nodes", str(nodes), "--edges", str(broken), "--quiet"],
                  neo4j_env, check=False)
    assert bad.returncode != 0 and "line 2" in bad.stderr


def test_hetionet_reader_and_ingest_export_give_the_same_graph(graph):
    """One mapping: the Neo4j-free reader (recommend) and ingest -> Neo4j -> export agree exactly."""
    from recommend.hetionet_tables import read_hetionet

    nodes, edges = demo_files()
    direct = read_hetionet(nodes.parent, edges_file=edges.name, nodes_file=nodes.name)
    load_graph(graph, "hetionet", nodes, edges, progress=False)
    exported = graph.export()
    assert {l: len(v) for l, v in direct.nodes.items()} == {l: len(v) for l, v in exported.nodes.items()}
    assert set(direct.edges) == set(exported.edges)
    assert any(str(i).startswith("PATHWAYCOMMONS:") for i in direct.nodes.get("Pathway", []))
    assert direct.fingerprint() == exported.fingerprint()
