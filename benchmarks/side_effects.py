"""Cold-start side-effect prediction on SIDER 4.1 (drugs held out with all their side effects).

    PYTHONPATH=$PWD python -m benchmarks.side_effects --seeds 0 1 2

Per seed: 20% of the SIDER drugs that have a DrugBank structure are held out; the multi-view
kNN is tuned on a validation split of the remaining 80%; the frequency prior and a fingerprint
kNN (k=25) are scored on the same test drugs. Side effects: MedDRA preferred terms of >= 20
drugs; macro metrics over side effects with >= 3 test positives, and over test drugs.
Needs ../shared/data (SIDER 4.1, Hetionet); prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--min-drugs", type=int, default=20)
    a = ap.parse_args()
    from models.knowledge import knowledge_from_files
    from models.side_effects import cold_start_evaluation, reference_table

    t = time.perf_counter()
    table = reference_table(knowledge_from_files(), min_drugs=a.min_drugs)
    runs = [cold_start_evaluation(table, seed=s) for s in a.seeds]
    methods = [k for k in runs[0] if isinstance(runs[0][k], dict) and "macro_auroc_se" in runs[0][k]]
    summary = {m: {k: round(float(np.mean([r[m][k] for r in runs])), 4) for k in
                   ("macro_auroc_se", "macro_auprc_se", "macro_auroc_drug", "macro_auprc_drug")} for m in methods}
    print(json.dumps({"drugs": len(table.ids), "side_effects": len(table.side_effects), "seeds": a.seeds,
                      "mean": summary, "runs": runs, "seconds": round(time.perf_counter() - t, 1)}, indent=1))


if __name__ == "__main__":
    main()
