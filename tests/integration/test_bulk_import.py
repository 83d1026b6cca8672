"""The bulk first-load path (neo4j-admin database import) on a throwaway managed server."""

from __future__ import annotations

import pytest

from graph_engine.client import GraphClient
from graph_engine.connect import connect
from graph_engine.errors import IngestError
from ingest.curated import bulk_load_graph, load_graph
from ingest.demo import demo_files
from tests.integration.test_managed_server import server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def state(g: GraphClient):
    nodes = g.read("MATCH (n) RETURN n.id AS id, labels(n) AS l, properties(n) AS p ORDER BY id, l[0]")
    rels = g.read("MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b, properties(r) AS p ORDER BY a, t, b")
    return nodes, rels


def test_bulk_equals_online_and_refuses_non_empty(server, tmp_path):  # noqa: F811
    settings = server.settings
    nodes, edges = demo_files()
    summary = bulk_load_graph(settings, "hetionet", nodes, edges, progress=False)
    assert (summary.read, summary.written, summary.rejected) == (5374, 5374, 0)
    info = server.running()
    s = settings.with_overrides(uri=info.uri, password=info.password)
    with connect(s) as driver:
        g = GraphClient(driver)
        bulk_state = state(g)
        assert len(bulk_state[0]) == 1789 and len(bulk_state[1]) == 3585
        # the schema is in place after a bulk load, and an online reload changes nothing
        assert any(c["labelsOrTypes"] == ["Drug"] for c in g.read("SHOW CONSTRAINTS YIELD labelsOrTypes RETURN *"))
        again = load_graph(g, "hetionet", nodes, edges, progress=False)
        assert again.rejected == 0
        assert state(g) == bulk_state
    with pytest.raises(IngestError, match="--force"):
        bulk_load_graph(settings, "hetionet", nodes, edges, progress=False)
    broken = tmp_path / "broken.sif"
    broken.write_text("source\tmetaedge\ttarget\nCompound::DB00014\tCtD\tDisease::DOID:404\n")
    with pytest.raises(IngestError, match="line 2.*missing endpoint"):
        bulk_load_graph(settings, "hetionet", nodes, broken, progress=False, force=True)
    with connect(s.with_overrides(uri=server.running().uri)) as driver:
        assert len(state(GraphClient(driver))[1]) == 3585  # a failed bulk load leaves the graph as it was


def test_bulk_rejects_bad_rows_and_keeps_multiline_values(server, tmp_path):  # noqa: F811
    """Issue 21 items 8-10 on the bulk path: oversized ids and NaN rejected with their lines, the rest imported,
    a quoted multi-line value imported whole (neo4j-admin then runs with --multiline-fields)."""
    from graph_engine.limits import INDEX_KEY_MAX_BYTES

    nodes = tmp_path / "nodes.csv"
    nodes.write_text("id,label,name,score:float\n"
                     "DOID:1,Disease,\"back\npain\",0.5\n"                 # lines 2-3
                     f"DOID:{'9' * INDEX_KEY_MAX_BYTES},Disease,big,1\n"   # line 4
                     "DOID:3,Disease,three,nan\n"                          # line 5
                     "DOID:4,Disease,four,2\n", encoding="utf-8")
    edges = tmp_path / "edges.csv"
    edges.write_text("source,type,target\nDOID:1,RESEMBLES,DOID:4\nDOID:4,RESEMBLES,DOID:3\n", encoding="utf-8")
    rejects = tmp_path / "rejects.tsv"
    summary = bulk_load_graph(server.settings, "generic", nodes, edges, on_error="skip", rejects_path=rejects,
                              progress=False)
    assert (summary.read, summary.written, summary.rejected) == (6, 3, 3) and summary.balanced()
    assert [line.split("\t")[1] for line in rejects.read_text(encoding="utf-8").splitlines()[1:]] == ["4", "5", "3"]
    info = server.running()
    with connect(server.settings.with_overrides(uri=info.uri, password=info.password)) as driver:
        g = GraphClient(driver)
        assert [(r["id"], r["name"]) for r in g.read("MATCH (d:Disease) RETURN d.id AS id, d.name AS name ORDER BY id")] \
            == [("DOID:1", "back\npain"), ("DOID:4", "four")]
        assert g.read("MATCH (:Disease {id: 'DOID:1'})-[r:RESEMBLES]->(:Disease {id: 'DOID:4'}) RETURN count(r) AS n")[0]["n"] == 1
