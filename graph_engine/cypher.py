"""Every Cypher statement graph_engine runs, built in one place.

Functions here are pure: they take *schema-checked* labels, relationship types
and property keys and return parameterised query text. Values always travel as
parameters (``$rows``, ``$id`` ...); labels and types cannot be parameters in
Cypher, so the caller checks them against :class:`graph_engine.schema.Schema`
first and :func:`_ident` re-checks the identifier shape as a second fence.
"""

from __future__ import annotations

import re

from graph_engine.schema import Schema, check_index_name, check_property_key

_IDENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

FULLTEXT_INDEX = "entity_names"


def _ident(name: str) -> str:
    """Backtick-quote an identifier that has already passed the schema check."""
    if not _IDENT_RE.match(name):  # second fence: never reached with schema-checked names
        raise ValueError(f"refusing to put {name!r} into Cypher text")
    return f"`{name}`"


def _snake(label: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", label).lower()


# --------------------------------------------------------------------------- schema
def constraint_statements(schema: Schema) -> list[str]:
    """Uniqueness on ``id`` for every label and a ``name`` index for entities."""
    out = []
    for label in schema.labels:
        out.append(
            f"CREATE CONSTRAINT {_snake(label)}_id IF NOT EXISTS "
            f"FOR (n:{_ident(label)}) REQUIRE n.id IS UNIQUE"
        )
    out.append(PUBLISHED_CONSTRAINT)
    for label in schema.entity_labels:
        out.append(f"CREATE INDEX {_snake(label)}_name IF NOT EXISTS FOR (n:{_ident(label)}) ON (n.name)")
    return out


def fulltext_index_statement(schema: Schema, name: str = FULLTEXT_INDEX) -> str:
    """Full-text index over ``name`` and ``synonyms`` of every entity label."""
    labels = "|".join(_ident(l) for l in schema.entity_labels)
    return (
        f"CREATE FULLTEXT INDEX {_ident(check_index_name(name))} IF NOT EXISTS "
        f"FOR (n:{labels}) ON EACH [n.name, n.synonyms]"
    )


def drop_index_statement(name: str) -> str:
    return f"DROP INDEX {_ident(check_index_name(name))} IF EXISTS"


SHOW_INDEXES = (
    "SHOW INDEXES YIELD name, type, labelsOrTypes, properties, state "
    "RETURN name, type, labelsOrTypes, properties, state"
)
AWAIT_INDEXES = "CALL db.awaitIndexes($timeout)"


def vector_index_statement(label: str, prop: str, dimensions: int, name: str, similarity: str = "cosine") -> str:
    """A vector index on ``label.prop``; ``dimensions``, ``similarity`` and ``quantization`` are parameters.

    Quantization (on by default in Neo4j 5.26) trades score precision for memory;
    medkg turns it off unless asked, so reported similarities are exact cosines.
    """
    if similarity not in ("cosine", "euclidean"):
        raise ValueError(f"similarity must be 'cosine' or 'euclidean', got {similarity!r}")
    if not isinstance(dimensions, int) or dimensions < 1:
        raise ValueError(f"dimensions must be a positive int, got {dimensions!r}")
    return (
        f"CREATE VECTOR INDEX {_ident(check_index_name(name))} IF NOT EXISTS "
        f"FOR (n:{_ident(label)}) ON (n.{_ident(check_property_key(prop))}) "
        "OPTIONS {indexConfig: {`vector.dimensions`: $dimensions, `vector.similarity_function`: $similarity,\n"
        "                       `vector.quantization.enabled`: $quantization}}"
    )


# --------------------------------------------------------------------------- writes
def merge_nodes(label: str) -> str:
    """Idempotent batched node upsert.

    Lists (``synonyms``, ``xrefs``, ``sources``) are unions, so loading the
    same rows twice, or the same node from two sources, changes nothing twice.
    Empty lists are not stored (absent means empty), as with neo4j-admin import.
    Row keys: ``id, name, synonyms, xrefs, source, props``.
    """
    return (
        "UNWIND $rows AS row\n"
        f"MERGE (n:{_ident(label)} {{id: row.id}})\n"
        "WITH n, row, coalesce(n.synonyms, []) AS syn, coalesce(n.xrefs, []) AS xr, coalesce(n.sources, []) AS src\n"
        "WITH n, row, syn + [s IN row.synonyms WHERE NOT s IN syn] AS syn,\n"
        "     xr + [x IN row.xrefs WHERE NOT x IN xr] AS xr,\n"
        "     CASE WHEN row.source IS NULL OR row.source IN src THEN src ELSE src + row.source END AS src\n"
        "SET n.name = coalesce(row.name, n.name),\n"
        "    n.synonyms = CASE WHEN size(syn) = 0 THEN null ELSE syn END,\n"
        "    n.xrefs = CASE WHEN size(xr) = 0 THEN null ELSE xr END,\n"
        "    n.sources = CASE WHEN size(src) = 0 THEN null ELSE src END\n"
        "SET n += row.props\n"
        "RETURN count(n) AS written"
    )


def merge_node_columns(label: str) -> str:
    """:func:`merge_nodes` for column parameters: ``$ids``, ``$names`` lists and one ``$src`` tag, rows
    without synonyms, xrefs or properties (same stored result). Returns the nodes' internal ids."""
    return (
        "UNWIND range(0, size($ids) - 1) AS i\n"
        f"MERGE (n:{_ident(label)} {{id: $ids[i]}})\n"
        "WITH n, $names[i] AS name, coalesce(n.sources, []) AS src\n"
        "WITH n, name, CASE WHEN $src IS NULL OR $src IN src THEN src ELSE src + $src END AS src\n"
        "SET n.name = coalesce(name, n.name),\n"
        "    n.synonyms = CASE WHEN size(coalesce(n.synonyms, [])) = 0 THEN null ELSE n.synonyms END,\n"
        "    n.xrefs = CASE WHEN size(coalesce(n.xrefs, [])) = 0 THEN null ELSE n.xrefs END,\n"
        "    n.sources = CASE WHEN size(src) = 0 THEN null ELSE src END\n"
        "RETURN count(n) AS written, collect(n.id) AS ids, collect(id(n)) AS nids"
    )


def create_node_columns(label: str) -> str:
    """``CREATE`` form of :func:`merge_node_columns`; the id uniqueness constraint refuses a duplicate."""
    return (
        "UNWIND range(0, size($ids) - 1) AS i\n"
        f"CREATE (n:{_ident(label)} {{id: $ids[i]}})\n"
        "SET n.name = $names[i], n.sources = CASE WHEN $src IS NULL THEN null ELSE [$src] END\n"
        "RETURN count(n) AS written, collect(n.id) AS ids, collect(id(n)) AS nids"
    )


def merge_relationships(source_label: str, rel_type: str, target_label: str) -> str:
    """Idempotent batched relationship upsert between existing nodes.

    Row keys: ``s`` (source id), ``t`` (target id), ``source`` (provenance), ``props``.
    Rows whose endpoints do not exist produce nothing; the writer compares
    ``written`` with the row count and rolls the batch back on a mismatch.
    """
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (a:{_ident(source_label)} {{id: row.s}})\n"
        f"MATCH (b:{_ident(target_label)} {{id: row.t}})\n"
        f"MERGE (a)-[r:{_ident(rel_type)}]->(b)\n"
        "WITH r, row, coalesce(r.sources, []) AS src\n"
        "WITH r, row, CASE WHEN row.source IS NULL OR row.source IN src THEN src ELSE src + row.source END AS src\n"
        "SET r.sources = CASE WHEN size(src) = 0 THEN null ELSE src END\n"
        "SET r += row.props\n"
        "RETURN count(r) AS written"
    )


