"""Next-condition predictions as graph nodes (``medkg enrich predict-conditions``)::

    (:Prediction {kind: "next_condition", probability, rank, code, as_of, horizon_days: 365,
                  model, model_version, run_id, created_at, explanation})
        -[:FOR]->(:Patient)  -[:PREDICTS]->(:Disease)  -[:PRODUCED_BY]->(:Run)

Patients are matched by their keyed pseudonym (the same key as the import), a
predicted SNOMED CT code by the Disease node the import made or linked
(``id`` ``SNOMEDCT:<code>`` or that xref). One run replaces the previous
run's next-condition predictions of the same model for the same patients in
one transaction (:func:`graph_engine.predictions.replace_predictions`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graph_engine.client import GraphClient
from graph_engine.errors import ModelError
from graph_engine.predictions import PredictionKind, replace_predictions
from graph_engine.runs import open_run
from graph_engine.settings import Settings
from graph_engine.synthea import Pseudonymizer, load_key, read_synthea
from models.sequence.api import _FILES, SequenceModel, predict_sequence

SPEC = PredictionKind(label="Prediction", kind="next_condition", for_label="Patient", for_rel="FOR",
                      object_label="Disease", object_rel="PREDICTS", scope=("model",))
HORIZON_DAYS = 365


def snomed_diseases(client: GraphClient) -> dict[str, str]:
    """SNOMED CT code -> graph Disease id (own ``SNOMEDCT:`` nodes and linked nodes' xrefs)."""
    rows = client.read(
        "MATCH (d:Disease) WHERE d.id STARTS WITH 'SNOMEDCT:' OR any(x IN coalesce(d.xrefs, []) WHERE x STARTS WITH 'SNOMEDCT:') "
        "RETURN d.id AS id, coalesce(d.xrefs, []) AS xrefs")
    out: dict[str, str] = {}
    for r in rows:
        for x in [r["id"], *r["xrefs"]]:
            if x.startswith("SNOMEDCT:"):
                out.setdefault(x.split(":", 1)[1], r["id"])
    return out


def write_condition_predictions(client: GraphClient, model: SequenceModel, data: str | Path, as_of: str,
                                top: int = 10, settings: Settings | None = None) -> dict[str, Any]:
    """Predict for every patient of ``data`` that is in the graph and write one run.

    Raises:
        ModelError: no patient of the export is in the graph (import it first).
    """
    pseudo = Pseudonymizer(load_key(settings or Settings.load(), create=False))
    tables = read_synthea(data, pseudo, files=_FILES)
    rows, _ = predict_sequence(model, tables, as_of, top=top, pseudonyms=True)  # tables or a folder
    ids = [r["id"] for r in rows]
    absent = client.missing_ids("Patient", ids)
    if len(absent) == len(ids):
        raise ModelError(f"none of the {len(ids)} patients of {data} is in the graph; run "
                         "'medkg ingest patients --format synthea' with the same patient key first")
    diseases = snomed_diseases(client)
    out_rows, skipped_pred = [], 0
    targets = [r["id"] for r in rows if r["id"] not in absent]
    for r in rows:
        if r["id"] in absent:
            continue
        for rank, p in enumerate(r["predictions"][:top], start=1):
            did = diseases.get(p["code"])
            if did is None:
                skipped_pred += 1
                continue
            out_rows.append({"id": f"{model.name}:{r['id']}:{p['code']}", "for": r["id"], "object": did, "props": {
                "probability": p["probability"], "rank": rank, "code": p["code"], "as_of": r["as_of"],
                "horizon_days": HORIZON_DAYS, "model": model.name, "model_version": model.model_version,
                "explanation": json.dumps({"because": p["because"], "name": p["name"]})}})
    params = {"model": model.name, "model_version": model.model_version, "as_of": as_of, "top": top,
              "input": Path(data).name}
    with open_run(client, "predict", "next_condition", params) as run:
        n = replace_predictions(client, run.id, SPEC, targets, out_rows, error=ModelError)
        run.metrics.update({"written": n, "patients": len(targets), "skipped_patients": len(absent),
                            "skipped_predictions": skipped_pred})
    return {"run_id": run.id, "written": n, "patients": len(targets), "skipped_patients": len(absent),
            "skipped_predictions": skipped_pred}
