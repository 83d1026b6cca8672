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
from typing import Any

from graph_engine.errors import ModelError
from graph_engine.phi import PHIError, check_case_id
from graph_engine.predictions import PredictionKind, replace_predictions
from graph_engine.runs import RunClient, open_run
from models.records import InferenceReport


#: Diagnosis nodes: OF the case (created from the input record), SUGGESTS the disease
#: when the label maps to one (which must be in the graph); one model's replace each other.
DIAGNOSIS = PredictionKind(label="Diagnosis", for_label="Case", for_rel="OF", object_label="Disease",
                           object_rel="SUGGESTS", scope=("model",), create_targets=True)


@dataclass(frozen=True)
class WriteSummary:
    """What one write-back run did."""

    run_id: str
    cases: int
    diagnoses: int
    skipped: int


def label_disease_records(model: Any) -> list[Any]:
    """The Disease nodes a model's label map names (``NodeRecord``, source ``medkg-models``).

    Diagnosis write-back refuses a suggested disease that is not in the graph; a
    user whose graph lacks them loads these first (``GraphClient.upsert_nodes``),
    explicitly, as the demo does.
    """
    from graph_engine.records import NodeRecord

    info = getattr(model, "label_info", {})
    return [NodeRecord("Disease", li.disease_id, li.disease_name or li.disease_id, source="medkg-models")
            for _, li in sorted(info.items()) if li.disease_id]


def diagnosis_rows(model: Any, report: InferenceReport, top_k: int) -> list[dict[str, Any]]:
    """One row per (case, label) kept (pure; no database).

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
        ModelError: nothing to write, a case id that looks like PHI (a date, an SSN- or phone-like
            number, a personal name: :func:`graph_engine.phi.check_case_id`; the message names the
            record's position, never the id), or a suggested Disease is not in the graph (the error
            names it; nothing is written). Database errors propagate after the Run is
            marked ``failed``; the previous run's Diagnosis nodes stay in place.
    """
    if not report.predictions:
        raise ModelError(f"no predictions to write ({len(report.skipped)} records skipped: {report.skipped_by_reason()})")
    for n, p in enumerate(report.predictions, start=1):  # before the Run opens: a refusal leaves no trace
        try:
            check_case_id(p.id, what=f"case id of record {n} of {len(report.predictions)}")
        except PHIError as e:
            raise ModelError(f"{e}; nothing was written") from None
    man = model.manifest
    rows = diagnosis_rows(model, report, top_k)
    case_ids = sorted({p.id for p in report.predictions})
    params = {
        "model": man["name"], "model_version": man["model_version"], "kind": man["kind"],
        "top_k": top_k, "input": source, "synthetic": bool(synthetic),
    }
    with open_run(client, "diagnose", man["name"], params) as run:
        common = {"model": man["name"], "model_version": man["model_version"],
                  "method": man["model"]["architecture"]}
        pred_rows = [{"id": r["id"], "for": r["case_id"], "object": r["disease_id"],
                      "props": {"label": r["label"], "probability": r["probability"], "score": r["probability"],
                                "rank": r["rank"], **common}} for r in rows]
        replace_predictions(client, run.id, DIAGNOSIS, case_ids, pred_rows, error=ModelError,
                            target_props={"synthetic": True} if synthetic else None)
        run.metrics.update({
            "read": report.read, "cases": len(case_ids), "diagnoses": len(rows), "skipped": len(report.skipped),
            "skipped_by_reason": report.skipped_by_reason(),
        })
    return WriteSummary(run.id, len(case_ids), len(rows), len(report.skipped))