def _columns_match() -> str:
    # rows: $s/$t ids and $sn/$tn internal ids resolved earlier; label and id are re-checked here,
    # so an internal id reused by another node can never be linked. The labels are checked as
    # `$sl IN labels(a)` (parameters $sl/$tl = the two labels), not `a:Label`: with a label predicate
    # the planner may pick the `id` index instead of the internal-id seek, and on statistics taken
    # while the labels were empty (a first load) it chose a full index *scan* per row (12x slower).
    # Without one, the only plan is NodeByIdSeek + Filter, whatever the statistics.
    return (
        "UNWIND range(0, size($s) - 1) AS i\n"
        "MATCH (a) WHERE id(a) = $sn[i]\n"
        "MATCH (b) WHERE id(b) = $tn[i]\n"
        "WITH a, b WHERE $sl IN labels(a) AND a.id = $s[i] AND $tl IN labels(b) AND b.id = $t[i]\n"
    )


def merge_relationship_columns(source_label: str, rel_type: str, target_label: str) -> str:
    """:func:`merge_relationships` for column parameters (``$s, $t, $sn, $tn`` lists, one ``$src`` tag, no props).

    Rows whose endpoints do not match produce nothing; the caller compares ``written``. The two labels are
    parameters ``$sl`` / ``$tl`` (see ``_columns_match``), not part of the text: the caller passes the
    schema-checked ``source_label`` / ``target_label`` there.
    """
    return (
        _columns_match()
        + f"MERGE (a)-[r:{_ident(rel_type)}]->(b)\n"
        "WITH r, coalesce(r.sources, []) AS src\n"
        "WITH r, CASE WHEN $src IS NULL OR $src IN src THEN src ELSE src + $src END AS src\n"
        "SET r.sources = CASE WHEN size(src) = 0 THEN null ELSE src END\n"
        "RETURN count(r) AS written"
    )


