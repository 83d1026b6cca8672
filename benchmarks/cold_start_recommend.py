"""Drug-cold recommendation: held-out drugs lose every edge; rank all diseases for each of them.

    PYTHONPATH=$PWD python -m benchmarks.cold_start_recommend --seeds 0 1 2

Hetionet (``$MEDKG_HETIONET_DIR`` or ../shared/data/hetionet), 20% of the drugs with indications
and a DrugBank structure held out per seed; methods in the same run: ``content`` (today's
recommender), ``structure`` and ``content+structure``. Prints JSON (mean over seeds + per seed).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=["content", "structure", "content+structure"])
    a = ap.parse_args()
    from recommend.hetionet_tables import default_hetionet_dir, read_hetionet
    from recommend.structure import default_structures, drug_cold_split, evaluate_drug_cold

    t = time.perf_counter()
    tables = read_hetionet(default_hetionet_dir())
    structures = default_structures()
    runs = []
    for s in a.seeds:
        split = drug_cold_split(tables, seed=s, structures=structures)
        row = {"seed": s, "test_drugs": len(split.test_diseases), "test_pairs": len(split.test_pairs)}
        for m in a.methods:
            row[m] = {k: round(v, 4) for k, v in evaluate_drug_cold(split, m).items()}
        runs.append(row)
    mean = {m: {k: round(float(np.mean([r[m][k] for r in runs])), 4) for k in runs[0][m]} for m in a.methods}
    print(json.dumps({"mean": mean, "runs": runs, "seconds": round(time.perf_counter() - t, 1)}, indent=1))


if __name__ == "__main__":
    main()
