"""All Cypher of the models package, as parameterised constants.

Values travel only as parameters; labels and relationship types are fixed here
and belong to ``graph_engine/schema.toml``. Diagnosis nodes are written by the
one prediction write-back, :func:`graph_engine.predictions.replace_predictions`
(see :data:`models.writeback.DIAGNOSIS`).

Cases of generated inputs (``medkg models generate``) get ``synthetic: true``
(never unset by a later run on real data with the same ids).
"""

# Read-back used by tests and the docs.
DIAGNOSES_OF_CASE = """
MATCH (c:Case {id: $case_id})<-[:OF]-(d:Diagnosis)
OPTIONAL MATCH (d)-[:SUGGESTS]->(dis:Disease)
RETURN d.label AS label, d.probability AS probability, d.rank AS rank, d.model AS model,
       d.model_version AS model_version, d.run_id AS run_id, dis.id AS disease_id
ORDER BY d.rank
"""
