"""Next-condition model and patient recommendations on a held-out Synthea cohort (another seed and state).

    python benchmarks/sequence.py --model models/artifacts/sequence-default --train runs/train-ma \
        --data runs/val-oh [--as-of YYYY-MM-DD] [--out runs/sequence-bench.json]

One process, one cut date: the model and its three baselines (population, age band x sex, last-visit
Markov) on the same samples, macro risk AUROC overall and for chronic / acute disorders, with a paired
patient bootstrap (200 resamples) of the model's macro AUROC minus the age-sex baseline's; inference
throughput of the model after loading (probabilities; probabilities plus the top 100 disorders with their "because"; the full ``models predict`` rows, and those rows as JSON
lines) against the baselines' scoring of the same samples (ratio); the patient x condition recommender
against condition frequency and popularity.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from graph_engine.synthea import Pseudonymizer, read_synthea
    from jobs.patient_recs import default_linker, evaluate_patient_recommendations
    from models.sequence.api import (_summ, bootstrap_auroc_difference, calibration_stats, load_sequence_model,
                                     prediction_rows, ranking_metrics, read_cohort, with_features)

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--as-of", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("runs/sequence-bench.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load_sequence_model(a.model)
    tables = read_cohort(a.data)
    cut = np.datetime64(a.as_of, "D") if a.as_of else tables.end_date - np.timedelta64(model.cfg.horizon_days, "D")
    t = time.perf_counter()
    s = model.samples(tables, cut)
    t_samples = time.perf_counter() - t
    t = time.perf_counter()
    with_features(tables, s, model.spec)                  # (again, timed alone: part of building the samples)
    t_features = time.perf_counter() - t
    prediction_rows(model, s.subset(np.arange(min(64, len(s)))), tables)  # warm-up
    t = time.perf_counter()
    p = model.probabilities(s)
    t_prob = time.perf_counter() - t
    t = time.perf_counter()
    model.predict_top(s, top=100, explain=3)
    t_top = time.perf_counter() - t
    t = time.perf_counter()
    rows = prediction_rows(model, s, tables, top=100, explain=3)   # exactly what `models predict` writes
    t_rows = time.perf_counter() - t
    t = time.perf_counter()
    for r in rows:
        json.dumps(r)
    t_json = time.perf_counter() - t
    t = time.perf_counter()
    base = model.baselines.scores(s)
    t_markov = time.perf_counter() - t
    out = {"model": f"{model.name} {model.model_version}", "data": str(a.data), "as_of": str(cut),
           "patients": len(s), "threads": a.threads,
           "metrics": {"model": _summ(ranking_metrics(p, s, groups=model.groups)),
                       **{k: _summ(ranking_metrics(v, s, groups=model.groups)) for k, v in base.items()}},
           "per_disorder_auroc": {k: {model.vocab.target_names[d]: a
                                      for d, a in ranking_metrics(v, s)["per_disorder_auroc"].items()}
                                  for k, v in {"model": p, **base}.items()},
           "auroc_minus_age_sex_bootstrap": bootstrap_auroc_difference(p, base["age_sex"], s, model.groups),
           "calibration": calibration_stats(p, s),
           "throughput": {"probabilities_patients_per_s": len(s) / t_prob,
                          "with_because_top100_patients_per_s": len(s) / t_top,
                          "predict_rows_with_because_patients_per_s": len(s) / t_rows,
                          "predict_rows_and_json_patients_per_s": len(s) / (t_rows + t_json),
                          "samples_from_tables_patients_per_s": len(s) / t_samples,
                          "features_from_tables_patients_per_s": len(s) / t_features if model.spec else None,
                          "baselines_patients_per_s": len(s) / t_markov,
                          "ratio_model_to_baselines_time": t_prob / t_markov}}
    local = Pseudonymizer(b"medkg-benchmark-local-pseudonyms")
    files = ("patients.csv", "conditions.csv", "medications.csv", "allergies.csv")
    out["patient_recommendations"] = evaluate_patient_recommendations(
        read_synthea(a.train, local, files=files), read_synthea(a.data, local, files=files), default_linker(), cut)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
