"""Every Cypher statement the recommend layer sends, as parameterised text.

Labels cannot be parameters: the only label that varies (the target label,
``Disease`` or ``Patient``) is checked against :data:`TARGET_LABELS` before it is
put into text. Values always travel as parameters.
"""

from __future__ import annotations

from graph_engine.errors import SchemaError
from graph_engine.schema import default_schema

TARGET_LABELS: tuple[str, ...] = ("Disease", "Patient")


def check_target_label(label: str) -> str:
    """``label`` if recommendations may target it (``Disease``, ``Patient``), else SchemaError."""
    if label not in TARGET_LABELS:
        raise SchemaError(f"recommendation target label must be one of {TARGET_LABELS}, got {label!r}")
    return default_schema().check_label(label)


def read_recommendations(label: str) -> str:
    """Read a target's current recommendations, best first. Params: ``$target``, ``$method`` (or null)."""
    return (
        f"MATCH (t:{check_target_label(label)} {{id: $target}})<-[:FOR]-(r:Recommendation)-[:RECOMMENDS]->(d:Drug)\n"
        f"WHERE $method IS NULL OR r.method = $method\n"
        f"RETURN d.id AS drug, r.score AS score, r.rank AS rank, r.method AS method, r.run_id AS run_id,\n"
        f"  r.explanation AS explanation, r.flags AS flags\n"
        f"ORDER BY r.method, r.rank"
    )


#: A patient's profile for ``recommend_for_patient``. Params: ``$id``.
READ_PATIENT = """
MATCH (p:Patient {id: $id})
OPTIONAL MATCH (p)-[:HAS_CONDITION]->(c:Disease)
WITH p, collect(DISTINCT c.id) AS conditions
OPTIONAL MATCH (p)-[:TAKES]->(d:Drug)
WITH p, conditions, collect(DISTINCT d.id) AS current_drugs
OPTIONAL MATCH (p)-[:AVOIDS]->(s:SideEffect)
WITH p, conditions, current_drugs, collect(DISTINCT s.id) AS avoid_side_effects
OPTIONAL MATCH (p)-[:ALLERGIC_TO]->(a:Drug)
RETURN p.id AS id, coalesce(p.synthetic, false) AS synthetic, conditions, current_drugs,
       avoid_side_effects, collect(DISTINCT a.id) AS allergies
"""

#: All patient ids. No params.
LIST_PATIENTS = "MATCH (p:Patient) RETURN p.id AS id ORDER BY id"
# structures on Drug nodes (``medkg ingest structures``, DrugBank attach): the structure recommenders read them
DRUG_STRUCTURES = "MATCH (d:Drug) WHERE d.smiles IS NOT NULL RETURN d.id AS id, d.smiles AS smiles ORDER BY id"

_schema = default_schema()
for _label in ("Drug", "SideEffect"):
    _schema.check_label(_label)
for _rel in ("INTERACTS_WITH", "CAUSES"):
    _schema.check_relationship_type(_rel)

#: Drug-Drug ``INTERACTS_WITH`` with what the safety index needs (``SafetyIndex.from_graph``): curated ones
#: (any source other than 'text', or none recorded) and text-mined-only ones with
#: ``confidence >= $min_text_confidence``. Params: ``$min_text_confidence``.
READ_INTERACTIONS = """
MATCH (a:Drug)-[r:INTERACTS_WITH]->(b:Drug)
WHERE a.id <> b.id
  AND (any(s IN coalesce(r.sources, []) WHERE s <> 'text') OR NOT 'text' IN coalesce(r.sources, [])
       OR coalesce(r.confidence, -1.0) >= $min_text_confidence)
RETURN a.id AS a, b.id AS b, coalesce(r.sources, []) AS sources, r.confidence AS confidence,
       r.interaction_type AS interaction_type, r.evidence AS sentences, r.evidence_pmids AS evidence_pmids,
       r.evidence_scores AS evidence_scores
ORDER BY a, b
"""

#: ``(Drug)-[:CAUSES]->(SideEffect)`` pairs for the safety index. No params.
READ_DRUG_SIDE_EFFECTS = """
MATCH (d:Drug)-[:CAUSES]->(s:SideEffect)
RETURN DISTINCT d.id AS drug, s.id AS side_effect
ORDER BY drug, side_effect
"""
