"""The one prediction write-back: replace a run's predictions for a set of targets in ONE transaction.

Every kind of prediction node goes through :func:`replace_predictions`:
``(:Recommendation)``, ``(:Diagnosis)`` and every ``(:Prediction {kind})``::

    (p:<label> {id, run_id, created_at, [kind], ...props})
        -[:<for_rel>]->(target:<for_label>)
        -[:<object_rel>]->(object:<object_label>)      # when the row names an object
        -[:PRODUCED_BY]->(:Run {id: run_id})

Rules, the same for all kinds:

* **Replace, atomically.** In one transaction: the earlier nodes of the same
  label (and ``kind``) with the same *scope* values (e.g. the same ``method`` or
  ``model``) linked to the given targets are deleted, and the new ones created.
  A reader sees the old set or the new set, never a mix; a failure anywhere
  rolls everything back and the old predictions stay.
* **Refuse missing nodes.** A target or object id that is not in the graph is
  an error naming the id (at most five shown); nothing is written. Only a kind
  whose targets are the input records themselves (``create_targets``: a
  diagnosis ``Case``) creates its targets, and never its objects; such target
  ids must pass :func:`graph_engine.phi.check_case_id` (no dates, SSN- or
  phone-like numbers, personal names; the refusal never echoes the id).
* Labels, relationship types and property keys are checked against the schema
  before they are put into Cypher text; all values travel as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from graph_engine.batching import batched
from graph_engine.cypher import _ident
from graph_engine.errors import QueryError
from graph_engine.phi import PHIError, check_case_id
from graph_engine.runs import RunClient
from graph_engine.schema import Schema, check_property_key, default_schema

MISSING_SHOWN = 5


@dataclass(frozen=True)
class PredictionKind:
    """One kind of prediction node and how it attaches to the graph.

    Attributes:
        label: node label (``Prediction``, ``Recommendation``, ``Diagnosis``).
        kind: value of the node's ``kind`` property (``Prediction`` nodes); ``None`` for none.
        for_label: label of what the prediction is about (``Drug``, ``Patient``, ``Case`` …).
        for_rel: relationship from the prediction to its target.
        object_label: label of what the prediction proposes (``Drug``, ``Disease``, ``SideEffect``), or None.
        object_rel: relationship from the prediction to its object.
        scope: property keys whose values identify "the same predictor": predictions of
            another method / model for the same target are left alone.
        create_targets: create missing targets (only for kinds whose targets are input records).
    """

    label: str = "Prediction"
    kind: str | None = None
    for_label: str = "Drug"
    for_rel: str = "FOR"
    object_label: str | None = None
    object_rel: str = "PREDICTS"
    scope: tuple[str, ...] = ("model",)
    create_targets: bool = False

    def checked(self, schema: Schema | None = None) -> "PredictionKind":
        """Raise SchemaError unless every name is allowed by the schema."""
        s = schema or default_schema()
        s.check_label(self.label)
        s.check_label(self.for_label)
        s.check_relationship_type(self.for_rel)
        s.check_relationship_type("PRODUCED_BY")
        if self.object_label is not None:
            s.check_label(self.object_label)
            s.check_relationship_type(self.object_rel)
        for key in self.scope:
            check_property_key(key)
        return self

    # ------------------------------------------------------------------ Cypher
    def missing_query(self, label: str) -> str:
        """``// predictions.missing``: the ids of ``$ids`` with no ``label`` node."""
        return (
            "// predictions.missing\n"
            "UNWIND $ids AS id\n"
            f"OPTIONAL MATCH (n:{_ident(label)} {{id: id}})\n"
            "WITH id, n WHERE n IS NULL\n"
            f"RETURN id LIMIT {MISSING_SHOWN}"
        )

    def delete_query(self) -> str:
        """``// predictions.delete``: the scope's earlier predictions for ``$targets``."""
        conds = [f"p.{_ident(k)} = $scope.{_ident(k)}" for k in self.scope]
        if self.kind is not None:
            conds.insert(0, "p.kind = $kind")
        where = ("WHERE " + " AND ".join(conds) + "\n") if conds else ""
        return (
            "// predictions.delete\n"
            "UNWIND $targets AS tid\n"
            f"MATCH (:{_ident(self.for_label)} {{id: tid}})<-[:{_ident(self.for_rel)}]-(p:{_ident(self.label)})\n"
            f"{where}"
            "DETACH DELETE p"
        )

    def create_query(self) -> str:
        """``// predictions.create``: one node per row, linked to target, object and Run."""
        target = "MERGE" if self.create_targets else "MATCH"
        kind = ", kind: $kind" if self.kind is not None else ""
        lines = [
            "// predictions.create",
            "UNWIND $rows AS row",
            f"{target} (t:{_ident(self.for_label)} {{id: row.for}})",
            *(["SET t += $target_props"] if self.create_targets else []),
            f"CREATE (p:{_ident(self.label)} {{id: row.id{kind}}})",
            "SET p += row.props, p.run_id = $run_id, p.created_at = datetime($created_at)",
            f"CREATE (p)-[:{_ident(self.for_rel)}]->(t)",
        ]
        if self.object_label is not None:
            lines += [
                "WITH p, row",
                f"OPTIONAL MATCH (o:{_ident(self.object_label)} {{id: row.object}})",
                f"FOREACH (_ IN CASE WHEN o IS NULL THEN [] ELSE [1] END | CREATE (p)-[:{_ident(self.object_rel)}]->(o))",
            ]
        lines += [
            "WITH p",
            "OPTIONAL MATCH (run:Run {id: $run_id})",
            "FOREACH (_ IN CASE WHEN run IS NULL THEN [] ELSE [1] END | CREATE (p)-[:PRODUCED_BY]->(run))",
            "RETURN count(p) AS created",
        ]
        return "\n".join(lines)