def create_relationship_columns(source_label: str, rel_type: str, target_label: str) -> str:
    """``CREATE`` of relationships known to be new (see :mod:`graph_engine.columns`); same stored form and
    the same ``$sl`` / ``$tl`` label parameters as :func:`merge_relationship_columns`."""
    return (
        _columns_match()
        + f"CREATE (a)-[r:{_ident(rel_type)}]->(b)\n"
        "SET r.sources = CASE WHEN $src IS NULL THEN null ELSE [$src] END\n"
        "RETURN count(r) AS written"
    )


def internal_ids(label: str) -> str:
    """Internal ids of the ``label`` nodes among ``$ids`` (absent ids give no row)."""
    # one row of two lists: far cheaper for the driver than a row per id
    return f"UNWIND $ids AS x MATCH (n:{_ident(label)} {{id: x}}) RETURN collect(x) AS ids, collect(id(n)) AS nids"


def existing_ids(label: str) -> str:
    """Which of ``$ids`` exist as ``label`` nodes."""
    return f"UNWIND $ids AS id MATCH (n:{_ident(label)} {{id: id}}) RETURN collect(n.id) AS found"


def set_node_properties(label: str) -> str:
    """Batched write-back keyed by id. Row keys: ``id``, ``props`` (a map)."""
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (n:{_ident(label)} {{id: row.id}})\n"
        "SET n += row.props\n"
        "RETURN count(n) AS written"
    )


# Emptying a database (tests, benchmarks): relationships first, in batches, so a hub's
# relationships never have to fit in one transaction; then the nodes. Auto-commit sessions only.
DELETE_ALL_RELATIONSHIPS = "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS"
DELETE_ALL_NODES = "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 50000 ROWS"

CREATE_RUN = (
    "CREATE (r:Run {id: $id, kind: $kind, algorithm: $algorithm, params: $params,\n"
    "               status: 'running', started_at: datetime(), medkg_version: $version})\n"
    "RETURN r.id AS id"
)
FINISH_RUN = (
    "MATCH (r:Run {id: $id})\n"
    "SET r.status = $status, r.finished_at = datetime(), r.metrics = $metrics,\n"
    "    r.duration_s = duration.inSeconds(r.started_at, datetime()).seconds\n"
    "RETURN r.id AS id"
)

# --------------------------------------------------------------------------- reads
def count_nodes(label: str | None = None) -> str:
    return f"MATCH (n:{_ident(label)}) RETURN count(n) AS n" if label else "MATCH (n) RETURN count(n) AS n"


def count_relationships(rel_type: str | None = None) -> str:
    return f"MATCH ()-[r:{_ident(rel_type)}]->() RETURN count(r) AS n" if rel_type else "MATCH ()-[r]->() RETURN count(r) AS n"


def count_triple_source(source_label: str, rel_type: str) -> str:
    """Uses the counts store: cheap even on large graphs."""
    return f"MATCH (:{_ident(source_label)})-[r:{_ident(rel_type)}]->() RETURN count(r) AS n"


def count_triple_target(rel_type: str, target_label: str) -> str:
    return f"MATCH ()-[r:{_ident(rel_type)}]->(:{_ident(target_label)}) RETURN count(r) AS n"


