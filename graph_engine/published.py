"""Write-backs of node properties that become visible at one point: slots and a published pointer.

A property family that one job writes together (``pagerank``; ``hub`` + ``authority``;
``ppr_ids`` + ``ppr_scores``; ``embedding``) is kept three times on each node:

* two **slots**, ``<prop>__v0`` / ``<prop>__v1``, each with ``<prop>__vN_run``;
* the **plain** property ``<prop>`` with ``<prop>_run`` (what indexes, ``similar`` and most
  Cypher read).

One ``(:Published {property})`` node per property says which slot holds the published run
(``run_id``, ``slot``, ``key``, ``run_key``, ``labels``, ``published_at``). A write-back
(:func:`publish_properties`):

1. **claims** the pointers (``writer`` = this run; refused while another live run holds them);
2. writes the new values into the *free* slot and the plain property, **in batches**, one
   transaction each (so it fits Neo4j's transaction memory on any graph size; each node gets
   all properties of the family, slot and plain, in one statement);
3. removes, in batches, the free slot's and the plain property's values that this run did not write;
4. **switches** every pointer of the family to the free slot in ONE small transaction.

A reader that follows the published read pattern sees the old run until step 4 commits and
the new run from then on, never a mix::

    MATCH (p:Published {property: 'pagerank'})
    WITH p.key AS key, p.run_key AS rk, p.run_id AS run      // pinned once per query
    MATCH (n:Drug) WHERE n[rk] = run
    RETURN n.id AS id, n[key] AS pagerank ORDER BY pagerank DESC LIMIT 10

(:meth:`GraphClient.top` and :func:`read_published` do exactly this.) The published slot is not
written again until the *next* write-back of the family starts; a query that outlasts both the
switch and the start of the next write-back can miss nodes (they fail ``n[rk] = run``), never mix.

A plain property read guarantees less: on one node, the family's plain properties always come
from the same run (one statement writes them); a scan that overlaps steps 2–3 can see nodes of
two runs (``<prop>_run`` tells them apart); once the job returns, every plain value is the
published run's. If a write-back fails before step 4, nothing is published, and the plain
properties are restored from the published slot (best effort, in batches), so the graph reads
as it did before the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import neo4j
import numpy as np

from graph_engine import cypher
from graph_engine.batching import batched
from graph_engine.errors import MedkgError
from graph_engine.schema import check_property_key

log = logging.getLogger(__name__)

SLOTS = ("v0", "v1")


class PublishConflict(MedkgError):
    """Another live run is writing the same property family."""


@dataclass(frozen=True)
class Published:
    """Where a property's published values are: ``n[key]`` on nodes with ``n[run_key] = run_id``."""

    property: str
    run_id: str
    slot: str
    key: str
    run_key: str
    labels: tuple[str, ...]


def slot_keys(prop: str, slot: str) -> tuple[str, str]:
    """The value and run property keys of ``prop`` in ``slot``."""
    if slot not in SLOTS:
        raise ValueError(f"unknown slot {slot!r}")
    key = check_property_key(f"{check_property_key(prop)}__{slot}")
    return key, check_property_key(key + "_run")


