"""Write the DDI 2013 and ChemProt *training* mentions as PubTator files for `medkg ner train --corpus`.

Both corpora annotate mentions the shipped NER learned from nowhere: DDI 2013 its
DrugNER types (``drug``, ``brand``, ``group``, ``drug_n``: all Drug), ChemProt its
chemicals and genes (``CHEMICAL`` -> Chemical, ``GENE-Y`` / ``GENE-N`` -> Gene). Only
training documents are written: the DDI documents of the ``train`` part of
``ingest/text/data/ddi_train_split.tsv`` (its ``validation`` part scores the relation
models), the ChemProt ``training`` folder (``development`` scores TARGETS). Discontinuous
DDI entities (``beta- and alpha-blockers``) have no PubTator form and are left out
(counted). The files are derived from non-commercial / unlicensed corpora: keep them
under ``runs/`` (never in the package).

Usage::

    python tools/ner_task_corpora.py --ddi ../shared/data/ddi_corpus/Train \\
        --chemprot ../shared/data/relations/chemprot/training --out runs/ner_tasks
    medkg ner train ... --corpus runs/ner_tasks/ddi_train.PubTator.txt:Drug \\
        --corpus runs/ner_tasks/chemprot_training.PubTator.txt:Drug+Gene
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Iterable


def _block(doc_id: str, text: str, mentions: Iterable[tuple[int, int, str]]) -> str:
    """One PubTator block: the text as its title line, then a line per ``(start, end, type)`` mention."""
    text = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")  # a PubTator line holds one line of text
    lines = [f"{doc_id}\t{a}\t{b}\t{text[a:b]}\t{kind}\t-1" for a, b, kind in sorted(mentions)]
    return "\n".join([f"{doc_id}|t|{text}", *lines])


def ddi_blocks(root: Path, split: str = "train") -> tuple[list[str], dict[str, int]]:
    """PubTator blocks of the DDI documents in ``split`` (read by the evaluation's own reader, so the
    offsets are over its text: sentences joined by one space)."""
    from ingest.text.relation_eval import ddi_files, read_ddi_file, select_ddi

    blocks: list[str] = []
    counts = {"docs": 0, "mentions": 0, "discontinuous": 0}
    for path in select_ddi(ddi_files(root), split):
        unit = read_ddi_file(path)
        mentions = [(m.start, m.end, m.kind or "drug") for m in unit.mentions if len(m.spans()) == 1]
        counts["discontinuous"] += len(unit.mentions) - len(mentions)
        blocks.append(_block(f"ddi{counts['docs']}", unit.doc.text, mentions))
        counts["docs"] += 1
        counts["mentions"] += len(mentions)
    return blocks, counts


def chemprot_blocks(folder: Path) -> tuple[list[str], dict[str, int]]:
    """PubTator blocks of a ChemProt split's abstracts with their chemical and gene mentions."""
    from ingest.text.chemprot import read_chemprot

    blocks: list[str] = []
    counts = {"docs": 0, "mentions": 0}
    for unit in read_chemprot(folder):
        mentions = [(m.start, m.end, "Chemical" if m.label == "Drug" else "Gene") for m in unit.mentions]
        blocks.append(_block(unit.doc.id, unit.doc.text, mentions))
        counts["docs"] += 1
        counts["mentions"] += len(mentions)
    return blocks, counts


def write(blocks: Iterable[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ddi", type=Path, help="the DDI 2013 Train folder")
    ap.add_argument("--chemprot", type=Path, help="a ChemProt split folder (training)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    report = {}
    if args.ddi:
        blocks, report["ddi"] = ddi_blocks(args.ddi)
        write(blocks, args.out / "ddi_train.PubTator.txt")
    if args.chemprot:
        blocks, report["chemprot"] = chemprot_blocks(args.chemprot)
        write(blocks, args.out / f"chemprot_{args.chemprot.name}.PubTator.txt")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