def stream_node_ids(label: str) -> str:
    return f"MATCH (n:{_ident(label)}) RETURN n.id AS id ORDER BY id"


def stream_edges(source_label: str, rel_type: str, target_label: str) -> str:
    """Stream ``(s, t, w)``; ``w`` is the relationship property named ``$weight`` (or null)."""
    return (
        f"MATCH (a:{_ident(source_label)})-[r:{_ident(rel_type)}]->(b:{_ident(target_label)})\n"
        "RETURN a.id AS s, b.id AS t, CASE WHEN $weight IS NULL THEN null ELSE r[$weight] END AS w"
    )


def get_node(label: str | None) -> str:
    match = f"(n:{_ident(label)} {{id: $id}})" if label else "(n {id: $id})"
    return f"MATCH {match} RETURN labels(n) AS labels, properties(n) AS props LIMIT 2"


FULLTEXT_SEARCH = (
    "CALL db.index.fulltext.queryNodes($index, $query, {limit: $limit}) YIELD node, score\n"
    "WHERE $labels IS NULL OR any(l IN labels(node) WHERE l IN $labels)\n"
    "RETURN labels(node) AS labels, properties(node) AS props, score\n"
    "ORDER BY score DESC LIMIT $limit"
)


def neighbours(label: str | None, rel_type: str | None, direction: str) -> str:
    """Neighbours of ``$id``; ``direction`` is ``out``, ``in`` or ``both``."""
    node = f"(n:{_ident(label)} {{id: $id}})" if label else "(n {id: $id})"
    rel = f"[r:{_ident(rel_type)}]" if rel_type else "[r]"
    pattern = {"out": f"{node}-{rel}->(m)", "in": f"{node}<-{rel}-(m)", "both": f"{node}-{rel}-(m)"}[direction]
    return (
        f"MATCH {pattern}\n"
        "RETURN type(r) AS type, CASE WHEN startNode(r) = n THEN 'out' ELSE 'in' END AS direction,\n"
        "       labels(m) AS labels, properties(m) AS props, properties(r) AS rel_props\n"
        "ORDER BY type, m.id LIMIT $limit"
    )


def top_by_property(label: str, prop: str) -> str:
    """Top ``$k`` by ``prop``: the published run's values when ``prop`` has a (:Published) pointer
    (pinned once by the WITH, so a switch during the scan changes nothing), else the plain property."""
    check_property_key(prop)
    return (
        "OPTIONAL MATCH (p:Published {property: $prop}) WHERE p.run_id IS NOT NULL\n"
        "WITH coalesce(p.key, $prop) AS key, coalesce(p.run_key, $prop + '_run') AS rk, p.run_id AS run\n"
        f"MATCH (n:{_ident(label)}) WHERE n[key] IS NOT NULL AND (run IS NULL OR n[rk] = run)\n"
        "RETURN n.id AS id, n.name AS name, n[key] AS score ORDER BY score DESC, id LIMIT $k"
    )


def clear_stale_property(label: str, prop: str, run_key: str | None = None) -> str:
    """Remove ``prop`` (and its run key, default ``prop_run``) from at most ``$limit`` ``label``
    nodes not written by run ``$run_id``; run until ``removed`` is 0 (each call its own transaction)."""
    key = _ident(check_property_key(prop))
    rk = _ident(check_property_key(run_key or prop + "_run"))
    return (
        f"MATCH (n:{_ident(label)}) WHERE n.{rk} IS NOT NULL AND n.{rk} <> $run_id\n"
        f"WITH n LIMIT $limit REMOVE n.{key}, n.{rk}\n"
        "RETURN count(n) AS removed"
    )


