"""ChemProt (BioCreative VI) reader and the chemical–protein (``TARGETS {action}``) scores of
``medkg evaluate extraction``.

A ChemProt split is a folder with three tab-separated files (any prefix):

* ``*_abstracts.tsv``: ``pmid, title, abstract``; offsets index ``title + " " + abstract``;
* ``*_entities.tsv``: ``pmid, Tn, CHEMICAL | GENE-Y | GENE-N, start, end, text``;
* ``*_gold_standard.tsv``: ``pmid, CPR:n, Arg1:Tchem, Arg2:Tgene`` (the five evaluated groups).

Chemicals become ``Drug`` mentions and genes ``Gene`` mentions (the pipeline's labels);
each gold mention's id is its ``Tn``. Relations are scored as the shared task scores them:
per document, on (chemical mention, gene mention) pairs, typed by group, micro-averaged
over the five groups; plus detection (any group) and each group alone.

Bad input raises :class:`~graph_engine.errors.IngestError` naming the file and line.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from graph_engine.errors import IngestError
from ingest.text.evaluation import LabelScore
from ingest.text.records import Document, Mention
from ingest.text.relation_eval import ExtractionScores, GoldMention, Predicted, Row, run_pipeline, run_relations_on_gold

#: the five evaluated ChemProt groups and the ``action`` the pipeline stores on ``TARGETS``
CHEMPROT_GROUPS: dict[str, str] = {
    "CPR:3": "activator",   # upregulator / activator / indirect upregulator
    "CPR:4": "inhibitor",   # downregulator / inhibitor / indirect downregulator
    "CPR:5": "agonist",
    "CPR:6": "antagonist",
    "CPR:9": "substrate",   # substrate / product of / substrate-product of
}
ACTION_GROUP: dict[str, str] = {v: k for k, v in CHEMPROT_GROUPS.items()}
ENTITY_LABELS = {"CHEMICAL": "Drug", "GENE-Y": "Gene", "GENE-N": "Gene"}

TypedPair = tuple[str, str, str, str]  # (pmid, group, chemical id, gene id)


@dataclass
class ChemprotDoc:
    """One abstract: text, gold mentions (label ``Drug`` / ``Gene``, ``ids == (Tn,)``) and gold typed
    pairs ``(pmid, group, chem Tn, gene Tn)``."""

    doc: Document
    mentions: list[GoldMention]
    pairs: set[TypedPair]


def chemprot_files(path: str | Path) -> tuple[Path, Path, Path]:
    """The abstracts, entities and gold-standard files of a ChemProt split.

    ``path``: the split's folder, or any one of its three files.

    Raises:
        IngestError: a file is missing or ambiguous.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    out = []
    for kind in ("abstracts", "entities", "gold_standard"):
        found = sorted(folder.glob(f"*_{kind}.tsv"))
        if len(found) != 1:
            raise IngestError(f"expected one ChemProt *_{kind}.tsv file here, found {len(found)}", str(folder))
        out.append(found[0])
    return out[0], out[1], out[2]


