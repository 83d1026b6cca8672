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

Atomicity: the one prediction write-back
(:func:`graph_engine.predictions.replace_predictions`): all deletions of the
previous recommendations (same target, same method) and all creations of a run
happen in ONE transaction; if anything fails, including a row whose drug or
target is not in the graph, the transaction rolls back and the previous
recommendations stay. The ``Run`` (:func:`graph_engine.runs.open_run`) records
success or failure.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from graph_engine.errors import RecommendError
from graph_engine.predictions import PredictionKind, replace_predictions
from graph_engine.runs import RunClient, open_run

from recommend.base import Recommender
from recommend.cypher import check_target_label
from recommend.data import as_id_list

#: Row keys that are not node properties (they name the nodes it links to).
_LINK_KEYS = ("id", "target", "drug", "run_id", "created_at")


#: How Recommendation nodes attach: FOR the target, RECOMMENDS the drug; one method's replace each other.
def recommendation_kind(target_label: str = "Disease") -> PredictionKind:
    """The :class:`~graph_engine.predictions.PredictionKind` of recommendations for ``target_label``."""
    return PredictionKind(label="Recommendation", for_label=check_target_label(target_label), for_rel="FOR", object_label="Drug",
                          object_rel="RECOMMENDS", scope=("method",))


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
    """One row per recommended drug, for :func:`write_recommendations`."""
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
    client: RunClient,
    rows: Sequence[dict[str, Any]],
    method: str,
    target_label: str = "Disease",
    targets: Sequence[str] | None = None,
    batch_size: int = 5000,
) -> int:
    """Replace ``method``'s recommendations for the rows' targets, in one transaction
    (:func:`graph_engine.predictions.replace_predictions`).

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
    run_id = str(rows[0]["run_id"]) if rows else ""
    created_at = str(rows[0]["created_at"]) if rows else None
    pred_rows = [{"id": r["id"], "for": r["target"], "object": r["drug"],
                  "props": {k: v for k, v in r.items() if k not in _LINK_KEYS}} for r in rows]
    return replace_predictions(client, run_id, recommendation_kind(target_label),
                               targets if targets is not None else [], pred_rows,
                               scope_values={"method": method}, created_at=created_at,
                               batch_size=batch_size, error=RecommendError)


def run_writeback(
    client: RunClient,
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
    params = {"model_version": model.model_version, "k": k, "targets": len(targets), "target_label": target_label,
              "exclude_known": exclude_known, **{f"param_{a}": v for a, v in model.params().items()}}
    with open_run(client, "recommend", model.name, params) as run:
        rows = recommendation_rows(model, targets, k, run.id, explain=explain, exclude_known=exclude_known)
        created = write_recommendations(client, rows, model.name, target_label, targets=targets)
        run.metrics.update(created=created, targets=len(targets))
    return run.id, created
