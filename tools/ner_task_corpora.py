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
from typing import Any, Iterable


#: A document to write: ``(id, text on one line, [(start, end, PubTator type), ...])``.
Record = tuple[str, str, list[tuple[int, int, str]]]


def _one_line(text: str) -> str:
    """``text`` with line breaks and tabs as spaces (a PubTator line holds one line of text; offsets unchanged)."""
    return text.replace("\n", " ").replace("\r", " ").replace("\t", " ")


def _block(doc_id: str, text: str, mentions: Iterable[tuple[int, int, str]]) -> str:
    """One PubTator block: the text as its title line, then a line per ``(start, end, type)`` mention."""
    lines = [f"{doc_id}\t{a}\t{b}\t{text[a:b]}\t{kind}\t-1" for a, b, kind in sorted(mentions)]
    return "\n".join([f"{doc_id}|t|{text}", *lines])


def ddi_records(root: Path, split: str = "train") -> tuple[list[Record], dict[str, int]]:
    """The DDI documents in ``split`` with their mentions (read by the evaluation's own reader, so the
    offsets are over its text: sentences joined by one space)."""
    from ingest.text.relation_eval import ddi_files, read_ddi_file, select_ddi

    records: list[Record] = []
    counts = {"docs": 0, "mentions": 0, "discontinuous": 0}
    for path in select_ddi(ddi_files(root), split):
        unit = read_ddi_file(path)
        mentions = [(m.start, m.end, m.kind or "drug") for m in unit.mentions if len(m.spans()) == 1]
        counts["discontinuous"] += len(unit.mentions) - len(mentions)
        records.append((f"ddi{counts['docs']}", _one_line(unit.doc.text), mentions))
        counts["docs"] += 1
        counts["mentions"] += len(mentions)
    return records, counts


def chemprot_records(folder: Path) -> tuple[list[Record], dict[str, int]]:
    """A ChemProt split's abstracts with their chemical and gene mentions."""
    from ingest.text.chemprot import read_chemprot

    records: list[Record] = []
    counts = {"docs": 0, "mentions": 0}
    for unit in read_chemprot(folder):
        mentions = [(m.start, m.end, "Chemical" if m.label == "Drug" else "Gene") for m in unit.mentions]
        records.append((unit.doc.id, _one_line(unit.doc.text), mentions))
        counts["docs"] += 1
        counts["mentions"] += len(mentions)
    return records, counts


def load_model(model: Path) -> Any:
    """The NER model whose predictions are rehearsed (a spaCy pipeline directory)."""
    import spacy

    import ingest.text.pipeline  # noqa: F401  (registers the multi-task head and the tokenizer)

    return spacy.load(model)


def rehearse(nlp: Any, records: list[Record], labels: Iterable[str]) -> tuple[list[Record], dict[str, int]]:
    """``records`` with ``nlp``'s predicted mentions of ``labels`` added, except those that overlap one
    of the record's own mentions (counted; see the module docstring)."""
    wanted = set(labels)
    out: list[Record] = []
    added = dropped = 0
    for (doc_id, text, mentions), doc in zip(records, nlp.pipe([r[1] for r in records], batch_size=32)):
        extra = []
        for e in doc.ents:
            if e.label_ not in wanted:
                continue
            if any(e.start_char < b and a < e.end_char for a, b, _ in mentions):
                dropped += 1
                continue
            extra.append((e.start_char, e.end_char, e.label_))
        added += len(extra)
        out.append((doc_id, text, [*mentions, *extra]))
    return out, {"rehearsal_mentions": added, "rehearsal_overlapping_dropped": dropped}


def write(records: Iterable[Record], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(_block(*r) for r in records) + "\n", encoding="utf-8")


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
    nlp = load_model(args.rehearse) if args.rehearse else None
    suffix = "_rehearsed" if nlp is not None else ""
    corpora = []
    if args.ddi:
        corpora.append(("ddi", lambda: ddi_records(args.ddi), "ddi_train"))
    if args.chemprot:
        corpora.append(("chemprot", lambda: chemprot_records(args.chemprot), f"chemprot_{args.chemprot.name}"))
    report = {}
    for key, read, stem in corpora:
        records, report[key] = read()
        if nlp is not None:
            records, more = rehearse(nlp, records, labels)
            report[key].update(more)
        write(records, args.out / f"{stem}{suffix}.PubTator.txt")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
