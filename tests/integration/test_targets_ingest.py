"""TARGETS {action} into a real Neo4j: the action of the most confident evidence, actions per evidence, idempotent;
a relation whose gene has no id is not written."""

from __future__ import annotations

import pytest

from ingest.text.records import Document, Evidence, Relation
from ingest.text.writer import write_documents

pytestmark = pytest.mark.neo4j


def _doc(doc_id: str, rels: list[tuple[str, str, float, str | None]]) -> Document:
    text = "Imatinib inhibits ABL1 and activates nothing."
    out = []
    for k, (drug, gene, score, action) in enumerate(rels):
        ev = Evidence(doc_id, text, 0, len(text), 0, 8, 18 + k, 22 + k, "medkg.relations", "test")
        out.append(Relation(doc_id, "TARGETS", drug, gene, "Drug", "Gene", "Imatinib", "ABL1", False, False, score, ev, action))
    return Document(id=doc_id, text=text, title="t", source="test", relations=out)


def test_targets_action_is_written_once_per_evidence(graph) -> None:
    docs = [_doc("cp-1", [("DRUGBANK:DB00619", "NCBIGene:25", 0.6, "inhibitor"), ("DRUGBANK:DB00619", "", 0.9, "activator")]),
            _doc("cp-2", [("DRUGBANK:DB00619", "NCBIGene:25", 0.8, "antagonist")]),
            _doc("cp-3", [("DRUGBANK:DB00619", "NCBIGene:25", 0.7, "inhibitor")])]
    summary = write_documents(graph, docs)
    assert summary.relations == 3 and summary.skipped_relations == 1  # the unlinked gene is skipped
    rows = graph.read("MATCH (:Drug {id: $d})-[r:TARGETS]->(g:Gene) RETURN g.id AS g, r.action AS action, "
                      "r.evidence_actions AS actions, r.evidence_scores AS scores, r.evidence_count AS n",
                      {"d": "DRUGBANK:DB00619"})
    assert len(rows) == 1 and rows[0]["g"] == "NCBIGene:25" and rows[0]["n"] == 3
    assert sorted(zip(rows[0]["scores"], rows[0]["actions"])) == [(0.6, "inhibitor"), (0.7, "inhibitor"), (0.8, "antagonist")]
    assert rows[0]["action"] == "antagonist"  # the action of the most confident evidence
    before = graph.read("MATCH ()-[r:TARGETS]->() RETURN properties(r) AS p")
    again = write_documents(graph, docs)
    assert again.relations == 0 and graph.read("MATCH ()-[r:TARGETS]->() RETURN properties(r) AS p") == before
    assert graph.read("MATCH (g:Gene {id: ''}) RETURN g") == []
