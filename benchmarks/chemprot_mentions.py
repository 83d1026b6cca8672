"""Mention recall and gene linking on a ChemProt split (issue 19 / 42).

    python -m benchmarks.chemprot_mentions --data ../shared/data/relations/chemprot/development [--fast] \
        [--vocabulary FILE] [--dump runs/cp_gene_links.tsv]

For each label (Drug = CHEMICAL, Gene = GENE-Y/N): the share of gold mentions *found* (a pipeline
mention of the same label overlaps it) and *linked* (such a mention has an id). ChemProt has no gene
ids, so linking precision is estimated two ways: the ``--dump`` TSV (gold text, pipeline text, id,
symbol, source) for a hand-checked sample, and an automatic proxy: among linked Gene mentions
whose text contains a gene symbol written as a symbol (the whole mention, compacted, equals some
vocabulary Gene symbol), the share linked to that symbol's gene. Mention precision: the share of
the pipeline's Drug / Gene mentions that overlap a gold mention of the same label.
"""

from __future__ import annotations

import argparse
import csv
import re
import time
from collections import Counter
from pathlib import Path

from ingest.text.chemprot import read_chemprot


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--fast", action="store_true", help="dictionary-only pipeline (--no-ner)")
    ap.add_argument("--vocabulary", default="default")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--dump", help="write every gold Gene mention with the pipeline mention and id it got")
    args = ap.parse_args(argv)

    from ingest.text.pipeline import load_pipeline
    from ingest.text.relation_eval import GoldUnit, run_pipeline
    from ingest.text.vocabulary import Vocabulary, default_vocabulary_path

    units = read_chemprot(args.data, args.limit)
    nlp = load_pipeline(ner=not args.fast, gene_ner=False if args.fast else "auto", vocabulary=args.vocabulary)
    t0 = time.process_time()
    preds = run_pipeline(nlp, [GoldUnit(u.doc, u.mentions, set()) for u in units], progress=False)
    cpu = time.process_time() - t0
    vocab = Vocabulary.load(default_vocabulary_path() if args.vocabulary == "default" else args.vocabulary)
    symbol = {e.id: e.name for e in vocab.entries if e.label == "Gene"}
    by_symbol = {_compact(n): i for i, n in symbol.items()}
    counts: Counter[str] = Counter()
    rows = []
    for u, p in zip(units, preds):
        for m in p.mentions:
            if m.label in ("Drug", "Gene"):
                counts[f"{m.label} predicted"] += 1
                counts[f"{m.label} predicted on gold"] += any(g.label == m.label and g.start < m.end and m.start < g.end
                                                              for g in u.mentions)
        for g in u.mentions:
            over = [m for m in p.mentions if m.label == g.label and m.start < g.end and g.start < m.end]
            counts[f"{g.label} gold"] += 1
            counts[f"{g.label} found"] += bool(over)
            linked = [m for m in over if m.id]
            counts[f"{g.label} linked"] += bool(linked)
            if g.label != "Gene":
                continue
            gtext = u.doc.text[g.start:g.end]
            m = linked[0] if linked else (over[0] if over else None)
            ident = m.id if m is not None and m.id else ""
            rows.append((u.doc.id, gtext, m.text if m else "", ident, symbol.get(ident, ""), m.source if m else ""))
            want = by_symbol.get(_compact(gtext))
            if linked and want is not None:
                counts["symbol-like linked"] += 1
                counts["symbol-like linked right"] += ident == want
    n_words = sum(len(u.doc.text.split()) for u in units)
    print(f"{len(units)} documents, {n_words} words, pipeline {'fast' if args.fast else 'full'}, "
          f"vocabulary {vocab.version}, {cpu:.1f} CPU s ({n_words / cpu:,.0f} words/CPU-s)")
    for label in ("Drug", "Gene"):
        n = counts[f"{label} gold"]
        k = max(1, counts[f"{label} predicted"])
        print(f"{label:5s} gold {n:6d}  found {counts[f'{label} found'] / n:.3f}  linked {counts[f'{label} linked'] / n:.3f}"
              f"  | predicted {counts[f'{label} predicted']}, on a gold mention {counts[f'{label} predicted on gold'] / k:.3f}")
    k = counts["symbol-like linked"]
    if k:
        print(f"Gene mentions written as a vocabulary symbol and linked: {k}, linked to that symbol's gene: "
              f"{counts['symbol-like linked right'] / k:.3f}")
    if args.dump:
        Path(args.dump).parent.mkdir(parents=True, exist_ok=True)
        with open(args.dump, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow(["pmid", "gold_text", "pipeline_text", "id", "symbol", "source"])
            w.writerows(rows)


if __name__ == "__main__":
    main()
