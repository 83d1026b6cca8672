"""Write recommendations back to Neo4j as ``(:Recommendation)`` nodes.

Shape::

    (:Recommendation {id, score, rank, method, model, model_version, run_id, created_at,
                      explanation, explanation_paths, flags})
      -[:RECOMMENDS]->(:Drug)
      -[:FOR]->(:Disease | :Patient)
      -[:PRODUCED_BY]->(:Run)

``explanation`` is a JSON string (Neo4j properties cannot be maps) of the
supporting paths with their contributions; ``explanation_paths`` repeats them as
readable strings for Cypher users.

Atomicity: all deletions of the previous recommendations (same target, same
method) and all creations of a run happen in ONE transaction
(``client.run_in_transaction``); if anything fails, including a row whose drug
or target is not in the graph, the transaction rolls back and the previous
recommendations stay. The ``Run`` node records success or failure.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable, Protocol, Sequence

from graph_engine.batching import batched
from graph_engine.errors import RecommendError

from recommend.base import Recommender
from recommend.cypher import create_recommendations, delete_recommendations
from recommend.data import as_id_list


class WritebackClient(Protocol):
    """What write-back needs from ``graph_engine.client.GraphClient``."""

    def run_in_transaction(self, fn: Any) -> Any: ...

    def create_run(self, kind: str, algorithm: str, params: dict[str, Any]) -> str: ...

    def finish_run(self, run_id: str, metrics: dict[str, Any], status: str = "succeeded") -> None: ...


def recommendation_rows(
    model: Recommender,
    target_ids: str | Iterable[str],
    k: int | None,
    run_id: str,
    explain: bool = True,
    explain_top: int = 3,
    exclude_known: bool = False,
    created_at: str | None = None,
    flags: dict[tuple[str, str], list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Parameter rows for :func:`recommend.cypher.create_recommendations`."""
    targets = as_id_list(target_ids)
    ids, scores = model.recommend(targets, k=k, exclude_known=exclude_known)
    when = created_at or datetime.now(timezone.utc).isoformat()
    rows = []
    for t, drugs, ss in zip(targets, ids, scores):
        for rank, (drug, s) in enumerate(zip(drugs, ss), start=1):
            if drug == "":
                continue
            exp_json, exp_text = "{}", []
            if explain:
                exp = model.explain(t, drug, top=explain_top)
                exp_json = json.dumps(exp.to_dict())
                exp_text = [p.text() for p in exp.paths] or ([exp.note] if exp.note else [])
            rows.append({
                "id": f"{run_id}:{model.name}:{t}:{drug}", "target": t, "drug": str(drug), "score": float(s),
                "rank": rank, "method": model.name, "model": type(model).__name__,
                "model_version": model.model_version, "run_id": run_id, "created_at": when,
                "explanation": exp_json, "explanation_paths": exp_text,
                "flags": list((flags or {}).get((t, str(drug)), [])),
            })
    return rows


def write_recommendations(
    client: WritebackClient,
    rows: Sequence[dict[str, Any]],
    method: str,
    target_label: str = "Disease",
    targets: Sequence[str] | None = None,
    batch_size: int = 5000,
) -> int:
    """Replace ``method``'s recommendations for the rows' targets, in one transaction.

    Args:
        client: the graph client.
        rows: from :func:`recommendation_rows`.
        method: whose previous recommendations are replaced.
        target_label: ``Disease`` or ``Patient``.
        targets: targets to clear (default: those in ``rows``; pass it to also clear
            targets that now get no recommendation).
        batch_size: rows per ``UNWIND`` statement inside the transaction.

    Returns:
        the number of Recommendation nodes created.

    Raises:
        RecommendError: a row's target or drug is missing from the graph (nothing is changed).
    """
    tids = sorted(set(targets if targets is not None else (r["target"] for r in rows)))
    delete_q = delete_recommendations(target_label)
    create_q = create_recommendations(target_label)

    def work(tx: Any) -> int:
        for chunk in batched(tids, batch_size):
            tx.run(delete_q, {"targets": chunk, "method": method})
        created = 0
        for chunk in batched(rows, batch_size):
            res = tx.run(create_q, {"rows": chunk})
            rec = res.single() if hasattr(res, "single") else None
            n = int(rec["created"]) if rec is not None else len(chunk)
            if n != len(chunk):
                # raising inside the transaction function rolls everything back
                raise RecommendError(
                    f"{len(chunk) - n} recommendation rows name a {target_label} or Drug id that is not in the graph; "
                    "nothing was written")
        created += len(rows)
        return created

    return int(client.run_in_transaction(work))


def run_writeback(
    client: WritebackClient,
    model: Recommender,
    target_ids: str | Iterable[str],
    k: int | None = 10,
    target_label: str = "Disease",
    explain: bool = True,
    exclude_known: bool = False,
) -> tuple[str, int]:
    """Recommend, explain and write back under a new ``Run``; returns ``(run_id, created)``.

    The Run is finished as ``failed`` (and the error re-raised) when anything goes wrong;
    the previous recommendations are then untouched.
    """
    targets = as_id_list(target_ids)
    run_id = client.create_run("recommend", model.name, {
        "model_version": model.model_version, "k": k, "targets": len(targets), "target_label": target_label,
        "exclude_known": exclude_known, **{f"param_{a}": v for a, v in model.params().items()}})
    try:
        rows = recommendation_rows(model, targets, k, run_id, explain=explain, exclude_known=exclude_known)
        created = write_recommendations(client, rows, model.name, target_label, targets=targets)
    except Exception as e:
        client.finish_run(run_id, {"error": f"{type(e).__name__}: {e}"[:1000]}, status="failed")
        raise
    client.finish_run(run_id, {"created": created, "targets": len(targets)})
    return run_id, created
