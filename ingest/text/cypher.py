"""Every Cypher statement the text ingest runs, as parameterised constants.

Write statements follow the ``GraphClient.write_batches`` contract:
``UNWIND $rows AS row ... RETURN count(..) AS written``. For relationships,
``written`` counts *new* pieces of evidence (a re-run writes 0).

Labels and relationship types cannot be parameters, so each statement is
generated once, at import, from the fixed mappings below, and every name is
checked against ``graph_engine/schema.toml`` first. Values (ids, titles,
sentences) only ever travel in ``$rows``.

Graph model written here::

    (:Article {id, title, year, source, extractor})
        -[:MENTIONS {count, texts}]->(:Disease|Drug|Gene {id, name, sources})
    (:Drug)-[:TREATS|CAUSES|TARGETS|INTERACTS_WITH]->(...)
    (:Gene)-[:ASSOCIATES]->(:Disease)
        relationship properties: evidence_count, pmids, confidence, extractor,
        sources (+ "text"), and the evidence itself as parallel lists
        evidence_keys / evidence (sentences) / evidence_pmids / evidence_scores;
        INTERACTS_WITH also interaction_type (mechanism / effect / advise / int) and
        interaction_type_score; TARGETS also action (activator, inhibitor, agonist,
        antagonist, substrate), action_score and evidence_actions (parallel to the
        evidence): the relation's sub-type (``Relation.kind``) of its most confident
        typed evidence, ties to the smaller name (the same whatever the write order).

Evidence lives on the relationship, keyed by ``doc:subject-span:object-span``:
re-ingesting a document finds its keys already present and changes nothing,
and a relationship's evidence is one property read away. The sentence lists are
capped (``MAX_SENTENCES``) while keys and counts keep growing.
"""

from __future__ import annotations

from graph_engine.schema import default_schema
from ingest.text.records import KIND_ATTRIBUTE

ARTICLE_LABEL = "Article"
MENTIONS_TYPE = "MENTIONS"
ENTITY_LABELS: tuple[str, ...] = ("Disease", "Drug", "Gene")
#: (relationship type, subject label, object label): the only relationships text ingest writes
RELATION_KEYS: tuple[tuple[str, str, str], ...] = (
    ("TREATS", "Drug", "Disease"),
    ("CAUSES", "Drug", "Disease"),
    ("TARGETS", "Drug", "Gene"),
    ("ASSOCIATES", "Gene", "Disease"),
    ("INTERACTS_WITH", "Drug", "Drug"),
)
MAX_SENTENCES = 100

_schema = default_schema()
_schema.check_label(ARTICLE_LABEL)
_schema.check_relationship_type(MENTIONS_TYPE)
for _label in ENTITY_LABELS:
    _schema.check_entity_label(_label)
for _rel, _s, _o in RELATION_KEYS:
    _schema.check_relationship_type(_rel)

MERGE_ARTICLES = """
UNWIND $rows AS row
MERGE (a:Article {id: row.id})
SET a.title = row.title, a.year = row.year, a.source = row.source, a.extractor = row.extractor
RETURN count(a) AS written
"""


def _merge_mentions(label: str) -> str:
    return f"""
UNWIND $rows AS row
MATCH (a:Article {{id: row.article}})
MERGE (e:{label} {{id: row.id}})
  ON CREATE SET e.name = row.name, e.sources = ['text']
MERGE (a)-[m:MENTIONS]->(e)
SET m.count = row.count, m.texts = row.texts
RETURN count(m) AS written
"""


#: per entity label: article -> entity MENTIONS with the mention count (SET, never added to)
MERGE_MENTIONS: dict[str, str] = {label: _merge_mentions(label) for label in ENTITY_LABELS}

#: drop MENTIONS of an article to entities it no longer mentions (same id, new extractor)
PRUNE_MENTIONS = """
UNWIND $rows AS row
MATCH (a:Article {id: row.article})-[m:MENTIONS]->(e)
WHERE NOT e.id IN row.ids
DELETE m
RETURN count(*) AS written
"""


#: relationship types whose sub-type is also kept per evidence, in this list (parallel to ``evidence_keys``)
_PER_EVIDENCE_KIND = {"TARGETS": "evidence_actions"}


