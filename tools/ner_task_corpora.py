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

Rehearsal (``--rehearse MODEL``): the two corpora annotate no diseases, so continuing a
model on them moves the shared tok2vec with no Disease signal on their text and the
Disease head drifts (session 15: NCBI dev 0.793 -> 0.769). With ``--rehearse`` every
document also gets the given model's own Disease predictions (``--rehearse-labels``) as
mentions of that label, except where they overlap a gold mention; train the corpus with
that label added (``:Drug+Disease``) so the Disease head keeps learning its old answers
on the new text.

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


def rehearsal_mentions(model: Path, texts: list[str], labels: Iterable[str],
                       gold: list[list[tuple[int, int, str]]]) -> tuple[list[list[tuple[int, int, str]]], int]:
    """``model``'s predicted mentions of ``labels`` in each text that overlap none of its gold mentions,
    as ``(start, end, label)``; and how many overlapping predictions were dropped."""
    import spacy

    import ingest.text.pipeline  # noqa: F401  (registers the multi-task head and the tokenizer)

    wanted = set(labels)
    nlp = spacy.load(model)
    out: list[list[tuple[int, int, str]]] = []
    dropped = 0
    for doc, spans in zip(nlp.pipe(texts, batch_size=32), gold):
        keep = []
        for e in doc.ents:
            if e.label_ not in wanted:
                continue
            if any(e.start_char < b and a < e.end_char for a, b, _ in spans):
                dropped += 1
                continue
            keep.append((e.start_char, e.end_char, e.label_))
        out.append(keep)
    return out, dropped


def rehearse(blocks: list[str], model: Path, labels: Iterable[str]) -> tuple[list[str], dict[str, int]]:
    """``blocks`` with ``model``'s predictions of ``labels`` added (see the module docstring)."""
    docs = []
    for block in blocks:
        head, *lines = block.split("\n")
        doc_id, _, text = head.split("|", 2)
        spans = [(int(f[1]), int(f[2]), f[4]) for f in (ln.split("\t") for ln in lines)]
        docs.append((doc_id, text, spans))
    extra, dropped = rehearsal_mentions(model, [t for _, t, _ in docs], labels, [s for _, _, s in docs])
    out = [_block(i, t, [*s, *x]) for (i, t, s), x in zip(docs, extra)]
    return out, {"rehearsal_mentions": sum(map(len, extra)), "rehearsal_overlapping_dropped": dropped}


def write(blocks: Iterable[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ddi", type=Path, help="the DDI 2013 Train folder")
    ap.add_argument("--chemprot", type=Path, help="a ChemProt split folder (training)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rehearse", type=Path, metavar="MODEL",
                    help="add this NER model's own predictions of --rehearse-labels (e.g. the shipped model)")
    ap.add_argument("--rehearse-labels", default="Disease", help="labels to rehearse, '+'-separated (default Disease)")
    args = ap.parse_args()
    labels = args.rehearse_labels.split("+")
    suffix = "_rehearsed" if args.rehearse else ""
    report = {}
    if args.ddi:
        blocks, report["ddi"] = ddi_blocks(args.ddi)
        if args.rehearse:
            blocks, more = rehearse(blocks, args.rehearse, labels)
            report["ddi"].update(more)
        write(blocks, args.out / f"ddi_train{suffix}.PubTator.txt")
    if args.chemprot:
        blocks, report["chemprot"] = chemprot_blocks(args.chemprot)
        if args.rehearse:
            blocks, more = rehearse(blocks, args.rehearse, labels)
            report["chemprot"].update(more)
        write(blocks, args.out / f"chemprot_{args.chemprot.name}{suffix}.PubTator.txt")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
