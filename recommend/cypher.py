"""Every Cypher statement the recommend layer sends, as parameterised text.

Labels cannot be parameters: the only label that varies (the target label,
``Disease`` or ``Patient``) is checked against :data:`TARGET_LABELS` before it is
put into text. Values always travel as parameters.
"""

from __future__ import annotations

from graph_engine.errors import SchemaError
from graph_engine.schema import default_schema

TARGET_LABELS: tuple[str, ...] = ("Disease", "Patient")


def _target(label: str) -> str:
    if label not in TARGET_LABELS:
        raise SchemaError(f"recommendation target label must be one of {TARGET_LABELS}, got {label!r}")
    return default_schema().check_label(label)


def delete_recommendations(label: str) -> str:
    """Delete the recommendations of one method for a batch of targets.

    Params: ``$targets`` (list of target ids), ``$method``.
    """
    return (
        f"UNWIND $targets AS tid\n"
        f"MATCH (t:{_target(label)} {{id: tid}})<-[:FOR]-(r:Recommendation {{method: $method}})\n"
        f"DETACH DELETE r"
    )


def create_recommendations(label: str) -> str:
    """Create Recommendation nodes linked to their drug, target and run.

    Params: ``$rows`` with keys ``id, target, drug, score, rank, method, model, model_version,
    run_id, created_at (ISO 8601), explanation (JSON string), explanation_paths (list of str),
    flags (list of str)``.
    """
    return (
        f"UNWIND $rows AS row\n"
        f"MATCH (t:{_target(label)} {{id: row.target}})\n"
        f"MATCH (d:Drug {{id: row.drug}})\n"
        f"CREATE (r:Recommendation {{id: row.id, score: row.score, rank: row.rank, method: row.method,\n"
        f"  model: row.model, model_version: row.model_version, run_id: row.run_id,\n"
        f"  created_at: datetime(row.created_at), explanation: row.explanation,\n"
        f"  explanation_paths: row.explanation_paths, flags: row.flags}})\n"
        f"CREATE (r)-[:RECOMMENDS]->(d)\n"
        f"CREATE (r)-[:FOR]->(t)\n"
        f"WITH r, row\n"
        f"OPTIONAL MATCH (run:Run {{id: row.run_id}})\n"
        f"FOREACH (_ IN CASE WHEN run IS NULL THEN [] ELSE [1] END | CREATE (r)-[:PRODUCED_BY]->(run))\n"
        f"RETURN count(r) AS created"
    )


def read_recommendations(label: str) -> str:
    """Read a target's current recommendations, best first. Params: ``$target``, ``$method`` (or null)."""
    return (
        f"MATCH (t:{_target(label)} {{id: $target}})<-[:FOR]-(r:Recommendation)-[:RECOMMENDS]->(d:Drug)\n"
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
