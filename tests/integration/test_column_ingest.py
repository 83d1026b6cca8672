"""The column path of ``load_graph`` (CREATE when new, MERGE by internal id otherwise) against the row path.

The row path (the client without a column writer) is the reference: same graph,
same summary, on first loads, reloads, files with repeated rows and groups that
already hold relationships when the load starts.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from graph_engine.client import GraphClient
from graph_engine.errors import IngestError
from ingest.curated import load_graph
from tests.integration.test_ingest_graph import EDGES_HEADER, NODES_HEADER, full_state, write

pytestmark = pytest.mark.neo4j


class RowPath(GraphClient):
    column_writer = None  # type: ignore[assignment]


def _files(tmp_path: Path, seed: int = 3) -> tuple[Path, Path]:
    rng = random.Random(seed)
    genes = [f"Gene::{i}" for i in range(1, 301)]
    bps = [f"Biological Process::GO:{i:07d}" for i in range(1, 81)]
    compounds = [f"Compound::DB{i:05d}" for i in range(1, 41)]
    nodes = NODES_HEADER + "".join(f"{g}\tgene {g[6:]}\tGene\n" for g in genes)
    nodes += "".join(f"{b}\tprocess {b[-3:]}\tBiological Process\n" for b in bps)
    nodes += "".join(f"{c}\tdrug {c[-3:]}\tCompound\n" for c in compounds)
    nodes += f"{genes[0]}\tgene one again\tGene\n"  # a repeated node row: last name wins, one node
    rows = [f"{rng.choice(genes)}\tGpBP\t{rng.choice(bps)}" for _ in range(3000)]  # many repeats
    rows += [f"{rng.choice(compounds)}\tCbG\t{rng.choice(genes)}" for _ in range(500)]
    rows += [f"{rng.choice(genes)}\tGiG\t{rng.choice(genes)}" for _ in range(800)]
    rng.shuffle(rows)
    return (write(tmp_path / "nodes.tsv", nodes),
            write(tmp_path / "edges.sif.gz", EDGES_HEADER + "\n".join(rows) + "\n", gz=True))


def _summary(s):
    return ({k: (c.read, c.written, c.rejected) for k, c in s.nodes.items()},
            {k: (c.read, c.written, c.rejected) for k, c in s.edges.items()})


def _load(client, nodes, edges, **kw):
    return load_graph(client, "hetionet", nodes, edges, progress=False, batch_size=kw.pop("batch_size", 700), **kw)


def test_column_path_equals_row_path_first_load_and_reload(graph, neo4j_driver, tmp_path):
    nodes, edges = _files(tmp_path)
    row = RowPath(neo4j_driver, graph.database)
    ref_first = _summary(_load(row, nodes, edges))
    ref_state = full_state(graph)
    ref_reload = _summary(_load(row, nodes, edges))
    assert full_state(graph) == ref_state
    n_rels = len(ref_state[1])
    assert 0 < n_rels < 4300  # the file repeats rows: fewer relationships than rows

    graph.write("MATCH (n) DETACH DELETE n")
    col_first = _summary(_load(graph, nodes, edges))  # CREATE path: empty groups
    assert col_first == ref_first
    assert full_state(graph) == ref_state
    col_reload = _summary(_load(graph, nodes, edges))  # MERGE by internal id
    assert col_reload == ref_reload
    assert full_state(graph) == ref_state


def test_group_that_already_has_relationships_is_merged_not_duplicated(graph, neo4j_driver, tmp_path):
    nodes, edges = _files(tmp_path, seed=5)
    row = RowPath(neo4j_driver, graph.database)
    _load(row, nodes, edges)
    ref_state = full_state(graph)
    # keep the nodes and a third of each group's relationships (another source's earlier load)
    graph.write("MATCH ()-[r]->() WITH r, rand() AS x WHERE x < 0.66 DELETE r")
    s = _load(graph, nodes, edges, batch_size=250)
    assert s.balanced() and s.rejected == 0
    assert full_state(graph) == ref_state


def test_bad_rows_in_a_block_are_reported_as_by_the_row_path(graph, neo4j_driver, tmp_path):
    nodes, edges = _files(tmp_path, seed=7)
    good = edges.with_name("good.sif")
    import gzip

    lines = gzip.open(edges, "rt", encoding="utf-8").read().splitlines()
    lines.insert(400, "Gene::1\tGpBP\tBiological Process::GO:9999999")  # missing endpoint
    lines.insert(900, "Gene::2\tXyZ\tGene::3")  # unknown metaedge
    write(good, "\n".join(lines) + "\n")
    results = []
    for client in (RowPath(neo4j_driver, graph.database), graph):
        graph.write("MATCH (n) DETACH DELETE n")
        rejects = tmp_path / f"rejects-{type(client).__name__}.tsv"
        s = _load(client, nodes, good, on_error="skip", rejects_path=rejects)
        state = full_state(graph)
        with pytest.raises(IngestError) as err:
            _load(client, nodes, good)
        results.append((_summary(s), rejects.read_text().replace(str(good), "F"), state, str(err.value)))
    assert results[0] == results[1]
    assert "F\t401\tmissing endpoint" in results[0][1]
    assert "unknown metaedge 'XyZ'" in results[0][3] and "line 901" in results[0][3]
    assert results[0][0][1]["(unparsable)"] == (1, 0, 1)


def _node_lookups(plan) -> list[str]:
    """Every operator of a plan that produces nodes from the store (seeks and scans)."""
    found = []
    stack = [plan]
    while stack:
        op = stack.pop()
        name = op["operatorType"].split("@")[0]
        if "Node" in name and ("Seek" in name or "Scan" in name):
            found.append(name)
        stack.extend(op.get("children", []))
    return found


@pytest.mark.parametrize("statement", ["create", "merge"])
def test_column_statements_seek_by_internal_id_whatever_the_statistics(graph, neo4j_driver, tmp_path, statement):
    """On statistics taken while the labels were empty (a first load), the planner once chose a full
    ``id``-index scan per row for ``MATCH (a) WHERE id(a) = ... AND a:Label`` (12x slower first load).
    The statements must plan to an internal-id seek for both endpoints, before and after a load."""
    from graph_engine import cypher

    build = cypher.create_relationship_columns if statement == "create" else cypher.merge_relationship_columns
    query = build("Drug", "CAUSES", "SideEffect")
    params = {"s": ["a"], "t": ["b"], "sn": [0], "tn": [1], "src": "x", "sl": "Drug", "tl": "SideEffect"}
    nodes, edges = _files(tmp_path)
    for _ in range(2):  # empty database, then a loaded one (other statistics)
        with neo4j_driver.session(database=graph.database) as s:
            plan = s.run("EXPLAIN " + query, params).consume().plan
        lookups = _node_lookups(plan)
        assert lookups == ["NodeByIdSeek", "NodeByIdSeek"], lookups
        _load(graph, nodes, edges)
