"""GraphClient: the one object that talks to Neo4j.

It receives a driver (created by the CLI or a test fixture, never here), a
database name and a schema. Writes are batched ``UNWIND $rows`` statements in
managed transactions (the driver retries them on transient errors); reads run
in READ access mode. All Cypher comes from :mod:`graph_engine.cypher`.

Example:
    >>> from graph_engine.connect import connect
    >>> with connect(Settings.load()) as driver:
    ...     g = GraphClient(driver)
    ...     g.ensure_schema()
    ...     g.get("DOID:9352")
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

import neo4j
import numpy as np
from neo4j.exceptions import ClientError, Neo4jError

from graph_engine import cypher
from graph_engine.cypher_guard import check_read_query
from graph_engine.batching import batched
from graph_engine.errors import MedkgError, QueryError
from graph_engine.export import EdgeKey, EdgeList, GraphMatrix, GraphTables
from graph_engine.records import EdgeRecord, NodeRecord
from graph_engine.schema import Schema, check_property_key, default_schema

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Entity:
    """A node as returned by the read API."""

    label: str
    id: str
    name: str | None
    properties: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, labels: Sequence[str], props: Mapping[str, Any]) -> "Entity":
        return cls(label=labels[0] if labels else "", id=str(props.get("id")), name=props.get("name"),
                   properties=dict(props))


@dataclass(frozen=True)
class Neighbour:
    """One relationship seen from a node: its type, direction and the other end."""

    type: str
    direction: str
    node: Entity
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
    id: str
    name: str | None
    score: float


def _all_rows(tx: neo4j.ManagedTransaction, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [r.data() for r in tx.run(query, params)]


def _summary_written(records: list[neo4j.Record]) -> int:
    return int(records[0]["written"]) if records else 0


class GraphClient:
    """Schema-aware access to one Neo4j database.

    Args:
        driver: an open ``neo4j.Driver`` (the caller owns and closes it).
        database: database name.
        schema: allowed labels and relationship types (default: shipped schema).
        batch_size: rows per write transaction.
    """

    def __init__(
        self,
        driver: neo4j.Driver,
        database: str = "neo4j",
        schema: Schema | None = None,
        batch_size: int = 5000,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.driver = driver
        self.database = database
        self.schema = schema or default_schema()
        self.batch_size = batch_size

    # ------------------------------------------------------------------ low level
    def _session(self, access_mode: str) -> neo4j.Session:
        return self.driver.session(database=self.database, default_access_mode=access_mode)

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run library Cypher in a READ transaction and return rows as dicts."""
        with self._session(neo4j.READ_ACCESS) as s:
            return s.execute_read(_all_rows, query, dict(params or {}))

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run library Cypher in one managed WRITE transaction (retried on transient errors)."""
        with self._session(neo4j.WRITE_ACCESS) as s:
            return s.execute_write(_all_rows, query, dict(params or {}))

    def run_in_transaction(self, fn: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run ``fn(tx)`` in one managed write transaction: all of it commits or none."""
        with self._session(neo4j.WRITE_ACCESS) as s:
            return s.execute_write(fn)

    def write_batches(
        self,
        query: str,
        rows: Iterable[Mapping[str, Any]],
        batch_size: int | None = None,
        expect_all: bool = False,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Run ``query`` (an ``UNWIND $rows AS row ... RETURN count(..) AS written``
        statement) once per batch, each batch in its own managed transaction.

        Args:
            expect_all: roll a batch back (and raise) if ``written`` < rows in it.
            on_batch: called with the number of rows after each committed batch.

        Returns:
            The total ``written`` reported by the statement.
        """
        total = 0
        for chunk in batched(rows, batch_size or self.batch_size):

            def work(tx: neo4j.ManagedTransaction, chunk: list = chunk) -> int:
                written = _summary_written(list(tx.run(query, rows=chunk)))
                if expect_all and written != len(chunk):
                    # raising inside the transaction function rolls the batch back
                    raise QueryError(f"batch wrote {written} of {len(chunk)} rows; rolled back")
                return written

            with self._session(neo4j.WRITE_ACCESS) as s:
                total += s.execute_write(work)
            if on_batch:
                on_batch(len(chunk))
        return total

    # ------------------------------------------------------------------ schema
    def ensure_schema(self, await_seconds: int = 600) -> None:
        """Create constraints and indexes if missing (idempotent) and wait until online.

        If the full-text index exists but covers other labels than the schema's
        entity labels, it is rebuilt.
        """
        for stmt in cypher.constraint_statements(self.schema):
            self._schema_write(stmt)
        wanted = set(self.schema.entity_labels)
        for idx in self.read(cypher.SHOW_INDEXES):
            if idx["name"] == cypher.FULLTEXT_INDEX and set(idx["labelsOrTypes"] or []) != wanted:
                self._schema_write(cypher.drop_index_statement(cypher.FULLTEXT_INDEX))
        self._schema_write(cypher.fulltext_index_statement(self.schema))
        with self._session(neo4j.READ_ACCESS) as s:
            s.run(cypher.AWAIT_INDEXES, timeout=await_seconds).consume()

    def _schema_write(self, stmt: str, **params: Any) -> None:
        # schema commands cannot share a transaction with data writes; auto-commit is required
        with self._session(neo4j.WRITE_ACCESS) as s:
            s.run(stmt, **params).consume()

    def ensure_vector_index(self, label: str, prop: str, dimensions: int, similarity: str = "cosine",
                            quantization: bool = False) -> str:
        """Create (or recreate with new dimensions) a vector index on ``label.prop``; returns its name."""
        label = self.schema.check_label(label)
        prop = check_property_key(prop)
        name = f"{label.lower()}_{prop}_vector"
        for idx in self.read(cypher.SHOW_INDEXES):
            if idx["name"] == name:
                opts = self.read(
                    "SHOW INDEXES YIELD name, options WHERE name = $name RETURN options", {"name": name}
                )
                cfg = (opts[0]["options"] or {}).get("indexConfig", {}) if opts else {}
                if (cfg.get("vector.dimensions") != dimensions
                        or cfg.get("vector.similarity_function", "").lower() != similarity
                        or bool(cfg.get("vector.quantization.enabled", True)) != quantization):
                    self._schema_write(cypher.drop_index_statement(name))
        self._schema_write(
            cypher.vector_index_statement(label, prop, dimensions, name, similarity),
            dimensions=dimensions,
            similarity=similarity,
            quantization=quantization,
        )
        with self._session(neo4j.READ_ACCESS) as s:
            s.run(cypher.AWAIT_INDEXES, timeout=600).consume()
        return name

    # ------------------------------------------------------------------ writes
    def upsert_nodes(self, records: Iterable[NodeRecord], batch_size: int | None = None) -> int:
        """Idempotently upsert nodes (grouped per label, batched). Returns rows written."""
        total = 0
        for label, group in itertools.groupby(records, key=lambda r: r.label):
            self.schema.check_label(label)
            rows = (r.row() for r in group)
            total += self.write_batches(cypher.merge_nodes(label), rows, batch_size)
        return total

    def upsert_relationships(self, records: Iterable[EdgeRecord], batch_size: int | None = None) -> int:
        """Idempotently upsert relationships between existing nodes.

        A batch whose endpoints are not all present is rolled back and raises
        :class:`QueryError`; callers that want per-row errors check endpoints
        first with :meth:`missing_ids`.
        """
        total = 0
        for (s, t, d), group in itertools.groupby(
            records, key=lambda r: (r.source_label, r.type, r.target_label)
        ):
            query = cypher.merge_relationships(
                self.schema.check_label(s), self.schema.check_relationship_type(t), self.schema.check_label(d)
            )
            total += self.write_batches(query, (r.row() for r in group), batch_size, expect_all=True)
        return total

    def column_writer(self) -> Any:
        """A :class:`graph_engine.columns.ColumnWriter` for fast column-oriented relationship loads."""
        from graph_engine.columns import ColumnWriter

        return ColumnWriter(self)

    def missing_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        """The subset of ``ids`` that has no ``label`` node."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return set()
        rows = self.read(cypher.existing_ids(self.schema.check_label(label)), {"ids": ids})
        return set(ids) - set(rows[0]["found"] if rows else [])

    def write_node_properties(
        self, label: str, rows: Iterable[Mapping[str, Any]], batch_size: int | None = None
    ) -> int:
        """Batched write-back of node properties keyed by ``id``.

        Args:
            label: schema label of the nodes.
            rows: mappings with ``id`` and the properties to set (snake_case keys;
                values: scalars, lists of numbers/strings).

        Returns:
            Number of nodes updated (rows whose id does not exist are not counted).
        """
        self.schema.check_label(label)

        def to_param(row: Mapping[str, Any]) -> dict[str, Any]:
            props = {}
            for k, v in row.items():
                if k == "id":
                    continue
                check_property_key(k)
                props[k] = v.tolist() if isinstance(v, np.ndarray) else (v.item() if isinstance(v, np.generic) else v)
            return {"id": row["id"], "props": props}

        return self.write_batches(cypher.set_node_properties(label), (to_param(r) for r in rows), batch_size)

    # ------------------------------------------------------------------ runs
    def create_run(self, kind: str, algorithm: str, params: Mapping[str, Any]) -> str:
        """Create a ``(:Run)`` node (status ``running``) and return its id."""
        from graph_engine import __version__

        run_id = f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.write(
            cypher.CREATE_RUN,
            {
                "id": run_id,
                "kind": kind,
                "algorithm": algorithm,
                "params": json.dumps(dict(params), sort_keys=True, default=str),
                "version": __version__,
            },
        )
        return run_id

    def finish_run(self, run_id: str, metrics: Mapping[str, Any], status: str = "succeeded") -> None:
        """Mark a run finished with its metrics (stored as JSON text)."""
        self.write(
            cypher.FINISH_RUN,
            {"id": run_id, "status": status, "metrics": json.dumps(dict(metrics), sort_keys=True, default=str)},
        )

    # ------------------------------------------------------------------ read API
    def query(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a user's read-only Cypher query with parameters.

        Three fences: :func:`graph_engine.cypher_guard.check_read_query` refuses
        any clause, command or procedure outside its allow-list (``LOAD CSV``,
        ``SHOW …``, ``TERMINATE …``, ``USE``, ``CALL dbms.*``, ``CALL { } IN
        TRANSACTIONS`` …) before anything is sent; the query is then planned with
        ``EXPLAIN`` and anything but a read-only query (writes, schema changes,
        procedures that write) is refused; it then runs in a READ transaction.

        Raises:
            QueryError: the query writes, or Neo4j rejected it (syntax, access mode).
        """
        check_read_query(query)
        params = dict(params or {})
        try:
            with self._session(neo4j.READ_ACCESS) as s:
                summary = s.run("EXPLAIN " + query, params).consume()
        except ClientError as e:
            raise QueryError(f"query rejected by Neo4j: {e.message}") from e
        if summary.query_type != "r":
            kind = {"rw": "reads and writes", "w": "writes", "s": "changes the schema"}.get(
                summary.query_type or "", summary.query_type
            )
            raise QueryError(f"refused: the query {kind}; only read-only queries are allowed here")
        try:
            return self.read(query, params)
        except Neo4jError as e:
            raise QueryError(f"query failed: {e.message}") from e

    def get(self, node_id: str, label: str | None = None) -> Entity | None:
        """Look up a node by its id (and optionally its label)."""
        if label is not None:
            self.schema.check_label(label)
        rows = self.read(cypher.get_node(label), {"id": node_id})
        return Entity.from_row(rows[0]["labels"], rows[0]["props"]) if rows else None

    def search(self, text: str, labels: Sequence[str] | None = None, limit: int = 10) -> list[tuple[Entity, float]]:
        """Full-text search over names and synonyms; returns ``(entity, score)`` best first."""
        if labels is not None:
            for l in labels:
                self.schema.check_label(l)
        terms = [lucene_escape(t) for t in text.split() if t.strip()]
        if not terms:
            return []
        # every term must match (fuzzy on longer ones), exact phrase ranks highest
        must = " AND ".join(f"{t}~1" if len(t) > 4 else t for t in terms)
        q = f'"{lucene_escape(text)}"^4 OR ({must})'
        rows = self.read(
            cypher.FULLTEXT_SEARCH,
            {"index": cypher.FULLTEXT_INDEX, "query": q, "limit": int(limit), "labels": list(labels) if labels else None},
        )
        return [(Entity.from_row(r["labels"], r["props"]), float(r["score"])) for r in rows]

    def neighbours(
        self,
        node_id: str,
        rel_type: str | None = None,
        direction: str = "both",
        label: str | None = None,
        limit: int = 1000,
    ) -> list[Neighbour]:
        """Neighbours of a node, optionally by relationship type and direction."""
        if direction not in ("out", "in", "both"):
            raise ValueError(f"direction must be 'out', 'in' or 'both', got {direction!r}")
        if rel_type is not None:
            self.schema.check_relationship_type(rel_type)
        if label is not None:
            self.schema.check_label(label)
        rows = self.read(cypher.neighbours(label, rel_type, direction), {"id": node_id, "limit": int(limit)})
        return [
            Neighbour(r["type"], r["direction"], Entity.from_row(r["labels"], r["props"]), r["rel_props"])
            for r in rows
        ]

    def top(self, label: str, by: str, k: int = 20) -> list[Scored]:
        """Top-``k`` nodes of ``label`` by a numeric property (e.g. ``pagerank``): the published
        run's values when the property is published (see :mod:`graph_engine.published`)."""
        rows = self.read(cypher.top_by_property(self.schema.check_label(label), by), {"k": int(k), "prop": by})
        return [Scored(r["id"], r["name"], float(r["score"])) for r in rows]

    def similar(self, node_id: str, k: int = 10, label: str | None = None, prop: str = "embedding") -> list[Scored]:
        """Nearest neighbours by embedding through the vector index (see :func:`graph_engine.enrich.similar`)."""
        from graph_engine.enrich import similar

        return similar(self, node_id, k, label, prop)

    def counts(self) -> dict[str, int]:
        """Node count per schema label and relationship count per type (zeros omitted)."""
        out: dict[str, int] = {}
        for label in self.schema.labels:
            n = self.read(cypher.count_nodes(label))[0]["n"]
            if n:
                out[label] = n
        for t in self.schema.relationship_types:
            n = self.read(cypher.count_relationships(t))[0]["n"]
            if n:
                out[t] = n
        return out

    # ------------------------------------------------------------------ export
    def triples(
        self, labels: Sequence[str] | None = None, rel_types: Sequence[str] | None = None
    ) -> list[EdgeKey]:
        """The (source label, type, target label) triples present among the chosen labels/types.

        Uses count-store lookups only, so it is cheap on any graph size.
        """
        labels = [self.schema.check_label(l) for l in (labels or self.schema.entity_labels)]
        types = [self.schema.check_relationship_type(t) for t in (rel_types or self.schema.relationship_types)]
        out: list[EdgeKey] = []
        for t in types:
            sources = [l for l in labels if self.read(cypher.count_triple_source(l, t))[0]["n"]]
            if not sources:
                continue
            targets = [l for l in labels if self.read(cypher.count_triple_target(t, l))[0]["n"]]
            out.extend((s, t, d) for s in sources for d in targets)
        return out

    def export(
        self,
        labels: Sequence[str] | None = None,
        rel_types: Sequence[str] | None = None,
        weight: str | None = None,
        progress: bool = False,
    ) -> GraphTables:
        """Stream a subgraph (labels × relationship types) into :class:`GraphTables`.

        Node ids are streamed per label; edges per triple, appended to typed
        NumPy chunks (int64 indices, float32 weights), so memory is ~20 bytes
        per edge plus the id tables.

        Args:
            labels: node labels to include (default: all entity labels).
            rel_types: relationship types (default: all in the schema).
            weight: relationship property used as weight (missing -> 1.0).
            progress: show a progress bar.
        """
        from tqdm.auto import tqdm

        if weight is not None:
            check_property_key(weight)
        labels = [self.schema.check_label(l) for l in (labels or self.schema.entity_labels)]
        tables = GraphTables()
        for label in labels:
            ids = [r["id"] for r in self.read(cypher.stream_node_ids(label))]
            if ids:
                tables.nodes[label] = np.asarray(ids, dtype=object)
        index = tables.index_maps()
        bar = tqdm(total=None, unit="edges", desc="export", disable=not progress)
        for key in self.triples(list(tables.nodes), rel_types):
            s_idx, d_idx = index[key[0]], index[key[2]]
            src, dst, w = _Chunks(np.int64), _Chunks(np.int64), _Chunks(np.float32)
            with self._session(neo4j.READ_ACCESS) as s:
                # an auto-commit READ stream: rows arrive in fetch_size pages, never all at once
                result = s.run(cypher.stream_edges(*key), weight=weight)
                for rec in result:
                    src.append(s_idx[rec["s"]])
                    dst.append(d_idx[rec["t"]])
                    v = rec["w"]
                    w.append(1.0 if v is None else float(v))
                    bar.update(1)
            if len(src):
                tables.edges[key] = EdgeList(src.array(), dst.array(), w.array() if weight else None)
        bar.close()
        return tables

    def export_csr(
        self,
        labels: Sequence[str] | None = None,
        rel_types: Sequence[str] | None = None,
        weight: str | None = None,
        symmetric: bool = False,
        dtype: Any = np.float32,
        progress: bool = False,
    ) -> GraphMatrix:
        """Export a subgraph to a CSR adjacency with index <-> (label, id) maps."""
        return self.export(labels, rel_types, weight, progress).to_matrix(symmetric=symmetric, dtype=dtype)


class _Chunks:
    """Append-only typed buffer that grows in fixed-size NumPy chunks."""

    def __init__(self, dtype: Any, chunk: int = 1 << 16) -> None:
        self.dtype, self.chunk = dtype, chunk
        self.done: list[np.ndarray] = []
        self.cur = np.empty(chunk, dtype=dtype)
        self.n = 0

    def append(self, v: Any) -> None:
        if self.n == self.chunk:
            self.done.append(self.cur)
            self.cur = np.empty(self.chunk, dtype=self.dtype)
            self.n = 0
        self.cur[self.n] = v
        self.n += 1

    def __len__(self) -> int:
        return len(self.done) * self.chunk + self.n

    def array(self) -> np.ndarray:
        return np.concatenate(self.done + [self.cur[: self.n]])


_LUCENE_SPECIAL = set('+-&|!(){}[]^"~*?:\\/')


def lucene_escape(text: str) -> str:
    """Escape Lucene query syntax so user text is searched literally."""
    return "".join("\\" + c if c in _LUCENE_SPECIAL else c for c in text)


def to_dataframe(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Rows as a pandas DataFrame (pandas is an optional dependency: ``pip install medkg[pandas]``)."""
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MedkgError("pandas is not installed: pip install 'medkg[pandas]'") from e
    return pd.DataFrame(list(rows))
