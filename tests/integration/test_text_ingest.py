"""Text ingest against a real Neo4j: shipped abstracts -> Articles, MENTIONS, evidence; twice -> no change."""

from __future__ import annotations

import pytest

from ingest.text.pipeline import extract_documents, load_pipeline, sample_abstracts
from ingest.text.readers import read_documents
from ingest.text.writer import relation_evidence, write_documents

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def extracted():
    nlp = load_pipeline(ner=False)  # dictionary-only: deterministic and fast
    return list(extract_documents(nlp, read_documents(sample_abstracts())))


def _state(graph):
    nodes = graph.read("MATCH (n) RETURN n.id AS id, labels(n) AS l, properties(n) AS p ORDER BY id, l[0]")
    rels = graph.read("MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b, properties(r) AS p ORDER BY a, t, b")
    return nodes, rels


def test_text_ingest_is_idempotent_and_keeps_evidence(graph, extracted) -> None:
    summary = write_documents(graph, extracted)
    assert summary.articles == 5 and summary.relations > 0 and summary.skipped_relations > 0
    first = _state(graph)

    arts = graph.read("MATCH (a:Article) RETURN a.id AS id, a.title AS title, a.year AS year, a.source AS source ORDER BY id")
    assert [a["id"] for a in arts] == [f"medkg-sample-{i}" for i in range(1, 6)]
    assert arts[0]["year"] == 2021 and arts[0]["source"] == "medkg-sample"

    mentions = graph.read(
        "MATCH (:Article {id: 'medkg-sample-1'})-[m:MENTIONS]->(d:Drug {id: 'DRUGBANK:DB00515'}) RETURN m.count AS n"
    )
    assert mentions == [{"n": 3}]  # Cisplatin, cisplatin, cisplatin

    (treats,) = relation_evidence(graph, "DRUGBANK:DB00331", "DOID:9352", "TREATS")  # metformin -> type 2 diabetes
    assert treats["evidence_count"] >= 1 and treats["pmids"] == ["medkg-sample-5"]
    assert any("treatment of type 2 diabetes" in s for s in treats["sentences"])
    assert 0 < treats["confidence"] <= 1 and treats["extractor"].startswith("medkg.relations@")

    # the negated statement (rifampicin did not cause hepatitis) is not asserted
    assert graph.read("MATCH (:Drug {id: 'DRUGBANK:DB01045'})-[r:CAUSES]->() RETURN r") == []

    write_documents(graph, extracted)  # same document ids again: nothing changes
    assert _state(graph) == first
