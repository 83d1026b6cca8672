"""Toxicity benchmarks: hERG validation on the QT reference list, and inference speed.

    PYTHONPATH=$PWD python -m benchmarks.toxicity validate [--fit]
    PYTHONPATH=$PWD python -m benchmarks.toxicity speed --n 1000 --threads 2

``validate`` scores models/data/qt_reference.csv (tier A: withdrawn / restricted / boxed for
QT; tier B: CredibleMeds known risk; N: common drugs without that liability) with
(1) admet-ai's own precomputed hERG column (the reference), (2) medkg's structure-only hERG
(the same ensembles through models.toxicity), (3) the graph-combined hERG, as 5x5 repeated
stratified cross-validation (seed 0) so the combined model is always scored on drugs it
was not fitted on. ``--fit`` refits the combiner on the whole list and writes
models/data/herg_combiner.json. Needs ../shared/data (SIDER 4.1 + Hetionet).

``speed`` times models.toxicity on N DrugBank SMILES against admet-ai's ADMETModel.predict on
the same molecules in the same process (the ratio survives a shared machine), wall clock and
process CPU time, with ``--threads`` torch threads.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LIST = ROOT / "models" / "data" / "qt_reference.csv"


def _structures(df):  # noqa: ANN001
    from graph_engine.chem import structure

    return [structure(r.drugbank_id, r.smiles, r.name) for r in df.itertuples()]


def validate(fit: bool, seed: int = 0) -> dict:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    from models import toxicity as tox
    from models.knowledge import knowledge_from_files

    df = pd.read_csv(LIST)
    ref = pd.read_csv(tox.drugbank_reference_path())
    precomputed = dict(zip("DRUGBANK:" + ref["id"], ref["hERG"]))
    model = tox.load_toxicity_model(knowledge=False)
    structs = _structures(df)
    t0 = time.perf_counter()
    p_struct = model.predict_smiles([s.smiles for s in structs])[:, model.tasks.index("hERG")]
    kn = knowledge_from_files()
    kf = tox.knowledge_features(structs, kn)
    comb = tox.HergCombiner(0.0, {f: 0.0 for f in tox.FEATURES})
    X = comb.matrix(p_struct, kf)
    y = df["label"].to_numpy()
    pre = df["drugbank_id"].map(precomputed).to_numpy(dtype=float)
    out: dict = {"n": {t: int((df.tier == t).sum()) for t in ("A", "B", "N")}, "seconds": None,
                 "knowledge": kn.fingerprint()}
    feature_sets = {
        "structure + self QT + KCNH2 + neighbour QT (shipped)": [0, 1, 2, 3],
        "structure + neighbour QT (no facts about the drug itself)": [0, 3],
        "structure + self QT": [0, 1],
    }
    for name, tiers in (("A vs N", ["A", "N"]), ("A+B vs N", ["A", "B", "N"])):
        m = df.tier.isin(tiers).to_numpy()
        rows = {"admet-ai precomputed hERG column (reference)": roc_auc_score(y[m], pre[m]),
                "medkg structure-only hERG": roc_auc_score(y[m], p_struct[m])}
        Xm, ym = X[m], y[m]
        for fname, cols in feature_sets.items():
            aucs = []
            for tr, te in RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=seed).split(Xm, ym):
                lr = LogisticRegression(C=1.0).fit(Xm[tr][:, cols], ym[tr])
                aucs.append(roc_auc_score(ym[te], lr.decision_function(Xm[te][:, cols])))
            rows[f"combined: {fname}, 5x5 CV"] = float(np.mean(aucs))
            rows[f"combined: {fname}, 5x5 CV sd"] = float(np.std(aucs))
        out[name] = {k: round(float(v), 4) for k, v in rows.items()}
    out["max |medkg - precomputed| hERG"] = float(np.nanmax(np.abs(p_struct - pre)))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    if fit:
        lr = LogisticRegression(C=1.0).fit(X, y)  # all tiers: more positives; CV above says how it generalises
        payload = {"intercept": float(lr.intercept_[0]), "coef": dict(zip(tox.FEATURES, map(float, lr.coef_[0]))),
                   "meta": {"fitted_on": "models/data/qt_reference.csv tiers A+B vs N", "n": int(len(y)),
                            "positives": int(y.sum()), "C": 1.0, "knn_k": tox.KNN_K,
                            "knowledge": kn.fingerprint()["source"].split(":")[0],
                            "command": "python -m benchmarks.toxicity validate --fit",
                            "note": "probability calibrated to the list's prevalence (58/198); a ranking score"}}
        (ROOT / "models" / "data" / tox.COMBINER_FILE).write_text(json.dumps(payload, indent=2) + "\n")
        out["fitted"] = payload
    return out


def speed(n: int, threads: int, batch_size: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    import pandas as pd

    from models import toxicity as tox

    smiles = pd.read_csv(tox.drugbank_reference_path())["smiles"].tolist()[:n]
    t = time.perf_counter()
    model = tox.load_toxicity_model(knowledge=False)
    load_s = time.perf_counter() - t
    model.predict_smiles(smiles[:20])  # warm-up
    w, c = time.perf_counter(), time.process_time()
    ours = model.predict_smiles(smiles, batch_size=batch_size)
    nearest, _ = tox.domain(smiles)
    ours_wall, ours_cpu = time.perf_counter() - w, time.process_time() - c
    from admet_ai import ADMETModel

    ref = ADMETModel(include_physchem=False, drugbank_path=None, num_workers=0)
    ref.predict(smiles[:20])
    w, c = time.perf_counter(), time.process_time()
    theirs = ref.predict(smiles)
    ref_wall, ref_cpu = time.perf_counter() - w, time.process_time() - c
    diff = float(np.max(np.abs(ours - theirs[model.tasks].to_numpy())))
    return {
        "n": n, "threads": threads, "batch_size": batch_size, "load_s": round(load_s, 2),
        "loadavg_1min": os.getloadavg()[0],
        "medkg (31 classification tasks + domain)": {"wall_s": round(ours_wall, 2), "cpu_s": round(ours_cpu, 2),
                                                     "compounds_per_wall_s": round(n / ours_wall, 1),
                                                     "compounds_per_cpu_s": round(n / ours_cpu, 1)},
        "admet-ai ADMETModel.predict (all 41 tasks, reference)": {
            "wall_s": round(ref_wall, 2), "cpu_s": round(ref_cpu, 2),
            "compounds_per_wall_s": round(n / ref_wall, 1), "compounds_per_cpu_s": round(n / ref_cpu, 1)},
        "speed-up (wall)": round(ref_wall / ours_wall, 2),
        "max |difference| on shared tasks": diff,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("validate")
    v.add_argument("--fit", action="store_true")
    s = sub.add_parser("speed")
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batch-size", type=int, default=500)
    a = ap.parse_args()
    res = validate(a.fit) if a.cmd == "validate" else speed(a.n, a.threads, a.batch_size)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