def _kind_set(prop: str, per_evidence: str | None) -> str:
    """Extra SET items for one new piece of evidence: ``r.<prop>`` becomes the sub-type of the best-scored
    typed evidence (``r.<prop>_score`` its score; equal scores: the smaller name), and the optional
    ``per_evidence`` list gets the row's sub-type (``''`` when it has none)."""
    items = ""
    if per_evidence is not None:
        items += f""",
    r.{per_evidence} = coalesce(r.{per_evidence}, []) + coalesce(row.{prop}, '')"""
    return items + f""",
    r.{prop} = CASE WHEN row.{prop} IS NOT NULL
                         AND (r.{prop} IS NULL OR row.score > coalesce(r.{prop}_score, -1.0)
                              OR (row.score = r.{prop}_score AND row.{prop} < r.{prop}))
                    THEN row.{prop} ELSE r.{prop} END,
    r.{prop}_score = CASE WHEN row.{prop} IS NOT NULL AND row.score > coalesce(r.{prop}_score, -1.0)
                          THEN row.score ELSE r.{prop}_score END"""


#: per relationship type: extra SET items on a new piece of evidence (items are applied in order); the
#: sub-type's property is named as in the row and the record (:data:`~ingest.text.records.KIND_ATTRIBUTE`)
_EXTRA_SET: dict[str, str] = {rel: _kind_set(prop, _PER_EVIDENCE_KIND.get(rel)) for rel, prop in KIND_ATTRIBUTE.items()}


def _merge_relation(rel: str, s_label: str, o_label: str) -> str:
    extra = _EXTRA_SET.get(rel, "")
    return f"""
UNWIND $rows AS row
MERGE (s:{s_label} {{id: row.s}})
  ON CREATE SET s.name = row.s_name, s.sources = ['text']
MERGE (o:{o_label} {{id: row.o}})
  ON CREATE SET o.name = row.o_name, o.sources = ['text']
MERGE (s)-[r:{rel}]->(o)
  ON CREATE SET r.evidence_keys = [], r.evidence = [], r.evidence_pmids = [], r.evidence_scores = [],
                r.pmids = [], r.sources = []
WITH r, row
WHERE NOT row.key IN coalesce(r.evidence_keys, [])
SET r.evidence_keys = coalesce(r.evidence_keys, []) + row.key,
    r.evidence_pmids = coalesce(r.evidence_pmids, []) + row.pmid,
    r.evidence_scores = coalesce(r.evidence_scores, []) + row.score,
    r.evidence = CASE WHEN size(coalesce(r.evidence, [])) < {MAX_SENTENCES}
                      THEN coalesce(r.evidence, []) + row.sentence ELSE r.evidence END,
    r.pmids = CASE WHEN row.pmid IN coalesce(r.pmids, []) THEN r.pmids ELSE coalesce(r.pmids, []) + row.pmid END,
    r.sources = CASE WHEN 'text' IN coalesce(r.sources, []) THEN r.sources ELSE coalesce(r.sources, []) + 'text' END,
    r.extractor = row.extractor{extra}
SET r.evidence_count = size(r.evidence_keys),
    r.confidence = 1.0 - reduce(p = 1.0, x IN r.evidence_scores | p * (1.0 - x))
RETURN count(r) AS written
"""


#: per (type, subject label, object label): aggregate one piece of evidence into the relationship
MERGE_RELATIONS: dict[tuple[str, str, str], str] = {key: _merge_relation(*key) for key in RELATION_KEYS}


def _read_evidence(rel: str, s_label: str, o_label: str) -> str:
    return f"""
MATCH (s:{s_label} {{id: $subject}})-[r:{rel}]->(o:{o_label} {{id: $object}})
RETURN '{rel}' AS type, s.id AS subject, o.id AS object, r.evidence_count AS evidence_count,
       r.confidence AS confidence, r.pmids AS pmids, r.extractor AS extractor,
       r.evidence AS sentences, r.evidence_pmids AS evidence_pmids, r.evidence_scores AS evidence_scores,
       r.interaction_type AS interaction_type
"""


#: per relation key: the evidence behind one relationship ($subject, $object)
READ_EVIDENCE: dict[tuple[str, str, str], str] = {key: _read_evidence(*key) for key in RELATION_KEYS}

#: the article's text-mined picture, for demos and tests ($id)
READ_ARTICLE = """
MATCH (a:Article {id: $id})
OPTIONAL MATCH (a)-[m:MENTIONS]->(e)
RETURN a.id AS id, a.title AS title, a.year AS year, a.source AS source,
       collect({id: e.id, count: m.count}) AS mentions
"""

#: for the demo: the text-mined relationships with their evidence, strongest first ($limit)
SHOW_EVIDENCE_EDGES = """
MATCH (s)-[r]->(o)
WHERE type(r) IN ['TREATS', 'CAUSES', 'TARGETS', 'ASSOCIATES', 'INTERACTS_WITH'] AND 'text' IN coalesce(r.sources, [])
RETURN s.name AS subject, type(r) AS type, o.name AS object, r.evidence_count AS evidence_count,
       r.confidence AS confidence, r.pmids AS pmids, r.evidence[0] AS example_sentence
ORDER BY r.confidence DESC, r.evidence_count DESC
LIMIT $limit
"""
