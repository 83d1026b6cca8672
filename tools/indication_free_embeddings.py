"""Node embeddings for the ``gnn`` recommender's evaluation, trained without any indication edge.

The evaluation holds out TREATS/PALLIATES pairs; embeddings trained on a graph
that still contained them would leak the answers. Training once on the graph
with *every* TREATS and PALLIATES edge removed makes one embedding file that is
leakage-free for every split and seed (the gnn recommender then learns its
link-prediction head from each split's training indications only).

Usage::

    python tools/indication_free_embeddings.py --hetionet ../shared/data/hetionet --out runs/gnn_noind.npz
    medkg evaluate recommend --methods gnn,hybrid --embeddings runs/gnn_noind.npz
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from graph_engine.embeddings import train_embeddings
    from recommend.hetionet_tables import read_hetionet
    from recommend.split import indication_pairs, remove_pairs

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hetionet", default="../shared/data/hetionet", type=Path)
    ap.add_argument("--out", default="runs/gnn_noind.npz", type=Path)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--neighbors", default="5,3")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    tables = read_hetionet(a.hetionet)
    pairs = indication_pairs(tables)
    graph = remove_pairs(tables, pairs)
    graph.edges = {k: v for k, v in graph.edges.items() if not (len(v) == 0 and k[1] in ("TREATS", "PALLIATES"))}
    left = sum(len(v) for k, v in graph.edges.items() if k[1] in ("TREATS", "PALLIATES"))
    assert left == 0, f"{left} indication edges left"
    started = time.time()
    cfg = {"dim": a.dim, "epochs": a.epochs, "num_neighbors": [int(x) for x in a.neighbors.split(",")],
           "seed": a.seed, "num_threads": a.threads}
    res = train_embeddings(graph, cfg, progress=lambda e, n, loss: print(f"epoch {e}/{n} loss {loss:.4f}", flush=True))
    out = {"Disease": res.embeddings["Disease"], "Drug": res.embeddings["Drug"],
           "Disease__ids": np.asarray(res.ids["Disease"]).astype(str), "Drug__ids": np.asarray(res.ids["Drug"]).astype(str)}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.out, **out)
    info = {"config": cfg, "indication_pairs_removed": int(len(pairs)), "seconds": round(time.time() - started, 1),
            "metrics": {k: float(v) for k, v in res.metrics.items() if isinstance(v, (int, float))}}
    a.out.with_suffix(".json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
