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
