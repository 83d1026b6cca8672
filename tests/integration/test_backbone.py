"""The Neo4j layer against a real server: schema, idempotent writes, safety, reads, export."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph_engine.errors import QueryError, SchemaError
from graph_engine.records import EdgeRecord, NodeRecord

pytestmark = pytest.mark.neo4j

INJECTION = 'x"}) DETACH DELETE n //'


def small_graph(graph):
    graph.upsert_nodes([
        NodeRecord("Disease", "DOID:1", "lung cancer", synonyms=("NSCLC", "carcinoma of lung"), source="t"),
        NodeRecord("Disease", "DOID:2", "asthma", source="t"),
        NodeRecord("Drug", "DRUGBANK:DB1", "cisplatin", source="t"),
        NodeRecord("Drug", "DRUGBANK:DB2", "salbutamol", source="t"),
        NodeRecord("Gene", "NCBIGene:1", "EGFR", source="t"),
    ])
    graph.upsert_relationships([
        EdgeRecord("TREATS", "Drug", "DRUGBANK:DB1", "Disease", "DOID:1", source="t"),
        EdgeRecord("TREATS", "Drug", "DRUGBANK:DB2", "Disease", "DOID:2", source="t"),
        EdgeRecord("BINDS", "Drug", "DRUGBANK:DB1", "Gene", "NCBIGene:1", source="t", properties={"weight": 2.5}),
        EdgeRecord("ASSOCIATES", "Disease", "DOID:1", "Gene", "NCBIGene:1", source="t"),
    ])


def snapshot(graph):
    nodes = graph.read("MATCH (n) RETURN labels(n) AS l, properties(n) AS p ORDER BY n.id")
    rels = graph.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b, properties(r) AS p ORDER BY a, t, b"
    )
    return nodes, rels


def test_schema_bootstrap_is_idempotent(graph):
    graph.ensure_schema()
    graph.ensure_schema()
    constraints = graph.read("SHOW CONSTRAINTS YIELD labelsOrTypes, properties RETURN labelsOrTypes, properties")
    covered = {c["labelsOrTypes"][0] for c in constraints if c["properties"] == ["id"]}
    assert set(graph.schema.labels) <= covered
    indexes = graph.read("SHOW INDEXES YIELD name, type, labelsOrTypes, properties, state RETURN *")
    fulltext = [i for i in indexes if i["type"] == "FULLTEXT"]
    assert len(fulltext) == 1 and set(fulltext[0]["labelsOrTypes"]) == set(graph.schema.entity_labels)
    assert fulltext[0]["properties"] == ["name", "synonyms"]
    name_indexes = {i["labelsOrTypes"][0] for i in indexes if i["type"] == "RANGE" and i["properties"] == ["name"]}
    assert set(graph.schema.entity_labels) <= name_indexes
    assert all(i["state"] == "ONLINE" for i in indexes)


def test_upserts_are_idempotent_and_lists_are_unions(graph):
    small_graph(graph)
    first = snapshot(graph)
    small_graph(graph)
    assert snapshot(graph) == first
    graph.upsert_nodes([NodeRecord("Disease", "DOID:1", None, synonyms=("NSCLC", "lung ca"), source="other")])
    node = graph.get("DOID:1", "Disease")
    assert node.name == "lung cancer"  # a missing name does not erase the stored one
    assert node.properties["synonyms"] == ["NSCLC", "carcinoma of lung", "lung ca"]
    assert node.properties["sources"] == ["t", "other"]


def test_injection_string_is_stored_as_text_and_harms_nothing(graph):
    small_graph(graph)
    before = graph.counts()
    graph.upsert_nodes([NodeRecord("Drug", "DRUGBANK:DB666", INJECTION, synonyms=(INJECTION,), source=INJECTION)])
    graph.upsert_relationships([EdgeRecord("TREATS", "Drug", "DRUGBANK:DB666", "Disease", "DOID:1",
                                           source=INJECTION, properties={"note": INJECTION})])
    after = graph.counts()
    assert after["Drug"] == before["Drug"] + 1 and after["Disease"] == before["Disease"]
    assert after["TREATS"] == before["TREATS"] + 1
    assert graph.get("DRUGBANK:DB666").name == INJECTION
    assert graph.query("MATCH (d:Drug) WHERE d.name = $n RETURN d.id AS id", {"n": INJECTION}) == [{"id": "DRUGBANK:DB666"}]
    hits = graph.search(INJECTION)  # Lucene syntax is escaped, not interpreted
    assert hits and hits[0][0].id == "DRUGBANK:DB666"


@pytest.mark.parametrize("label", ["Disease) DETACH DELETE (n", "Nope", "disease"])
def test_labels_not_in_schema_are_refused_before_any_query(graph, label):
    with pytest.raises(SchemaError):
        graph.upsert_nodes([NodeRecord(label, "X:1", "x")])
    with pytest.raises(SchemaError):
        graph.upsert_relationships([EdgeRecord("TREATS]->() DELETE r //", "Drug", "a", "Disease", "b")])
    with pytest.raises(SchemaError):
        graph.write_node_properties("Drug", [{"id": "DRUGBANK:DB1", "bad key} SET x": 1}])
    assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0


def test_relationship_batch_with_missing_endpoint_is_rolled_back(graph):
    small_graph(graph)
    before = graph.counts()["TREATS"]
    with pytest.raises(QueryError, match="rolled back"):
        graph.upsert_relationships([
            EdgeRecord("TREATS", "Drug", "DRUGBANK:DB2", "Disease", "DOID:1"),
            EdgeRecord("TREATS", "Drug", "DRUGBANK:DB2", "Disease", "DOID:404"),
        ])
    assert graph.counts()["TREATS"] == before
    assert graph.missing_ids("Disease", ["DOID:1", "DOID:404"]) == {"DOID:404"}


@pytest.mark.parametrize("query", [
    "MATCH (n) DETACH DELETE n",
    "CREATE (:Drug {id: 'x'})",
    "MATCH (n:Drug) SET n.name = 'y'",
    "CREATE INDEX x IF NOT EXISTS FOR (n:Drug) ON (n.foo)",
    "MERGE (n:Gene {id: 'z'}) RETURN n",
])
def test_query_api_refuses_writes(graph, query):
    small_graph(graph)
    before = snapshot(graph)
    with pytest.raises(QueryError, match="refused"):
        graph.query(query)
    assert snapshot(graph) == before


def test_read_api(graph):
    small_graph(graph)
    rows = graph.query("MATCH (d:Drug)-[:TREATS]->(x:Disease {id: $id}) RETURN d.name AS name", {"id": "DOID:1"})
    assert rows == [{"name": "cisplatin"}]
    hits = graph.search("NSCLC")
    assert hits[0][0].id == "DOID:1" and hits[0][0].label == "Disease"
    assert graph.search("carcinoma lung", labels=["Drug"]) == []
    nb = graph.neighbours("DRUGBANK:DB1", direction="out")
    assert {(n.type, n.node.id) for n in nb} == {("TREATS", "DOID:1"), ("BINDS", "NCBIGene:1")}
    assert [n.node.id for n in graph.neighbours("NCBIGene:1", rel_type="ASSOCIATES", direction="in")] == ["DOID:1"]
    assert graph.get("DOID:404") is None
    with pytest.raises(ValueError):
        graph.neighbours("DOID:1", direction="sideways")


def test_write_back_properties_and_top(graph):
    small_graph(graph)
    n = graph.write_node_properties("Drug", [
        {"id": "DRUGBANK:DB1", "pagerank": np.float32(0.75), "pagerank_run": "r1"},
        {"id": "DRUGBANK:DB2", "pagerank": 0.25, "pagerank_run": "r1"},
        {"id": "DRUGBANK:DB404", "pagerank": 0.5, "pagerank_run": "r1"},
    ])
    assert n == 2
    top = graph.top("Drug", by="pagerank", k=5)
    assert [t.id for t in top] == ["DRUGBANK:DB1", "DRUGBANK:DB2"]
    assert top[0].score == pytest.approx(0.75)


def test_export_matches_networkx_view(graph):
    small_graph(graph)
    m = graph.export_csr(weight="weight")
    g = nx.DiGraph()
    for r in graph.read("MATCH (a)-[r]->(b) RETURN a.id AS a, b.id AS b, coalesce(r.weight, 1.0) AS w"):
        g.add_edge(r["a"], r["b"], weight=r["w"])
    assert m.matrix.nnz == g.number_of_edges() == 4
    for a, b, w in g.edges(data="weight"):
        la = graph.get(a).label
        lb = graph.get(b).label
        assert m.matrix[m.index_of(la, a), m.index_of(lb, b)] == pytest.approx(w)
    sub = graph.export(labels=["Drug", "Disease"], rel_types=["TREATS"])
    assert list(sub.edges) == [("Drug", "TREATS", "Disease")] and sub.num_edges == 2
    sym = graph.export_csr(symmetric=True)
    assert (sym.matrix != sym.matrix.T).nnz == 0


def test_runs_are_recorded(graph):
    run = graph.create_run("test", "noop", {"alpha": 0.5})
    graph.finish_run(run, {"auc": 0.9})
    row = graph.read("MATCH (r:Run {id: $id}) RETURN r.status AS s, r.params AS p, r.metrics AS m", {"id": run})[0]
    assert row["s"] == "succeeded" and '"alpha": 0.5' in row["p"] and '"auc": 0.9' in row["m"]