def _rows(path: Path, n_cols: int, what: str) -> Iterable[tuple[int, list[str]]]:
    with open(path, encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != n_cols:
                raise IngestError(f"{what} line has {len(cols)} tab-separated columns, expected {n_cols}", str(path), no)
            yield no, cols


def read_chemprot(path: str | Path, limit: int | None = None) -> list[ChemprotDoc]:
    """A ChemProt split: documents (file order) with gold mentions and typed gold pairs.

    Raises:
        IngestError: wrong column counts; an entity whose offsets do not give its text, or whose
            type is unknown; a gold line with an unknown group, an unknown ``Tn``, or arguments
            that are not (chemical, gene); no gold relation at all.
    """
    abstracts, entities, gold = chemprot_files(path)
    docs: dict[str, ChemprotDoc] = {}
    for _, (pmid, title, abstract) in _rows(abstracts, 3, "abstracts (pmid, title, abstract)"):
        docs[pmid] = ChemprotDoc(Document(id=pmid, text=f"{title} {abstract}", title=title, source="chemprot", path=str(abstracts)), [], set())
    by_id: dict[tuple[str, str], GoldMention] = {}
    for no, (pmid, tid, kind, s, e, surface) in _rows(entities, 6, "entities (pmid, Tn, type, start, end, text)"):
        d = docs.get(pmid)
        if d is None:
            raise IngestError(f"entity {tid} names document {pmid}, which the abstracts file lacks", str(entities), no)
        label = ENTITY_LABELS.get(kind)
        if label is None:
            raise IngestError(f"entity {tid}: unknown type {kind!r}, expected one of {sorted(ENTITY_LABELS)}", str(entities), no)
        try:
            start, end = int(s), int(e)
        except ValueError:
            raise IngestError(f"entity {tid}: offsets {s!r}, {e!r} are not integers", str(entities), no) from None
        if not (0 <= start < end <= len(d.doc.text)) or d.doc.text[start:end] != surface:
            raise IngestError(f"entity {tid}: offsets {start}-{end} do not give its text in document {pmid}", str(entities), no)
        m = GoldMention(start, end, label, (tid,))
        d.mentions.append(m)
        by_id[(pmid, tid)] = m
    n_gold = 0
    for no, (pmid, group, arg1, arg2) in _rows(gold, 4, "gold standard (pmid, CPR:n, Arg1:Tn, Arg2:Tn)"):
        if group not in CHEMPROT_GROUPS:
            raise IngestError(f"group {group!r} is not one of the evaluated groups {sorted(CHEMPROT_GROUPS)}", str(gold), no)
        ids = []
        for arg, want, label in ((arg1, "Arg1:", "Drug"), (arg2, "Arg2:", "Gene")):
            tid = arg[len(want):] if arg.startswith(want) else ""
            found = by_id.get((pmid, tid))
            if found is None:
                raise IngestError(f"{arg!r} names no entity of document {pmid}", str(gold), no)
            if found.label != label:
                raise IngestError(f"{arg!r} is a {found.label} mention, expected {'a chemical' if label == 'Drug' else 'a gene'}", str(gold), no)
            ids.append(tid)
        docs[pmid].pairs.add((pmid, group, ids[0], ids[1]))
        n_gold += 1
    if not n_gold:
        raise IngestError("no gold relations: ChemProt evaluation needs a *_gold_standard.tsv with CPR lines", str(gold))
    out = list(docs.values())
    return out[:limit] if limit is not None else out


# --------------------------------------------------------------------------- scoring


def _overlap_ids(mentions: list[GoldMention], start: int, end: int, label: str, fallback: str) -> list[str]:
    ids = sorted({m.ids[0] for m in mentions if m.label == label and m.start < end and start < m.end})
    return ids or [f"unmatched:{fallback}:{start}"]


def typed_pairs_from_relations(unit: ChemprotDoc, relations: Iterable[Any], asserted_only: bool = False) -> set[TypedPair]:
    """Predicted ``TARGETS`` relations as typed gold-id pairs: each mention stands for the gold mentions its span
    overlaps (of its label); a relation without an action (or an unknown one) gets group ``?`` (never correct
    for a group, counted for detection)."""
    out: set[TypedPair] = set()
    for r in relations:
        if r.type != "TARGETS" or (asserted_only and not r.asserted):
            continue
        ev = r.evidence
        group = ACTION_GROUP.get(getattr(r, "action", None) or "", "?")
        for c in _overlap_ids(unit.mentions, ev.subject_start, ev.subject_end, "Drug", r.subject):
            for g in _overlap_ids(unit.mentions, ev.object_start, ev.object_end, "Gene", r.object):
                out.add((unit.doc.id, group, c, g))
    return out


def cooccurring_pairs(unit: ChemprotDoc, sentences: list[tuple[int, int]], predicted: list[Mention] | None = None) -> set[tuple[str, str, str]]:
    """Untyped ``(pmid, chem, gene)`` pairs of every chemical and gene mention sharing a sentence.

    ``predicted``: the pipeline's Drug / Gene mentions, mapped to gold ids by overlap; else the gold mentions.
    """
    starts = [s for s, _ in sentences]

    def sent(i: int) -> int:
        return bisect.bisect_right(starts, i) - 1

    if predicted is None:
        spans = [(m.start, m.label, [m.ids[0]]) for m in unit.mentions]
    else:
        spans = [(m.start, m.label, _overlap_ids(unit.mentions, m.start, m.end, m.label, m.id or m.text.lower()))
                 for m in predicted if m.label in ("Drug", "Gene")]
    chems = [(sent(s), ids) for s, label, ids in spans if label == "Drug"]
    genes = [(sent(s), ids) for s, label, ids in spans if label == "Gene"]
    out: set[tuple[str, str, str]] = set()
    for sa, a in chems:
        for sb, b in genes:
            if sa == sb:
                out.update((unit.doc.id, c, g) for c in a for g in b)
    return out


def _score(g: set[Any], p: set[Any]) -> LabelScore:
    tp = len(g & p)
    return LabelScore(tp=tp, fp=len(p) - tp, fn=len(g) - tp)


def _untyped(pairs: Iterable[TypedPair]) -> set[tuple[str, str, str]]:
    return {(d, c, g) for d, _, c, g in pairs}


#: the most frequent group (ChemProt training: CPR:4 2,254 of 4,157): the type the naive references guess
MAJORITY_GROUP = "CPR:4"
#: relation rows of the table, in order
ROW_NAMES = ("TARGETS (5 groups)", "TARGETS detection", *(f"{g} {a}" for g, a in CHEMPROT_GROUPS.items()))


def method_rows(method: str, gold: set[TypedPair], predicted: set[TypedPair]) -> list[Row]:
    """One method's rows: the five groups micro-averaged (the shared task's measure), detection (the pair,
    any group), and each group alone."""
    rows = [Row(ROW_NAMES[0], method, _score(gold, {x for x in predicted if x[1] in CHEMPROT_GROUPS})),
            Row(ROW_NAMES[1], method, _score(_untyped(gold), _untyped(predicted)))]
    for name, group in zip(ROW_NAMES[2:], CHEMPROT_GROUPS):
        rows.append(Row(name, method, _score({x for x in gold if x[1] == group}, {x for x in predicted if x[1] == group})))
    return rows


def reference_rows(method: str, gold: set[TypedPair], pairs: set[tuple[str, str, str]]) -> list[Row]:
    """A co-occurrence reference: detection, and the five groups with every pair guessed as :data:`MAJORITY_GROUP`."""
    typed = {(d, MAJORITY_GROUP, c, g) for d, c, g in pairs}
    return [Row(ROW_NAMES[0], f"{method}, all {MAJORITY_GROUP}", _score(gold, typed)), Row(ROW_NAMES[1], method, _score(_untyped(gold), pairs))]


def score_chemprot(data: str, units: list[ChemprotDoc], e2e: list[Predicted], gold_run: list[Predicted]) -> ExtractionScores:
    """The ChemProt table (see the module docstring): pipeline and gold-mention rows, then the references."""
    gold: set[TypedPair] = set().union(*(u.pairs for u in units))
    preds: dict[str, set[TypedPair]] = {k: set() for k in (
        "pipeline (end to end)", "pipeline, both ends linked", "pipeline, linked + asserted (graph)",
        "relation step on gold mentions", "relation step on gold mentions, asserted")}
    refs: dict[str, set[tuple[str, str, str]]] = {"ref: pipeline mentions, same sentence": set(), "ref: gold mentions, same sentence": set()}
    for u, p, g in zip(units, e2e, gold_run):
        linked = [r for r in p.relations if r.subject and r.object]
        preds["pipeline (end to end)"] |= typed_pairs_from_relations(u, p.relations)
        preds["pipeline, both ends linked"] |= typed_pairs_from_relations(u, linked)
        preds["pipeline, linked + asserted (graph)"] |= typed_pairs_from_relations(u, linked, asserted_only=True)
        preds["relation step on gold mentions"] |= typed_pairs_from_relations(u, g.relations)
        preds["relation step on gold mentions, asserted"] |= typed_pairs_from_relations(u, g.relations, asserted_only=True)
        refs["ref: pipeline mentions, same sentence"] |= cooccurring_pairs(u, p.sentences, p.mentions)
        refs["ref: gold mentions, same sentence"] |= cooccurring_pairs(u, g.sentences)
    counts = {"TARGETS": len(gold), **{f"{k} {v}": sum(1 for x in gold if x[1] == k) for k, v in CHEMPROT_GROUPS.items()}}
    scores = ExtractionScores("chemprot", data, len(units), len(units), counts)
    rows = [r for name, pred in preds.items() for r in method_rows(name, gold, pred)]
    rows += [r for name, pairs in refs.items() for r in reference_rows(name, gold, pairs)]
    order = {name: k for k, name in enumerate(ROW_NAMES)}
    scores.rows = sorted(rows, key=lambda r: order[r.relation])  # stable: methods keep their order within a row
    scores.notes.append("ChemProt scored per document on (chemical mention, gene mention) pairs: '5 groups' is the shared "
                        "task's micro-average over CPR:3/4/5/6/9 (pair and group must match), 'detection' the pair in any "
                        "group; predicted mentions stand for the gold mentions (same label) their span overlaps")
    scores.notes.append("TARGETS reads unlinked Drug / Gene mentions too; 'both ends linked' is what has ids for the graph, "
                        "'linked + asserted' what medkg ingest text writes")
    return scores


def evaluate_chemprot(data: str | Path, nlp: Any, limit: int | None = None, progress: bool | None = None) -> ExtractionScores:
    """Read a ChemProt split, run the pipeline end to end and the relation step on the gold mentions, score both."""
    from ingest.text.relation_eval import GoldUnit

    units = read_chemprot(data, limit)
    if not units:
        raise IngestError("no documents to evaluate", str(data))
    as_gold = [GoldUnit(u.doc, u.mentions, set()) for u in units]
    e2e = run_pipeline(nlp, as_gold, progress=progress)
    gold_run = run_relations_on_gold(nlp, as_gold, progress=progress)
    return score_chemprot(str(data), units, e2e, gold_run)
