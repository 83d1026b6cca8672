"""Toxicity and side-effect predictions as graph nodes, through graph_engine.predictions.

``(:Prediction {kind: 'toxicity', task, probability, out_of_domain, nearest_training_similarity,
model, model_version, run_id, created_at})-[:FOR]->(:Drug)`` and
``(:Prediction {kind: 'side_effect', task, probability, rank, model, model_version, …})
-[:FOR]->(:Drug)-[:PREDICTS]->(:SideEffect)``, each ``-[:PRODUCED_BY]->(:Run)``.
One run replaces, in one transaction, the previous predictions of the same kind and model
for the same drugs; a failed run leaves them in place.
"""

from __future__ import annotations

from typing import Any, Sequence

from graph_engine.errors import ModelError
from graph_engine.predictions import PredictionKind, replace_predictions
from graph_engine.runs import open_run

TOXICITY = PredictionKind(label="Prediction", kind="toxicity", for_label="Drug", for_rel="FOR",
                          object_label=None, scope=("model",))
SIDE_EFFECT = PredictionKind(label="Prediction", kind="side_effect", for_label="Drug", for_rel="FOR",
                             object_label="SideEffect", object_rel="PREDICTS", scope=("model",))

DEFAULT_TASKS = ("hERG", "DILI", "ClinTox", "AMES", "Carcinogens_Lagunin", "Skin_Reaction")


def toxicity_rows(preds: Sequence[Any], model_name: str, model_version: str,
                  tasks: Sequence[str] = DEFAULT_TASKS) -> list[dict[str, Any]]:
    """Rows for :func:`replace_predictions` from :class:`models.toxicity.ToxicityPrediction` (pure)."""
    rows = []
    for p in preds:
        for t in tasks:
            if t not in p.predictions:
                raise ModelError(f"task {t!r} is not predicted by {model_name}; available: {sorted(p.predictions)}")
            props = {"task": t, "probability": float(p.predictions[t]), "out_of_domain": bool(p.out_of_domain),
                     "nearest_training_similarity": float(p.nearest_training_similarity),
                     "model": model_name, "model_version": model_version}
            if t == "hERG":
                props["structure_probability"] = float(p.predictions.get("hERG_structure", p.predictions[t]))
            rows.append({"id": f"toxicity:{model_name}:{p.id}:{t}", "for": p.id, "object": None, "props": props})
    return rows


def write_toxicity(client: Any, preds: Sequence[Any], model_name: str, model_version: str,
                   tasks: Sequence[str] = DEFAULT_TASKS, params: dict[str, Any] | None = None) -> tuple[str, int]:
    """One run of toxicity Prediction nodes; returns ``(run_id, nodes written)``."""
    if not preds:
        raise ModelError("no toxicity predictions to write (no Drug with a structure?)")
    rows = toxicity_rows(preds, model_name, model_version, tasks)
    with open_run(client, "predict", f"toxicity:{model_name}", {"tasks": list(tasks), **(params or {})}) as run:
        n = replace_predictions(client, run.id, TOXICITY, [p.id for p in preds], rows, error=ModelError)
        run.metrics.update({"drugs": len(preds), "written": n,
                            "out_of_domain": sum(bool(p.out_of_domain) for p in preds)})
    return run.id, n


def write_side_effects(client: Any, drug_ids: Sequence[str], ranked: dict[str, list[tuple[str, float]]],
                       model_name: str, model_version: str, params: dict[str, Any] | None = None) -> tuple[str, int]:
    """One run of side-effect Prediction nodes: ``ranked[drug] = [(side effect id, probability), …]``."""
    rows = [{"id": f"side_effect:{model_name}:{d}:{se}", "for": d, "object": se,
             "props": {"task": se, "probability": float(p), "rank": r, "model": model_name,
                       "model_version": model_version}}
            for d in drug_ids for r, (se, p) in enumerate(ranked.get(d, []), start=1)]
    if not rows:
        raise ModelError("no side-effect predictions to write")
    with open_run(client, "predict", f"side_effect:{model_name}", dict(params or {})) as run:
        n = replace_predictions(client, run.id, SIDE_EFFECT, list(drug_ids), rows, error=ModelError)
        run.metrics.update({"drugs": len(drug_ids), "written": n})
    return run.id, n