def _single(result: Any, key: str, default: int) -> int:
    rec = result.single() if hasattr(result, "single") else None
    return int(rec[key]) if rec is not None else default


def _ids(result: Any) -> list[str]:
    return [str(r["id"]) for r in result] if result is not None and hasattr(result, "__iter__") else []


def replace_predictions(
    client: RunClient,
    run_id: str,
    spec: PredictionKind,
    targets: Iterable[str],
    rows: Sequence[Mapping[str, Any]],
    scope_values: Mapping[str, Any] | None = None,
    created_at: str | None = None,
    batch_size: int = 5000,
    error: type[Exception] = QueryError,
    target_props: Mapping[str, Any] | None = None,
) -> int:
    """Replace the predictions of ``spec`` (and scope) for ``targets`` by ``rows``, in one transaction.

    Args:
        client: a ``GraphClient`` (anything with ``run_in_transaction``).
        run_id: the Run the new nodes belong to (see :func:`graph_engine.runs.open_run`).
        spec: the prediction kind.
        targets: ids whose earlier predictions are replaced; targets that get no row
            are cleared. The rows' targets are added.
        rows: ``{"id", "for": target id, "object": object id or None, "props": {...}}``.
            ``props`` keys are snake_case; values are Neo4j property values.
        scope_values: the scope's values (default: taken from the rows' props, which must agree).
        created_at: ISO 8601 time stored on every node (default: now, UTC).
        batch_size: rows per ``UNWIND`` statement inside the transaction.
        error: the error class raised for missing nodes (a ``MedkgError`` subclass).
        target_props: properties set on the targets (only for ``create_targets`` kinds, whose
            targets are the input records: e.g. a generated image's Case gets ``synthetic: true``).

    Returns:
        The number of nodes created.

    Raises:
        SchemaError: a name in ``spec`` or a props key is not allowed.
        error: a target or object id is not in the graph, or the scope is ambiguous; nothing is written.
    """
    spec.checked(getattr(client, "schema", None))
    tids = sorted(set(map(str, targets)) | {str(r["for"]) for r in rows})
    scope = dict(scope_values) if scope_values is not None else _scope_from_rows(spec, rows, error)
    for row in rows:
        for key in row.get("props", {}):
            check_property_key(key)
        for key in spec.scope:
            if row.get("props", {}).get(key, scope.get(key)) != scope.get(key):
                raise error(f"prediction {row['id']!r} has {key}={row['props'][key]!r}, not the run's {scope.get(key)!r}")
    objects = sorted({str(r["object"]) for r in rows if r.get("object") is not None})
    if objects and spec.object_label is None:
        raise error(f"{spec.label} predictions have no object label, but rows name objects (e.g. {objects[0]!r})")
    if target_props and not spec.create_targets:
        raise error(f"{spec.label} predictions do not own their {spec.for_label} targets; target_props refused")
    for key in target_props or {}:
        check_property_key(key)
    if spec.create_targets:  # targets created from input records: pseudonyms only (the id is never echoed)
        for n, tid in enumerate(tids, start=1):
            try:
                check_case_id(tid, what=f"{spec.for_label} id {n} of {len(tids)} (sorted)")
            except PHIError as e:
                raise error(f"{spec.label} write-back refused: {e}; nothing was written") from None
    when = created_at or datetime.now(timezone.utc).isoformat()
    params: list[dict[str, Any]] = [{"id": str(r["id"]), "for": str(r["for"]), "object": None if r.get("object") is None else str(r["object"]),
               "props": {**dict(r.get("props", {})), **scope}} for r in rows]
    common = {"run_id": run_id, "created_at": when, "kind": spec.kind, "target_props": dict(target_props or {})}

    def missing(tx: Any, label: str, ids: list[str]) -> list[str]:
        out: list[str] = []
        for chunk in batched(ids, batch_size):
            out += _ids(tx.run(spec.missing_query(label), {"ids": chunk}))
            if len(out) >= MISSING_SHOWN:
                break
        return out[:MISSING_SHOWN]

    def work(tx: Any) -> int:
        checks: list[tuple[str, list[str]]] = [(spec.object_label, objects)] if objects and spec.object_label else []
        if not spec.create_targets:
            checks.insert(0, (spec.for_label, sorted({p["for"] for p in params})))
        for label, ids in checks:
            absent = missing(tx, label, ids)
            if absent:
                # raising inside the transaction function rolls everything back
                raise error(f"{spec.label} write-back refused: {label} id(s) not in the graph: "
                            f"{', '.join(map(repr, absent))}; nothing was written")
        for chunk in batched(tids, batch_size):
            tx.run(spec.delete_query(), {"targets": chunk, "scope": scope, "kind": spec.kind})
        created = 0
        for rows_chunk in batched(params, batch_size):
            n = _single(tx.run(spec.create_query(), {**common, "rows": rows_chunk}), "created", len(rows_chunk))
            if n != len(rows_chunk):
                raise error(f"{spec.label} write-back created {n} of {len(rows_chunk)} nodes; nothing was written")
            created += n
        return created

    return int(client.run_in_transaction(work))


def _scope_from_rows(spec: PredictionKind, rows: Sequence[Mapping[str, Any]],
                     error: type[Exception]) -> dict[str, Any]:
    scope: dict[str, Any] = {}
    for key in spec.scope:
        values = {r.get("props", {}).get(key) for r in rows}
        if len(values) != 1 or None in values:
            raise error(f"cannot tell which {spec.label} predictions to replace: pass scope_values "
                        f"({key!r} takes {len(values)} values in the rows)")
        scope[key] = values.pop()
    return scope
