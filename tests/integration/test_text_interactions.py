"""Typed, evidence-backed INTERACTS_WITH from text against a real Neo4j (issue 19): the shipped pipeline's
interaction type lands on the relationship, hedged advice is written, a re-run adds nothing."""

from __future__ import annotations

import pytest

from ingest.text.pipeline import extract_documents, load_pipeline
from ingest.text.records import Document
from ingest.text.writer import relation_evidence, write_documents

pytestmark = pytest.mark.neo4j

TEXTS = {
    "ddi-1": "Ketoconazole may increase the plasma concentrations of warfarin.",
    "ddi-2": "Warfarin should not be combined with aspirin because of the risk of bleeding.",
    "cid-1": "Cisplatin-induced nephrotoxicity was seen in 12 patients. Rats were given cisplatin. Acute renal failure developed.",
}


@pytest.fixture(scope="module")
def extracted() -> list[Document]:
    nlp = load_pipeline(ner=False)  # dictionary-only: deterministic and fast
    return list(extract_documents(nlp, [Document(id=k, text=v, source="test") for k, v in TEXTS.items()]))


def test_typed_interactions_are_written_once_with_their_evidence(graph, extracted) -> None:
    by_doc = {d.id: d for d in extracted}
    (hedged,) = [r for r in by_doc["ddi-1"].relations if r.type == "INTERACTS_WITH"]
    assert hedged.speculative and hedged.asserted and hedged.interaction_type in ("mechanism", "effect", "advise", "int")
    (advice,) = [r for r in by_doc["ddi-2"].relations if r.type == "INTERACTS_WITH"]
    assert not advice.negated and advice.interaction_type is not None

    summary = write_documents(graph, extracted)
    assert summary.articles == 3
    (keto,) = relation_evidence(graph, "DRUGBANK:DB01026", "DRUGBANK:DB00682", "INTERACTS_WITH")
    assert keto["interaction_type"] == hedged.interaction_type
    assert keto["evidence_count"] == 1 and keto["evidence_pmids"] == ["ddi-1"] and keto["sentences"] == [TEXTS["ddi-1"]]
    (warf,) = relation_evidence(graph, advice.subject, advice.object, "INTERACTS_WITH")
    assert warf["interaction_type"] == advice.interaction_type
    # the document-level CAUSES across sentences is written with the sentences that state it
    (arf,) = relation_evidence(graph, "DRUGBANK:DB00515", "MESH:D058186", "CAUSES")
    assert arf["evidence_pmids"] == ["cid-1"] and "Acute renal failure" in arf["sentences"][0]

    before = graph.read("MATCH ()-[r:INTERACTS_WITH]->() RETURN properties(r) AS p ORDER BY r.evidence_keys[0]")
    again = write_documents(graph, extracted)
    assert again.relations == 0
    assert graph.read("MATCH ()-[r:INTERACTS_WITH]->() RETURN properties(r) AS p ORDER BY r.evidence_keys[0]") == before
