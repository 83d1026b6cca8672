"""Write calibrated predictions to the graph as ``(:Diagnosis)`` nodes.

For each case (input record) the top-``k`` labels become
``(:Diagnosis {id, label, probability, score, rank, method, model,
model_version, run_id, created_at})-[:OF]->(:Case {id})`` and, when the label
maps to a disease, ``-[:SUGGESTS]->(:Disease {id})``; every Diagnosis is also
``-[:PRODUCED_BY]->(:Run)``.

One run is one transaction: either all its Diagnosis nodes are written and the
previous run's Diagnosis nodes of the same model for the same cases are removed,
or nothing changes. Re-running the same model on the same input gives the same
nodes (ids are ``model:model_version:case:label``), so re-runs are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from graph_engine.errors import ModelError
from models import cypher
from models.records import InferenceReport

CHUNK = 5000


class RunClient(Protocol):
    """The part of ``graph_engine.client.GraphClient`` this module uses."""

    def run_in_transaction(self, fn: Any) -> Any: ...

    def create_run(self, kind: str, algorithm: str, params: dict[str, Any]) -> str: ...

    def finish_run(self, run_id: str, metrics: dict[str, Any], status: str = "succeeded") -> None: ...


@dataclass(frozen=True)
class WriteSummary:
    """What one write-back run did."""

    run_id: str
    cases: int
    diagnoses: int
    skipped: int


def diagnosis_rows(model: Any, report: InferenceReport, top_k: int) -> list[dict[str, Any]]:
    """Parameter rows for :data:`models.cypher.MERGE_DIAGNOSES` (pure; no database).

    Args:
        model: a loaded model (its ``manifest`` and ``label_info`` name the ids).
        report: predictions from :func:`models.predict_file` / :func:`models.predict_records`.
        top_k: labels kept per case, most probable first (>= 1).
    """
    if top_k < 1:
        raise ModelError(f"top_k must be >= 1, got {top_k}")
    man = model.manifest
    info = getattr(model, "label_info", {})
    rows = []
    for p in report.predictions:
        ranked = sorted(p.probabilities.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
        for rank, (label, prob) in enumerate(ranked, start=1):
            li = info.get(label)
            rows.append({
                "id": f"{man['name']}:{man['model_version']}:{p.id}:{label}",
                "case_id": p.id,
                "label": label,
                "probability": float(prob),
                "rank": rank,
                "disease_id": li.disease_id if li else None,
                "disease_name": li.disease_name if li else None,
            })
    return rows


def write_diagnoses(
    client: RunClient, model: Any, report: InferenceReport, top_k: int = 3, source: str | None = None,
    synthetic: bool = False,
) -> WriteSummary:
    """Write one run of Diagnosis nodes, all-or-nothing.

    Args:
        client: a ``GraphClient`` (``run_in_transaction``, ``create_run``, ``finish_run``).
        model: the loaded model that produced ``report``.
        report: the predictions (skipped records are counted, not written).
        top_k: Diagnosis nodes per case.
        source: input description stored in the Run's params.
        synthetic: the input images were generated; the Case nodes get ``synthetic: true``.

    Returns:
        :class:`WriteSummary`.

    Raises:
        ModelError: nothing to write. Database errors propagate after the Run is
            marked ``failed``; the previous run's Diagnosis nodes stay in place.
    """
    if not report.predictions:
        raise ModelError(f"no predictions to write ({len(report.skipped)} records skipped: {report.skipped_by_reason()})")
    man = model.manifest
    rows = diagnosis_rows(model, report, top_k)
    case_ids = sorted({p.id for p in report.predictions})
    params = {
        "model": man["name"], "model_version": man["model_version"], "kind": man["kind"],
        "top_k": top_k, "input": source, "synthetic": bool(synthetic),
    }
    run_id = client.create_run("diagnose", man["name"], params)
    common = {
        "run_id": run_id,
        "model": man["name"],
        "model_version": man["model_version"],
        "method": man["model"]["architecture"],
        "created_at": datetime.now(timezone.utc).isoformat(),
        "synthetic": bool(synthetic),
    }

    def work(tx: Any) -> None:
        for s in range(0, len(rows), CHUNK):
            tx.run(cypher.MERGE_DIAGNOSES, {**common, "rows": rows[s : s + CHUNK]}).consume()
        for s in range(0, len(case_ids), CHUNK):
            tx.run(
                cypher.DELETE_STALE_DIAGNOSES,
                {"case_ids": case_ids[s : s + CHUNK], "model": man["name"], "run_id": run_id},
            ).consume()
        tx.run(cypher.LINK_RUN, {"run_id": run_id}).consume()

    try:
        client.run_in_transaction(work)
    except BaseException:
        client.finish_run(run_id, {"error": "write failed; nothing committed"}, status="failed")
        raise
    metrics = {
        "read": report.read, "cases": len(case_ids), "diagnoses": len(rows), "skipped": len(report.skipped),
        "skipped_by_reason": report.skipped_by_reason(),
    }
    client.finish_run(run_id, metrics)
    return WriteSummary(run_id, len(case_ids), len(rows), len(report.skipped))
