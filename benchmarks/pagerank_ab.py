"""``pagerank(A)`` of this tree (one thread, and two: ``new-2t``) against the same function at an older git revision and igraph
PRPACK, in one process, interleaved (old, new, PRPACK, old, new, PRPACK, ...), on the graph families
of ``benchmarks/scoring.py``. Prints min / median process-CPU and wall seconds and the ratios.

Usage::

    .venv/bin/python benchmarks/pagerank_ab.py --rev ded00be --sizes 1e6:1e7,hub=1e6:5e6 --repeat 5

The old ``graph_engine/scoring/pagerank.py`` is read with ``git show REV:...`` and loaded as a module
next to the current one (it imports the current ``graph_engine.scoring._common``); not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.scoring import FAMILIES, to_igraph  # noqa: E402
from graph_engine.scoring import pagerank  # noqa: E402


def old_pagerank(rev: str) -> Callable[..., Any]:
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:graph_engine/scoring/pagerank.py"],
                         check=True, capture_output=True, text=True).stdout
    mod = types.ModuleType(f"old_pagerank_{rev}")
    mod.__dict__["__file__"] = f"{rev}:graph_engine/scoring/pagerank.py"
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(src, mod.__file__, "exec"), mod.__dict__)
    return mod.pagerank  # type: ignore[no-any-return]


def run(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rev", required=True, help="git revision whose pagerank() is the 'old' one")
    p.add_argument("--sizes", default="1e6:1e7", help="[FAMILY=]NODES:DRAWS, comma-separated (see scoring.py)")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    old = old_pagerank(args.rev)
    for spec in args.sizes.split(","):
        family, _, size = spec.rpartition("=")
        family = family or "power-law"
        n, m = (int(float(v)) for v in size.split(":"))
        A = FAMILIES[family](n, m)
        g = to_igraph(A)
        engines: dict[str, Callable[[], Any]] = {
            "old": lambda: old(A, device="cpu"),
            "new": lambda: pagerank(A, device="cpu", threads=1),
            "new-2t": lambda: pagerank(A, device="cpu", threads=2),
            "prpack": lambda g=g: np.asarray(g.pagerank(damping=0.85, weights="weight", implementation="prpack")),
        }
        cpu: dict[str, list[float]] = {k: [] for k in engines}
        wall: dict[str, list[float]] = {k: [] for k in engines}
        outs: dict[str, Any] = {}
        loads = [os.getloadavg()[0]]
        for _ in range(args.repeat):
            for name, fn in engines.items():
                c, w, outs[name] = run(fn)
                cpu[name].append(c)
                wall[name].append(w)
            loads.append(os.getloadavg()[0])
        ref = outs["prpack"]
        print(f"\n== {family} {size}: {A.shape[0]:,} nodes, {A.nnz:,} edges, max in-degree "
              f"{np.bincount(A.indices, minlength=n).max():,}; load average {min(loads):.1f}-{max(loads):.1f}; "
              f"{args.repeat} interleaved runs")
        for name in engines:
            c, w = np.array(cpu[name]), np.array(wall[name])
            extra = ""
            if name != "prpack":
                r = outs[name]
                extra = (f"  iterations {r.iterations}, converged {r.converged}, max|diff| vs PRPACK "
                         f"{np.abs(r.scores - ref).max():.1e}; CPU ratio PRPACK/{name} min {np.min(cpu['prpack']) / c.min():.1f}x "
                         f"median {np.median(cpu['prpack']) / np.median(c):.1f}x; wall median "
                         f"{np.median(wall['prpack']) / np.median(w):.1f}x")
            print(f"{name:7s} CPU min {c.min():.3f}s median {np.median(c):.3f}s; wall min {w.min():.3f}s "
                  f"median {np.median(w):.3f}s{extra}")
        engines.clear()  # frees the igraph copy (the lambda holds it) before the next graph
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
