"""Column-oriented, idempotent relationship writes for large loads.

:meth:`GraphClient.upsert_relationships` sends one map per row and finds both
endpoints through the ``id`` uniqueness index on every row. For a load of
millions of plain relationships (no properties, one provenance tag) that is
most of the cost. :class:`ColumnWriter` writes the same graph faster:

* endpoints are resolved once per distinct id (``UNWIND $ids ... RETURN id(n)``,
  cached), and each row then finds its nodes by internal id, re-checking label
  and ``id`` inside the write transaction, so a stale cache can never link the
  wrong node (a mismatch falls back to the index path, which raises as before);
* rows travel as two parallel string lists plus two integer lists, not maps;
* when a relationship group ``(:S)-[:T]->(:D)`` holds no relationship of type
  ``T`` from ``S`` at the start of a load, its rows are ``CREATE``\\ d instead of
  ``MERGE``\\ d: rows repeated within the load are dropped before they are sent
  (they still count as written, as with ``MERGE``), and every such transaction
  verifies, after its creates and through the counts store, that ``(:S)-[:T]->()``
  holds exactly the relationships this load created. A concurrent writer that added one
  makes the check fail; the transaction rolls back and the group continues on the
  ``MERGE`` path. (Creating a relationship locks both endpoints, as ``MERGE``
  does, so a concurrent ``MERGE`` of the same pair either sees ours or is seen.)

The stored graph is exactly what :func:`graph_engine.cypher.merge_relationships`
would store: ``r.sources`` is the provenance list (absent when there is none).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import neo4j
from neo4j.exceptions import ConstraintError

from graph_engine import cypher
from graph_engine.errors import QueryError
from graph_engine.records import EdgeRecord

#: cached internal node ids per label before the cache is emptied (bounded memory)
MAX_CACHED_IDS = 5_000_000
#: distinct (source, target) pairs remembered per CREATE-path group before it switches to MERGE
MAX_TRACKED_PAIRS = 20_000_000


class _NotFresh(Exception):
    """Raised inside a CREATE transaction whose group changed under it: roll back, use MERGE."""


@dataclass
class _Group:
    fresh: bool | None = None  # None: not checked yet
    pairs: set[int] = field(default_factory=set)


class ColumnWriter:
    """Writes relationship columns through a :class:`graph_engine.client.GraphClient`."""

    def __init__(self, client: "GraphClient") -> None:  # type: ignore[name-defined]  # noqa: F821
        self.client = client
        self.schema = client.schema
        self._nid: dict[str, dict[str, int]] = {}
        self._groups: dict[tuple[str, str, str], _Group] = {}
        self._create_nodes: dict[str, bool] = {}
        # relationships this load created per (source label, type): what the counts store must show
        self._created: dict[tuple[str, str], int] = {}
        # the id cache is shared by a loader thread (``missing``) and a writer thread (``write``)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ endpoints
    def missing(self, label: str, ids: Iterable[str], known: set[str] | None = None) -> set[str]:
        """The ``ids`` that have no ``label`` node in the graph (and caches the others' internal ids)."""
        with self._lock:
            cache = self._nid.setdefault(self.schema.check_label(label), {})
            todo = [i for i in dict.fromkeys(ids) if i not in cache]
            if not todo:
                return set()
            if len(cache) + len(todo) > MAX_CACHED_IDS:
                cache.clear()
            query = cypher.internal_ids(label)
            for start in range(0, len(todo), 50_000):
                for row in self.client.read(query, {"ids": todo[start:start + 50_000]}):
                    cache.update(zip(row["ids"], row["nids"]))
            return {i for i in todo if i not in cache}

    # ------------------------------------------------------------------ writes
    def write_nodes(self, label: str, ids: Sequence[str], names: Sequence[str | None], source: str | None) -> int:
        """Idempotently upsert plain nodes (no synonyms, xrefs or properties); returns rows written.

        A label with no node at its first batch is written with ``CREATE`` while that
        works; the ``id`` uniqueness constraint refuses a duplicate (from the file or a
        concurrent writer), the transaction rolls back and the label goes on with ``MERGE``.
        """
        label = self.schema.check_label(label)
        if not ids:
            return 0
        params = {"ids": list(ids), "names": list(names), "src": source}
        if label not in self._create_nodes:
            rows = self.client.read(cypher.count_nodes(label))
            self._create_nodes[label] = rows[0]["n"] == 0
        rec = None
        if self._create_nodes[label]:
            try:
                rec = self._single(cypher.create_node_columns(label), params)
            except ConstraintError:
                self._create_nodes[label] = False
        if rec is None:
            rec = self._single(cypher.merge_node_columns(label), params)
        with self._lock:
            cache = self._nid.setdefault(label, {})
            if len(cache) + len(ids) > MAX_CACHED_IDS:
                cache.clear()
            cache.update(zip(rec["ids"], rec["nids"]))
        return int(rec["written"])

    def _single(self, query: str, params: dict) -> neo4j.Record:
        with self.client._session(neo4j.WRITE_ACCESS) as s:
            return s.execute_write(lambda tx: tx.run(query, params).single(strict=True))

    def write(self, key: tuple[str, str, str], s_ids: Sequence[str], t_ids: Sequence[str], source: str | None) -> int:
        """Idempotently write ``(s_ids[i])-[TYPE]->(t_ids[i])`` for every ``i``; returns rows written (= rows).

        Raises:
            QueryError: an endpoint is missing (nothing of the batch is written).
        """
        s_label, rel_type, t_label = key
        query_key = (self.schema.check_label(s_label), self.schema.check_relationship_type(rel_type),
                     self.schema.check_label(t_label))
        n = len(s_ids)
        if n == 0:
            return 0
        with self._lock:
            if self.missing(s_label, s_ids) or self.missing(t_label, t_ids):
                resolved = None
            else:
                sc, tc = self._nid[s_label], self._nid[t_label]
                resolved = [sc[i] for i in s_ids], [tc[i] for i in t_ids]
        if resolved is None:
            return self._fallback(key, s_ids, t_ids, source)
        s_nid, t_nid = resolved
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
            rows = self.client.read(cypher.count_triple_source(s_label, rel_type))
            group.fresh = rows[0]["n"] == self._created.get((s_label, rel_type), 0)
        if group.fresh:
            done = self._create(query_key, group, s_ids, t_ids, s_nid, t_nid, source)
            if done is not None:
                return done
        params = {"s": list(s_ids), "t": list(t_ids), "sn": s_nid, "tn": t_nid, "src": source,
                  "sl": query_key[0], "tl": query_key[2]}
        written = self._run(cypher.merge_relationship_columns(*query_key), params)
        if written != n:  # an endpoint changed since it was resolved: the index path decides
            with self._lock:
                self._nid[s_label].clear()
                self._nid[t_label].clear()
            return self._fallback(key, s_ids, t_ids, source)
        return n

    def _create(self, key: tuple[str, str, str], group: _Group, s_ids: Sequence[str], t_ids: Sequence[str],
                s_nid: list[int], t_nid: list[int], source: str | None) -> int | None:
        """The CREATE path; ``None`` when the group is no longer fresh (the caller MERGEs)."""
        seen = group.pairs
        new_idx: list[int] = []
        batch_pairs: set[int] = set()
        for i, code in enumerate((a << 40) | b for a, b in zip(s_nid, t_nid)):
            if code not in seen and code not in batch_pairs:
                batch_pairs.add(code)
                new_idx.append(i)
        if len(seen) + len(batch_pairs) > MAX_TRACKED_PAIRS:
            group.fresh = False
            group.pairs = set()
            return None
        params = {"s": [s_ids[i] for i in new_idx], "t": [t_ids[i] for i in new_idx],
                  "sn": [s_nid[i] for i in new_idx], "tn": [t_nid[i] for i in new_idx], "src": source,
                  "sl": key[0], "tl": key[2]}
        tally = (key[0], key[1])
        expected = self._created.get(tally, 0) + len(new_idx)
        create = cypher.create_relationship_columns(*key)
        count = cypher.count_triple_source(key[0], key[1])

        def work(tx: neo4j.ManagedTransaction) -> int:
            written = cypher_written(tx.run(create, params))
            if written != len(new_idx):
                raise _NotFresh("an endpoint changed")
            now = tx.run(count).single()
            if now is None or now["n"] != expected:
                raise _NotFresh("the group changed")
            return written

        try:
            with self.client._session(neo4j.WRITE_ACCESS) as s:
                s.execute_write(work)
        except _NotFresh:
            group.fresh = False
            group.pairs = set()
            return None
        self._created[tally] = expected
        seen |= batch_pairs
        return len(s_ids)

    def _run(self, query: str, params: dict) -> int:
        with self.client._session(neo4j.WRITE_ACCESS) as s:
            return s.execute_write(lambda tx: cypher_written(tx.run(query, params)))

    def _fallback(self, key: tuple[str, str, str], s_ids: Sequence[str], t_ids: Sequence[str], source: str | None) -> int:
        recs = [EdgeRecord(key[1], key[0], a, key[2], b, source=source) for a, b in zip(s_ids, t_ids)]
        written = self.client.upsert_relationships(recs, batch_size=len(recs))
        if written != len(recs):  # pragma: no cover - upsert_relationships raises first
            raise QueryError(f"batch wrote {written} of {len(recs)} rows")
        return written


def cypher_written(result: neo4j.Result) -> int:
    rec = result.single()
    return int(rec["written"]) if rec is not None else 0
