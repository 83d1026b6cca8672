"""Latency of a fitted recommender: p50 / p95 / p99 per disease query.

Fits (or loads) a model on the shared Hetionet files, then times
``recommend([disease], k)`` for every disease, ``--repeat`` times, after a
warm-up. Target: p95 < 50 ms per disease.

    .venv/bin/python benchmarks/recommend.py --method hybrid --k 10 --repeat 3
    .venv/bin/python benchmarks/recommend.py --model-dir ~/.medkg/models/recommend/hybrid --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# this file is named like the package: drop its own folder from the import path first
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from recommend import get_recommender, load_recommender  # noqa: E402
from recommend.data import EXPORT_LABELS  # noqa: E402
from recommend.hetionet_tables import default_hetionet_dir, read_hetionet  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(default_hetionet_dir()),
                    help="Hetionet folder (default: $MEDKG_HETIONET_DIR, else ../shared/data/hetionet beside the checkout)")
    ap.add_argument("--method", default="hybrid")
    ap.add_argument("--model-dir", default=None, help="load this saved model instead of fitting")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--explain", action="store_true", help="also time explain() of the top drug")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the numbers here")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    if args.model_dir:
        model = load_recommender(args.model_dir)
        how = f"loaded {args.model_dir}"
    else:
        tables = read_hetionet(args.data_dir, labels=EXPORT_LABELS)
        model = get_recommender(args.method, seed=args.seed).fit(tables)
        how = f"fitted on {args.data_dir}"
    setup = time.perf_counter() - t0
    diseases = [str(d) for d in model._data().disease_ids]
    model.recommend(diseases[:2], k=args.k)  # warm-up
    lat = []
    for _ in range(args.repeat):
        for d in diseases:
            t = time.perf_counter()
            model.recommend([d], k=args.k)
            lat.append(time.perf_counter() - t)
    lat_ms = np.array(lat) * 1000
    t = time.perf_counter()
    model.recommend(diseases, k=args.k)
    batch_ms = (time.perf_counter() - t) * 1000
    out = {
        "method": model.name, "model": how, "setup_s": round(setup, 2), "diseases": len(diseases),
        "queries": len(lat), "k": args.k, "p50_ms": round(float(np.percentile(lat_ms, 50)), 3),
        "p95_ms": round(float(np.percentile(lat_ms, 95)), 3), "p99_ms": round(float(np.percentile(lat_ms, 99)), 3),
        "batch_all_diseases_ms": round(batch_ms, 2),
    }
    if args.explain:
        ex = []
        ids, _ = model.recommend(diseases, k=1)
        for d, top in zip(diseases, ids[:, 0]):
            t = time.perf_counter()
            model.explain(d, top)
            ex.append(time.perf_counter() - t)
        out["explain_p95_ms"] = round(float(np.percentile(np.array(ex) * 1000, 95)), 3)
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0 if out["p95_ms"] < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