# --------------------------------------------------------------------------- published write-backs
# A property family (``pagerank``, ``ppr_ids`` ...) is written into the free one of two slots
# (``pagerank__v0`` / ``pagerank__v1`` with ``*_run``) in batches, then published by switching the
# (:Published {property}) pointer in one small transaction. See graph_engine.published.
PUBLISHED_CONSTRAINT = (
    "CREATE CONSTRAINT published_property IF NOT EXISTS FOR (p:Published) REQUIRE p.property IS UNIQUE"
)
CLAIM_PUBLISHED = (
    "UNWIND $props AS prop\n"
    "MERGE (p:Published {property: prop})\n"
    "WITH p OPTIONAL MATCH (w:Run {id: p.writer})\n"
    "RETURN p.property AS property, p.slot AS slot, p.run_id AS run_id, p.labels AS labels,\n"
    "       p.writer AS writer, w.status AS writer_status"
)
SET_PUBLISHED_WRITER = (
    "UNWIND $props AS prop MATCH (p:Published {property: prop})\n"
    "SET p.writer = $run_id, p.writer_since = datetime()"
)
RELEASE_PUBLISHED_WRITER = (
    "MATCH (p:Published) WHERE p.property IN $props AND p.writer = $run_id REMOVE p.writer, p.writer_since"
)
SWITCH_PUBLISHED = (
    "UNWIND $rows AS row\n"
    "MATCH (p:Published {property: row.property}) WHERE p.writer = $run_id\n"
    "SET p.previous_run_id = p.run_id, p.run_id = $run_id, p.slot = row.slot, p.key = row.key,\n"
    "    p.run_key = row.run_key, p.labels = row.labels, p.published_at = datetime()\n"
    "REMOVE p.writer, p.writer_since\n"
    "RETURN count(p) AS switched"
)
READ_PUBLISHED = (
    "MATCH (p:Published) WHERE p.property IN $props AND p.run_id IS NOT NULL\n"
    "RETURN p.property AS property, p.run_id AS run_id, p.slot AS slot, p.key AS key, p.run_key AS run_key,\n"
    "       p.labels AS labels, p.published_at AS published_at, p.writer AS writer"
)


def read_published_values(label: str) -> str:
    """``(id, prop, value)`` of ``label`` nodes (``$ids`` or all) for each of ``$props``: the published run's
    slot when the property has a pointer (pinned once by the WITH), else the plain property."""
    return (
        "UNWIND $props AS prop\n"
        "OPTIONAL MATCH (p:Published {property: prop}) WHERE p.run_id IS NOT NULL\n"
        "WITH prop, coalesce(p.key, prop) AS key, coalesce(p.run_key, prop + '_run') AS rk, p.run_id AS run\n"
        f"MATCH (n:{_ident(label)}) WHERE ($ids IS NULL OR n.id IN $ids)\n"
        "  AND n[key] IS NOT NULL AND (run IS NULL OR n[rk] = run)\n"
        "RETURN n.id AS id, prop, n[key] AS value"
    )


def restore_property(label: str, prop: str, slot_key: str, slot_run_key: str) -> str:
    """Copy a published slot back into the plain property for at most ``$limit`` nodes of
    ``label`` whose plain value is not the published run ``$old_run`` (undo of a failed write-back)."""
    key, rk = _ident(check_property_key(prop)), _ident(check_property_key(prop + "_run"))
    sk, srk = _ident(check_property_key(slot_key)), _ident(check_property_key(slot_run_key))
    return (
        f"MATCH (n:{_ident(label)}) WHERE n.{srk} = $old_run AND (n.{rk} IS NULL OR n.{rk} <> $old_run)\n"
        f"WITH n LIMIT $limit SET n.{key} = n.{sk}, n.{rk} = $old_run\n"
        "RETURN count(n) AS removed"
    )


def remove_run_property(label: str, prop: str) -> str:
    """Remove ``prop`` / ``prop_run`` from at most ``$limit`` ``label`` nodes that run ``$run_id`` wrote."""
    key, rk = _ident(check_property_key(prop)), _ident(check_property_key(prop + "_run"))
    return (
        f"MATCH (n:{_ident(label)}) WHERE n.{rk} = $run_id\n"
        f"WITH n LIMIT $limit REMOVE n.{key}, n.{rk}\n"
        "RETURN count(n) AS removed"
    )


VECTOR_SIMILAR = (
    "MATCH (n {id: $id}) WHERE n[$prop] IS NOT NULL AND any(l IN labels(n) WHERE l = $label)\n"
    "CALL db.index.vector.queryNodes($index, $k + 1, n[$prop]) YIELD node, score\n"
    "WHERE node <> n\n"
    "RETURN node.id AS id, node.name AS name, score ORDER BY score DESC LIMIT $k"
)