def _to_py(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.astype(float).tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def published(client: Any, props: Sequence[str]) -> dict[str, Published]:
    """The published pointer of each of ``props`` that has one."""
    rows = client.read(cypher.READ_PUBLISHED, {"props": [check_property_key(p) for p in props]})
    return {r["property"]: Published(r["property"], r["run_id"], r["slot"], r["key"], r["run_key"],
                                     tuple(r["labels"] or ())) for r in rows}


def read_published(client: Any, label: str, props: Sequence[str], ids: Sequence[str] | None = None
                   ) -> dict[str, dict[str, Any]]:
    """``{node id: {prop: value}}`` of the published run of a property family, read in one query
    whose pointer values are pinned first (the published read pattern). A property with no pointer
    (never published, or written by an older medkg) is read from the plain property."""
    q = cypher.read_published_values(client.schema.check_label(label))
    props = [check_property_key(p) for p in props]
    out: dict[str, dict[str, Any]] = {}
    for r in client.read(q, {"props": props, "ids": None if ids is None else [str(i) for i in ids]}):
        out.setdefault(r["id"], {})[r["prop"]] = r["value"]
    return out


def _drain(client: Any, query: str, params: Mapping[str, Any], limit: int) -> int:
    """Run a ``... WITH n LIMIT $limit ... RETURN count(n) AS removed`` statement until it touches nothing."""
    total = 0
    while True:
        def work(tx: neo4j.ManagedTransaction) -> int:
            rec = tx.run(query, {**params, "limit": limit}).single()
            return int(rec["removed"]) if rec else 0

        n = client.run_in_transaction(work)
        total += n
        if n < limit:
            return total


def _claim(client: Any, props: list[str], run_id: str) -> dict[str, dict[str, Any]]:
    def work(tx: neo4j.ManagedTransaction) -> dict[str, dict[str, Any]]:
        rows = {r["property"]: dict(r) for r in tx.run(cypher.CLAIM_PUBLISHED, props=props)}
        for prop, r in rows.items():
            if r["writer"] and r["writer"] != run_id and r["writer_status"] == "running":
                raise PublishConflict(
                    f"run {r['writer']} is writing {prop!r} now; wait for it, or mark it abandoned "
                    "(`medkg runs list` does when its process is gone)")
        tx.run(cypher.SET_PUBLISHED_WRITER, props=props, run_id=run_id).consume()
        return rows

    return client.run_in_transaction(work)


def publish_properties(
    client: Any,
    groups: Mapping[str, tuple[Any, Mapping[str, Sequence[Any]]]],
    run_id: str,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write a property family in batches and publish it at one point (see the module docstring).

    ``groups`` maps a label to ``(ids, {prop: values})`` (values aligned with ids). Every node of
    any label that an earlier run gave one of the props and this run does not loses it.

    Returns:
        Nodes written per label.

    Raises:
        PublishConflict: another live run is writing one of the props.
    """
    props = sorted({p for _, values in groups.values() for p in values})
    if not props:
        return {}
    for p in props:
        check_property_key(check_property_key(p) + "_run")
        slot_keys(p, SLOTS[0])
    for label in groups:
        client.schema.check_label(label)
    size = batch_size or client.batch_size
    current = _claim(client, props, run_id)
    target = {p: SLOTS[1] if current.get(p, {}).get("slot") == SLOTS[0] else SLOTS[0] for p in props}
    keys = {p: slot_keys(p, target[p]) for p in props}
    try:
        written = _write(client, groups, props, keys, run_id, size, progress)
        # stale values: every label the previous publication covered, every label written now
        touched = {label for label, n in written.items() if n} | {
            label for p in props for label in (current.get(p, {}).get("labels") or ())}
        first = any(not (current.get(p) or {}).get("run_id") for p in props)  # plain values of older medkg
        labels = list(client.schema.labels) if first else [l for l in client.schema.labels if l in touched]
        for p in props:
            key, rk = keys[p]
            for label in labels:
                _drain(client, cypher.clear_stale_property(label, key, rk), {"run_id": run_id}, size)
                _drain(client, cypher.clear_stale_property(label, p), {"run_id": run_id}, size)
        rows = [{"property": p, "slot": target[p], "key": keys[p][0], "run_key": keys[p][1],
                 "labels": sorted(label for label, n in written.items() if n and p in groups[label][1])}
                for p in props]

        def switch(tx: neo4j.ManagedTransaction) -> None:
            rec = tx.run(cypher.SWITCH_PUBLISHED, rows=rows, run_id=run_id).single()
            if not rec or int(rec["switched"]) != len(rows):
                raise PublishConflict(f"run {run_id} lost its claim on {', '.join(props)} before publishing")

        client.run_in_transaction(switch)
    except BaseException:
        _undo(client, props, current, run_id, size)
        raise
    return written


def _write(client: Any, groups: Mapping[str, tuple[Any, Mapping[str, Sequence[Any]]]], props: list[str],
           keys: Mapping[str, tuple[str, str]], run_id: str, size: int,
           progress: Callable[[int], None] | None) -> dict[str, int]:
    written: dict[str, int] = {}
    for label, (ids, values) in groups.items():
        query = cypher.set_node_properties(label)
        names = list(values)
        written[label] = 0

        def row(i: Any, vs: Sequence[Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for p, x in zip(names, vs):
                v = _to_py(x)
                key, rk = keys[p]
                out.update({p: v, p + "_run": run_id, key: v, rk: run_id})
            return {"id": str(i), "props": out}

        rows = (row(i, vs) for i, *vs in zip(ids, *(values[p] for p in names)))
        for chunk in batched(rows, size):
            def work(tx: neo4j.ManagedTransaction, chunk: list = chunk) -> int:
                rec = tx.run(query, rows=chunk).single()
                return int(rec["written"]) if rec else 0

            written[label] += client.run_in_transaction(work)
            if progress:
                progress(len(chunk) * len(names))
    return written


def _undo(client: Any, props: list[str], current: Mapping[str, Mapping[str, Any]], run_id: str, size: int) -> None:
    """After a failure before the switch: plain properties back to the published run, claim released."""
    try:
        for p in props:
            cur = current.get(p) or {}
            labels = [l for l in client.schema.labels if l in (cur.get("labels") or ())] if cur.get("run_id") else []
            for label in labels:
                key, rk = slot_keys(p, cur["slot"])
                _drain(client, cypher.restore_property(label, p, key, rk), {"old_run": cur["run_id"]}, size)
            for label in client.schema.labels:
                _drain(client, cypher.remove_run_property(label, p), {"run_id": run_id}, size)
        client.run_in_transaction(
            lambda tx: tx.run(cypher.RELEASE_PUBLISHED_WRITER, props=props, run_id=run_id).consume())
    except Exception as e:  # the original error matters more; the plain values say which run they are
        log.warning("could not restore %s after the failed run %s: %s", ", ".join(props), run_id, e)
