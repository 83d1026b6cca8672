"""All Cypher of the models package, as parameterised constants.

Values travel only as parameters (``$rows``, ``$run_id`` ...); labels and
relationship types are fixed here and belong to ``graph_engine/schema.toml``
(``Case``, ``Diagnosis``, ``Disease``, ``Run``; ``OF``, ``SUGGESTS``,
``PRODUCED_BY``).

``$synthetic`` (bool): the input was generated (``medkg models generate``); its Cases get
``synthetic: true`` (never unset by a later run on real data with the same ids).

Row shape for :data:`MERGE_DIAGNOSES`::

    {id, case_id, label, probability, rank, disease_id (or null), disease_name}
"""

MERGE_DIAGNOSES = """
UNWIND $rows AS row
MERGE (c:Case {id: row.case_id})
SET c.synthetic = CASE WHEN $synthetic THEN true ELSE c.synthetic END
MERGE (d:Diagnosis {id: row.id})
SET d.label = row.label,
    d.probability = row.probability,
    d.score = row.probability,
    d.rank = row.rank,
    d.method = $method,
    d.model = $model,
    d.model_version = $model_version,
    d.run_id = $run_id,
    d.created_at = datetime($created_at)
MERGE (d)-[:OF]->(c)
WITH d, row
WHERE row.disease_id IS NOT NULL
MERGE (dis:Disease {id: row.disease_id})
  ON CREATE SET dis.name = row.disease_name, dis.sources = ['medkg-models']
MERGE (d)-[:SUGGESTS]->(dis)
"""

# Diagnoses of the same model for the same cases left by earlier runs: replaced.
DELETE_STALE_DIAGNOSES = """
UNWIND $case_ids AS case_id
MATCH (:Case {id: case_id})<-[:OF]-(d:Diagnosis {model: $model})
WHERE d.run_id <> $run_id
DETACH DELETE d
"""

LINK_RUN = """
MATCH (r:Run {id: $run_id})
MATCH (d:Diagnosis {run_id: $run_id})
MERGE (d)-[:PRODUCED_BY]->(r)
"""

# Read-back used by tests and the docs.
DIAGNOSES_OF_CASE = """
MATCH (c:Case {id: $case_id})<-[:OF]-(d:Diagnosis)
OPTIONAL MATCH (d)-[:SUGGESTS]->(dis:Disease)
RETURN d.label AS label, d.probability AS probability, d.rank AS rank, d.model AS model,
       d.model_version AS model_version, d.run_id AS run_id, dis.id AS disease_id
ORDER BY d.rank
"""
