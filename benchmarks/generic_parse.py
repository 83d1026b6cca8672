"""CPU cost of the generic loader's parsing and validation, without a server (issue 21, items 8-11).

Writes a synthetic generic nodes/edges pair (100,000 nodes with a name, synonyms, a float and an
int; 100,000 edges), loads it through :class:`graph_engine.bulk.BulkSink` (the ``--bulk`` path's
writer: parsing, record checks and CSV writing, no neo4j-admin) and prints the process CPU seconds,
the minimum of ``--repeat`` runs. Compare two checkouts by running it with each on PYTHONPATH:

    PYTHONPATH=<checkout> python benchmarks/generic_parse.py --label <name>
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from graph_engine.bulk import BulkSink
from ingest.curated import load_graph


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="medkg-parse-") as tmp:
        d = Path(tmp)
        nodes, edges = d / "nodes.csv", d / "edges.csv"
        with open(nodes, "w", encoding="utf-8") as fh:
            fh.write("id,label,name,synonyms,score:float,year:int\n")
            for i in range(args.rows):
                fh.write(f"DOID:{i},Disease,disease number {i},syn a {i}|syn b,{rng.random():.6f},{1900 + i % 100}\n")
        with open(edges, "w", encoding="utf-8") as fh:
            fh.write("source,type,target\n")
            for _ in range(args.rows):
                fh.write(f"DOID:{rng.randrange(args.rows)},RESEMBLES,DOID:{rng.randrange(args.rows)}\n")
        runs = []
        for k in range(args.repeat):
            sink = BulkSink(d / f"out{k}")
            sink.directory.mkdir()
            t = time.process_time()
            summary = load_graph(sink, "generic", nodes, edges, progress=False)  # type: ignore[arg-type]
            runs.append(time.process_time() - t)
            sink.close()
    print(f"{args.label}: {min(runs):.2f} CPU-s (min of {args.repeat}) for read {summary.read} "
          f"= written {summary.written} + rejected {summary.rejected}")


if __name__ == "__main__":
    main()
