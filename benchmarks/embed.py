"""Benchmark GNN embedding training: epoch time and held-out link-prediction AUC.

Trains :func:`graph_engine.embeddings.train_embeddings` on the Hetionet sample
(shared/data/hetionet) on the CPU, and on the GPU when one is present, and
prints epoch seconds, edges/s and AUC per device. Not a test. Usage::

    .venv/bin/python benchmarks/embed.py                     # Hetionet sample, 2 epochs
    .venv/bin/python benchmarks/embed.py --epochs 3 --dim 64 --batch-size 1024 --num-neighbors 10,5 --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from graph_engine.embeddings import compiled_sampler_available, train_embeddings  # noqa: E402
from scoring import read_hetionet  # noqa: E402  (benchmarks/scoring.py)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hetionet", type=Path, default=ROOT.parent / "shared" / "data" / "hetionet")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=4096,
                   help="large by default: on a 47k-node graph two sampled hops already reach most nodes")
    p.add_argument("--num-neighbors", default="5,3")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 on a shared 2-core machine)")
    p.add_argument("--devices", default="cpu,cuda", help="devices to try (cuda skipped when absent)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    tables = read_hetionet(args.hetionet)
    print(f"python {platform.python_version()}, torch {torch.__version__}; sampler: "
          f"{'pyg-lib/torch-sparse' if compiled_sampler_available() else 'NumPy (medkg NumpyNeighborSampler)'}")
    print(f"Hetionet sample: {tables.num_nodes:,} nodes, {tables.num_edges:,} edges, {len(tables.edges)} triples "
          f"(read {time.perf_counter() - t0:.1f}s)")
    fanout = [int(x) for x in args.num_neighbors.split(",")]
    out = {}
    for device in args.devices.split(","):
        if device.startswith("cuda") and not torch.cuda.is_available():
            print(f"{device}: not available on this machine (GPU path unmeasured)")
            continue
        cfg = {"dim": args.dim, "num_layers": len(fanout), "num_neighbors": fanout, "batch_size": args.batch_size,
               "epochs": args.epochs, "lr": args.lr, "device": device, "seed": 0,
               "num_threads": args.threads if device == "cpu" else 0}
        t0 = time.perf_counter()
        r = train_embeddings(tables, cfg, progress=lambda e, n, loss: print(f"  {device} epoch {e}/{n} loss {loss:.4f}",
                                                                            flush=True))
        total = time.perf_counter() - t0
        m = r.metrics
        eps = m["num_train_edges"] * (1 + 1.0) / (sum(m["epoch_seconds"]) / len(m["epoch_seconds"]))
        print(f"{device}: epoch seconds {[round(s, 1) for s in m['epoch_seconds']]}, "
              f"{eps:,.0f} labelled edges/s, held-out AUC {m['auc']:.3f} "
              f"on {m['num_test_edges']:,} test edges (+ as many negatives); total {total:.1f}s")
        worst = sorted(m["auc_per_edge_type"].items(), key=lambda kv: kv[1])[:3]
        print(f"  lowest per-triple AUC: {', '.join(f'{k} {v:.2f}' for k, v in worst)}")
        out[device] = {"config": cfg, "metrics": m, "total_s": total}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
