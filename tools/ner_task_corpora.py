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
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable


def _clean(text: str) -> str:
    # a PubTator line holds one line of text
    return text.replace("\n", " ").replace("\r", " ").replace("\t", " ")


def ddi_blocks(root: Path, split: str = "train") -> tuple[list[str], dict[str, int]]:
    """PubTator blocks of the DDI documents in ``split`` (entity offsets over sentences joined by one space)."""
    from ingest.text.relation_eval import ddi_files, select_ddi

    blocks: list[str] = []
    counts = {"docs": 0, "mentions": 0, "discontinuous": 0}
    for path in select_ddi(ddi_files(root), split):
        doc = ET.parse(path).getroot()
        texts: list[str] = []
        lines: list[str] = []
        offset = 0
        doc_id = f"ddi{counts['docs']}"
        for sent in doc.iter("sentence"):
            text = _clean(sent.get("text") or "")
            for e in sent.iter("entity"):
                frags = (e.get("charOffset") or "").split(";")
                if len(frags) != 1:
                    counts["discontinuous"] += 1
                    continue
                a, b = (int(x) for x in frags[0].split("-"))
                start, end = a + offset, b + 1 + offset
                surface = text[a:b + 1]
                lines.append(f"{doc_id}\t{start}\t{end}\t{surface}\t{e.get('type') or 'drug'}\t-1")
                counts["mentions"] += 1
            texts.append(text)
            offset += len(text) + 1
        full = " ".join(texts)
        for line in lines:  # every offset must give its text back (the reader checks it too)
            _, s, t, surface, *_ = line.split("\t")
            assert full[int(s):int(t)] == surface, (path, line)
        blocks.append("\n".join([f"{doc_id}|t|{full}", *lines]))
        counts["docs"] += 1
    return blocks, counts


def chemprot_blocks(folder: Path) -> tuple[list[str], dict[str, int]]:
    """PubTator blocks of a ChemProt split's abstracts with their chemical and gene mentions."""
    from ingest.text.chemprot import read_chemprot

    blocks: list[str] = []
    counts = {"docs": 0, "mentions": 0}
    for unit in read_chemprot(folder):
        text = _clean(unit.doc.text)
        lines = [f"{unit.doc.id}\t{m.start}\t{m.end}\t{text[m.start:m.end]}\t{'Chemical' if m.label == 'Drug' else 'Gene'}\t-1"
                 for m in sorted(unit.mentions, key=lambda m: (m.start, m.end))]
        blocks.append("\n".join([f"{unit.doc.id}|t|{text}", *lines]))
        counts["docs"] += 1
        counts["mentions"] += len(lines)
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
