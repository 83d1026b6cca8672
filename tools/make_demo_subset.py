"""Build the demo graph shipped in ingest/data/demo from the shared Hetionet files.

A connected subset: a handful of diseases with their known treatments, the
genes, symptoms and anatomy around them, those drugs' targets, classes and a
few side effects, then the largest connected component. Deterministic.

    python tools/make_demo_subset.py ../shared/data/hetionet ingest/data/demo
"""

from __future__ import annotations

import gzip
import sys
from collections import defaultdict
from pathlib import Path

DISEASES = [
    "Disease::DOID:9352",   # type 2 diabetes mellitus
    "Disease::DOID:10763",  # hypertension
    "Disease::DOID:2841",   # asthma
    "Disease::DOID:7148",   # rheumatoid arthritis
    "Disease::DOID:1324",   # lung cancer
    "Disease::DOID:10652",  # Alzheimer's disease
    "Disease::DOID:14330",  # Parkinson's disease
    "Disease::DOID:1612",   # breast cancer
    "Disease::DOID:2377",   # multiple sclerosis
    "Disease::DOID:12365",  # malaria
]
PER_KIND_CAP = {"DaG": 40, "CbG": 12, "CcSE": 6, "DpS": 12, "DlA": 6, "CrC": 4, "DrD": 10, "PCiC": 10}


def main(src: Path, out: Path) -> None:
    names = {}
    with open(src / "hetionet-v1.0-nodes.tsv", encoding="utf-8") as fh:
        next(fh)  # header
        for line in fh:
            hid, name, kind = line.rstrip("\r\n").split("\t")
            names[hid] = (name, kind)
    edges = []
    with gzip.open(src / "hetionet-v1.0-edges-sample.sif.gz", "rt", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            s, m, t = line.rstrip("\r\n").split("\t")
            edges.append((s, m, t))
    diseases = [d for d in DISEASES if d in names]
    keep = set(diseases)
    chosen: list[tuple[str, str, str]] = []
    count: dict[tuple[str, str], int] = defaultdict(int)

    def take(e: tuple[str, str, str], anchor: str) -> None:
        cap = PER_KIND_CAP.get(e[1])
        if cap is not None and count[(anchor, e[1])] >= cap:
            return
        count[(anchor, e[1])] += 1
        chosen.append(e)
        keep.update((e[0], e[2]))

    # 1. treatments and disease neighbourhoods
    for e in edges:
        if e[1] in ("CtD", "CpD") and e[2] in diseases:
            take(e, e[2])
        elif e[1] in ("DaG", "DpS", "DlA", "DrD") and e[0] in diseases:
            take(e, e[0])
    drugs = {n for n in keep if n.startswith("Compound::")}
    # 2. drug neighbourhoods
    for e in edges:
        if e[1] in ("CbG", "CcSE", "CrC") and e[0] in drugs:
            take(e, e[0])
        elif e[1] == "PCiC" and e[2] in drugs:
            take(e, e[2])
    # 3. edges among already kept genes/drugs/diseases (closes paths for explanations)
    genes = {n for n in keep if n.startswith("Gene::")}
    for e in edges:
        if e in chosen:
            continue
        if e[1] in ("GiG", "CbG", "DaG", "CtD", "CpD", "DrD") and e[0] in keep and e[2] in keep:
            chosen.append(e)
        elif e[1] in ("GpPW",) and e[0] in genes and count[(e[0], e[1])] < 1:
            take(e, e[0])
    chosen = list(dict.fromkeys(chosen))
    # 4. largest connected component
    adj: dict[str, set[str]] = defaultdict(set)
    for s, _, t in chosen:
        adj[s].add(t)
        adj[t].add(s)
    seen: set[str] = set()
    best: set[str] = set()
    for n in sorted(adj):
        if n in seen:
            continue
        comp, stack = set(), [n]
        while stack:
            x = stack.pop()
            if x in comp:
                continue
            comp.add(x)
            stack.extend(adj[x] - comp)
        seen |= comp
        if len(comp) > len(best):
            best = comp
    chosen = [e for e in chosen if e[0] in best]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "hetionet-demo-nodes.tsv", "w", encoding="utf-8") as fh:
        fh.write("id\tname\tkind\n")
        for n in sorted(best):
            fh.write(f"{n}\t{names[n][0]}\t{names[n][1]}\n")
    with gzip.GzipFile(out / "hetionet-demo-edges.sif.gz", "wb", mtime=0) as gz:
        gz.write(b"source\tmetaedge\ttarget\n")
        for s, m, t in chosen:
            gz.write(f"{s}\t{m}\t{t}\n".encode())
    print(f"{len(best)} nodes, {len(chosen)} edges -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
