"""End-to-end evaluation of relation extraction against annotated corpora (``medkg evaluate extraction``).

Two corpora, scored the way their shared tasks score them:

* **BC5CDR CID** (PubTator with ``CID`` lines): ``CAUSES`` at abstract level, the
  set of ``(chemical id, disease id)`` pairs per document.
* **DDI 2013** (a folder of ``<document><sentence><entity/><pair/>`` XML files):
  ``INTERACTS_WITH`` per sentence, on unordered entity pairs; detection (any
  ``ddi="true"`` pair) and, when the pipeline predicts a type, each of
  ``mechanism``, ``effect``, ``advise``, ``int``.

Every method is scored on the same gold pairs, in one table:

* ``pipeline``: the shipped pipeline's own mentions and relations (what
  ``medkg extract`` writes). A predicted mention is mapped to the gold mentions
  its character span overlaps and stands for their gold ids, so normalisation
  (which id the linker chose) cannot hide or fake a relation; a mention that
  overlaps no gold mention keeps its own id and can only be a false positive.
* ``pipeline, asserted``: the same without negated / speculative relations (what
  ``medkg ingest text`` writes to the graph).
* ``gold mentions``: the gold mentions set as ``doc.ents`` and only the
  relation step (with the negation cues it reads) run on them.
* naive references: every pair of the pipeline's own mentions sharing a sentence;
  every gold pair sharing a sentence; every gold pair in the document (CID; for
  DDI, whose unit is the sentence, that is the same-sentence row).

Bad input raises :class:`~graph_engine.errors.IngestError` naming the file and
line (PubTator) or XML element (DDI).
"""

from __future__ import annotations

import bisect
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator

from spacy.language import Language

from graph_engine.errors import IngestError
from ingest.text.components.cache import set_ents
from ingest.text.evaluation import LabelScore
from ingest.text.readers import ReadStats, corpus_id, corpus_label, read_documents
from ingest.text.records import Document, Mention
from ingest.text.tokenizer import TITLE_END_KEY

#: DDI 2013 interaction types
DDI_TYPES = ("mechanism", "effect", "advise", "int")
#: the committed document-level split of the DDI 2013 train folder (ids only, never the corpus)
DDI_SPLIT_FILE = "data/ddi_train_split.tsv"
#: percent of DDI train documents held out as validation (the rule the shipped INTERACTS_WITH model was trained with)
DDI_VALIDATION_PERCENT = 20

Pair = tuple[Any, ...]
#: the files of a ChemProt split (``ingest.text.chemprot``)
CHEMPROT_SUFFIXES = ("_abstracts.tsv", "_entities.tsv", "_gold_standard.tsv")
#: the file that marks a LabeledIn folder (drug labels with annotated indications: TREATS)
LABELEDIN_FILE = "LabeledIn_annotated_XML.txt"


# --------------------------------------------------------------------------- scores


@dataclass
class Row:
    """One line of the result table: a method's P/R/F1 for one relation type."""

    relation: str
    method: str
    score: LabelScore

    def as_dict(self) -> dict[str, Any]:
        return {"relation": self.relation, "method": self.method, **self.score.as_dict()}


@dataclass
class ExtractionScores:
    """Everything ``medkg evaluate extraction`` prints."""

    task: str
    data: str
    documents: int
    units: int  # documents (CID) or sentences (DDI)
    gold_pairs: dict[str, int]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "data": self.data, "documents": self.documents, "units": self.units,
                "gold_pairs": self.gold_pairs, "rows": [r.as_dict() for r in self.rows], "notes": self.notes}

    def table(self) -> str:
        width = max([len(r.method) for r in self.rows] + [6])
        rw = max([len(r.relation) for r in self.rows] + [16])
        lines = [f"{'relation':<{rw}} {'method':<{width}} {'P':>6} {'R':>6} {'F1':>6} {'tp':>6} {'fp':>6} {'fn':>6}"]
        for r in self.rows:
            s = r.score
            lines.append(f"{r.relation:<{rw}} {r.method:<{width}} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.tp:6d} {s.fp:6d} {s.fn:6d}")
        return "\n".join(lines)


def score_pairs(gold: set[Pair], predicted: set[Pair]) -> LabelScore:
    """Set-level counts: a predicted pair is a true positive when it is a gold pair."""
    tp = len(gold & predicted)
    return LabelScore(tp=tp, fp=len(predicted) - tp, fn=len(gold) - tp)


# --------------------------------------------------------------------------- gold data


@dataclass(frozen=True)
class GoldMention:
    start: int
    end: int
    label: str
    ids: tuple[str, ...]  # CID: the corpus ids (several for a composite mention); DDI: the entity id
    fragments: tuple[tuple[int, int], ...] = ()  # DDI: discontinuous offsets
    kind: str = ""  # DDI: the entity type (drug, brand, group, drug_n)

    def spans(self) -> tuple[tuple[int, int], ...]:
        return self.fragments or ((self.start, self.end),)


@dataclass
class GoldUnit:
    """A document with gold mentions and the gold pairs of one relation type.

    ``pairs``: CID ``(doc, chemical id, disease id)``; DDI ``(sentence id, frozenset({e1, e2}))``
    with the type in ``pair_types``. ``sentences``: DDI sentence ids and their start offsets.
    """

    doc: Document
    mentions: list[GoldMention]
    pairs: set[Pair]
    pair_types: dict[Pair, str] = field(default_factory=dict)
    sentences: list[tuple[int, str]] = field(default_factory=list)


def _pubtator_annotations(path: Path) -> dict[str, tuple[list[GoldMention], list[tuple[int, str, str]]]]:
    """Per PMID: gold Drug/Disease mentions (all ids of each) and the CID lines ``(line, chemical, disease)``."""
    out: dict[str, tuple[list[GoldMention], list[tuple[int, str, str]]]] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for no, line in enumerate(fh, 1):
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 4:
                continue
            entry = out.setdefault(cols[0], ([], []))
            if cols[1] == "CID":
                if len(cols) != 4 or not cols[2].strip() or not cols[3].strip():
                    raise IngestError(f"CID line has {len(cols)} columns, expected PMID<TAB>CID<TAB>chemical id<TAB>disease id", str(path), no)
                chem, dis = corpus_id(cols[2]), corpus_id(cols[3])
                if chem is None or dis is None:
                    raise IngestError(f"CID line has no usable ids ({cols[2]!r}, {cols[3]!r})", str(path), no)
                entry[1].append((no, chem, dis))
            elif len(cols) >= 5 and cols[1].isdigit() and cols[2].isdigit():
                label = corpus_label(cols[4])
                if label not in ("Drug", "Disease"):
                    continue
                ids = tuple(i for i in (corpus_id(x) for x in (cols[5] if len(cols) > 5 else "").split("|")) if i)
                entry[0].append(GoldMention(int(cols[1]), int(cols[2]), label, ids))
    return out


def read_cid(path: str | Path, limit: int | None = None) -> list[GoldUnit]:
    """BC5CDR-style PubTator documents with their CID pairs.

    Raises:
        IngestError: no CID line in the file; a CID line whose chemical / disease id is no
            id of a Chemical / Disease mention of its document (names the line).
    """
    p = Path(path)
    raw = _pubtator_annotations(p)
    if not any(lines for _, lines in raw.values()):
        raise IngestError("no CID relation lines (PMID<TAB>CID<TAB>chemical<TAB>disease): "
                          "end-to-end relation evaluation needs a PubTator corpus with CID lines, e.g. BC5CDR", str(p))
    units = []
    for doc in read_documents(p, "pubtator", stats=ReadStats()):
        mentions, lines = raw.get(doc.id, ([], []))
        chem_ids = {i for m in mentions if m.label == "Drug" for i in m.ids}
        dis_ids = {i for m in mentions if m.label == "Disease" for i in m.ids}
        pairs: set[Pair] = set()
        for no, chem, dis in lines:
            for ident, known, kind in ((chem, chem_ids, "chemical"), (dis, dis_ids, "disease")):
                if ident not in known:
                    raise IngestError(f"CID line names {kind} id {ident!r}, which no {kind} mention of document {doc.id} has", str(p), no)
            pairs.add((doc.id, chem, dis))
        units.append(GoldUnit(doc, mentions, pairs))
        if limit is not None and len(units) >= limit:
            break
    return units


def ddi_files(root: str | Path) -> list[Path]:
    """The DDI XML files under ``root`` (a folder, or one file), sorted.

    Raises:
        IngestError: none found.
    """
    p = Path(root)
    files = [p] if p.is_file() else sorted(p.rglob("*.xml"))
    if not files:
        raise IngestError("no DDI XML files (*.xml) in this folder", str(p))
    return files


def ddi_is_validation(file_name: str, percent: int = DDI_VALIDATION_PERCENT) -> bool:
    """Whether a DDI train document is in the validation part: ``sha256(file name) % 100 < percent``.

    The same rule held these documents out of the shipped ``INTERACTS_WITH``
    model's training data (``ingest.text.relation_training``).
    """
    return int(hashlib.sha256(file_name.encode()).hexdigest(), 16) % 100 < percent


def ddi_split() -> dict[str, str]:
    """The committed split: file name -> ``train`` / ``validation`` (``ingest/text/data/ddi_train_split.tsv``)."""
    text = resources.files("ingest.text").joinpath(DDI_SPLIT_FILE).read_text(encoding="utf-8")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            _, name, part = line.split("\t")
            out[name] = part
    return out


def select_ddi(files: list[Path], split: str) -> list[Path]:
    """``files`` of the ``split`` part (``all``: every file).

    Raises:
        IngestError: none of the files is in that part of the committed split.
    """
    if split == "all":
        return files
    parts = ddi_split()
    chosen = [f for f in files if parts.get(f.name) == split]
    if not chosen:
        raise IngestError(f"none of these {len(files)} DDI files is in the {split!r} part of {DDI_SPLIT_FILE} "
                          "(the DDI 2013 train folder's split); pass --split all to evaluate every file", str(files[0].parent))
    return chosen


def _offsets(value: str | None, where: str, path: Path) -> tuple[tuple[int, int], ...]:
    try:
        frags = tuple((int(a), int(b) + 1) for a, b in (part.split("-") for part in (value or "").split(";")))
    except ValueError:
        raise IngestError(f"{where}: charOffset {value!r} is not 'start-end[;start-end]'", str(path)) from None
    if not frags or any(a >= b for a, b in frags):
        raise IngestError(f"{where}: charOffset {value!r} is empty or reversed", str(path))
    return frags


def read_ddi_file(path: Path) -> GoldUnit:
    """One DDI document: its sentences joined by single spaces, entities as Drug mentions, pairs per sentence.

    Raises:
        IngestError: broken XML (names the line), an entity without a valid ``id`` /
            ``charOffset``, a pair naming an entity its sentence lacks (names the element).
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise IngestError(f"broken DDI XML: {err}", str(path), err.position[0]) from err
    if root.tag != "document":
        raise IngestError(f"root element is <{root.tag}>, expected <document> (DDI 2013 XML)", str(path))
    doc_id = root.get("id") or path.stem
    texts: list[str] = []
    mentions: list[GoldMention] = []
    pairs: set[Pair] = set()
    types: dict[Pair, str] = {}
    sentences: list[tuple[int, str]] = []
    offset = 0
    for k, sent in enumerate(root.iter("sentence")):
        sid = sent.get("id") or f"{doc_id}.s{k}"
        text = sent.get("text")
        if text is None:
            raise IngestError(f"<sentence id={sid!r}> has no text attribute", str(path))
        sentences.append((offset, sid))
        ids = set()
        for e in sent.iter("entity"):
            eid = e.get("id")
            if not eid:
                raise IngestError(f"an <entity> of sentence {sid!r} has no id", str(path))
            frags = _offsets(e.get("charOffset"), f"<entity id={eid!r}>", path)
            if frags[-1][1] > len(text):
                raise IngestError(f"<entity id={eid!r}>: charOffset {e.get('charOffset')!r} lies outside its sentence ({len(text)} characters)", str(path))
            shifted = tuple((a + offset, b + offset) for a, b in frags)
            mentions.append(GoldMention(shifted[0][0], shifted[-1][1], "Drug", (eid,), shifted, e.get("type") or ""))
            ids.add(eid)
        for pr in sent.iter("pair"):
            pid, e1, e2 = pr.get("id"), pr.get("e1"), pr.get("e2")
            for named in (e1, e2):
                if named not in ids:
                    raise IngestError(f"<pair id={pid!r}> names entity {named!r}, which sentence {sid!r} does not have", str(path))
            if pr.get("ddi") == "true":
                key = (sid, frozenset((e1, e2)))
                pairs.add(key)
                types[key] = (pr.get("type") or "").lower()
        texts.append(text)
        offset += len(text) + 1
    doc = Document(id=doc_id, text=" ".join(texts), source="ddi", path=str(path))
    return GoldUnit(doc, mentions, pairs, types, sentences)


# --------------------------------------------------------------------------- running the pipeline


@dataclass
class Predicted:
    """What the pipeline produced on one document: mentions, relations, sentence character ranges."""

    mentions: list[Mention]
    relations: list[Any]
    sentences: list[tuple[int, int]]


def _sentence_chars(doc: Any) -> list[tuple[int, int]]:
    return [(s.start_char, s.end_char) for s in doc.sents] if len(doc) else []


def _as_input(nlp: Language, d: Document) -> Any:
    """What ``medkg extract`` hands the pipeline for ``d``: a title is marked as its own sentence."""
    if d.title and d.text.startswith(d.title) and len(d.text) > len(d.title):
        doc = nlp.make_doc(d.text)
        doc.user_data[TITLE_END_KEY] = len(d.title) + 1
        return doc
    return d.text


def run_pipeline(nlp: Language, units: list[GoldUnit], batch_size: int = 32, progress: bool | None = None) -> list[Predicted]:
    """The whole pipeline on each document's text."""
    from tqdm import tqdm

    from ingest.text.pipeline import doc_records

    out = []
    cached = getattr(nlp, "medkg_cached_ents", False)
    texts = (_as_input(nlp, u.doc) for u in units)
    for u, doc in tqdm(zip(units, nlp.pipe(texts, batch_size=batch_size)), total=len(units), unit="doc",
                       desc="pipeline", disable=not progress if progress is not None else None):
        doc.user_data.pop(TITLE_END_KEY, None)
        sents = _sentence_chars(doc)
        rec = doc_records(doc, Document(id=u.doc.id, text=u.doc.text), cached)
        out.append(Predicted(rec.mentions, rec.relations, sents))
    return out


def _gold_kb(m: GoldMention) -> str:
    return "|".join(m.ids)


def run_relations_on_gold(nlp: Language, units: list[GoldUnit], progress: bool | None = None) -> list[Predicted]:
    """Only the relation step (after sentences and negation cues) with the gold mentions as ``doc.ents``.

    Gold mentions without an id (BC5CDR ``-1``) are left out: they take part in no gold pair.
    """
    from tqdm import tqdm

    from ingest.text.pipeline import doc_records

    if "relations" not in nlp.pipe_names:
        raise IngestError("the pipeline has no 'relations' component to evaluate")
    before = [nlp.get_pipe(n) for n in ("sentences",) if n in nlp.pipe_names]
    after = [nlp.get_pipe(n) for n in ("negation", "relations") if n in nlp.pipe_names]
    out = []
    cached = getattr(nlp, "medkg_cached_ents", False)
    for u in tqdm(units, unit="doc", desc="gold mentions", disable=not progress if progress is not None else None):
        doc = _as_input(nlp, u.doc)
        doc = doc if not isinstance(doc, str) else nlp.make_doc(doc)
        for step in before:
            doc = step(doc)
        ents = []
        for m in u.mentions:
            if not m.ids:
                continue
            span = doc.char_span(m.start, m.end, alignment_mode="expand")
            if span is not None and len(span):
                ents.append((span.start, span.end, m.label, _gold_kb(m)))
        set_ents(doc, ents)
        for step in after:
            doc = step(doc)
        sents = _sentence_chars(doc)
        rec = doc_records(doc, Document(id=u.doc.id, text=u.doc.text), cached)
        out.append(Predicted(rec.mentions, rec.relations, sents))
    return out


# --------------------------------------------------------------------------- mapping to gold


def overlapping(mentions: list[GoldMention], start: int, end: int, label: str | None = None) -> list[GoldMention]:
    """Gold mentions (of ``label`` when given) whose span overlaps ``[start, end)`` by at least one character."""
    return [m for m in mentions if (label is None or m.label == label) and any(a < end and start < b for a, b in m.spans())]


def _ids_for(mentions: list[GoldMention], start: int, end: int, label: str, fallback: str) -> list[str]:
    ids = sorted({i for m in overlapping(mentions, start, end, label) for i in m.ids})
    return ids or [f"unmatched:{fallback}"]


def cid_pairs_from_relations(unit: GoldUnit, relations: Iterable[Any], asserted_only: bool = False) -> set[Pair]:
    """Abstract-level ``(doc, chemical id, disease id)`` pairs of predicted ``CAUSES`` relations, in gold ids."""
    out: set[Pair] = set()
    for r in relations:
        if r.type != "CAUSES" or (asserted_only and not r.asserted):
            continue
        ev = r.evidence
        for c in _ids_for(unit.mentions, ev.subject_start, ev.subject_end, "Drug", r.subject):
            for d in _ids_for(unit.mentions, ev.object_start, ev.object_end, "Disease", r.object):
                out.add((unit.doc.id, c, d))
    return out


def _cooccurring(spans: list[tuple[int, int, str, list[str]]], sentences: list[tuple[int, int]] | None) -> Iterator[tuple[list[str], list[str]]]:
    """Pairs of (Drug ids, Disease ids) whose mentions share a sentence (every pair when ``sentences`` is None)."""
    starts = [s for s, _ in sentences] if sentences else []

    def sent(i: int) -> int:
        return bisect.bisect_right(starts, i) - 1 if sentences else 0

    drugs = [(sent(s), ids) for s, e, label, ids in spans if label == "Drug"]
    diseases = [(sent(s), ids) for s, e, label, ids in spans if label == "Disease"]
    for sa, a in drugs:
        for sb, b in diseases:
            if sa == sb:
                yield a, b


def cid_cooccurrence(unit: GoldUnit, sentences: list[tuple[int, int]] | None, predicted: list[Mention] | None = None) -> set[Pair]:
    """CID pairs of every Drug/Disease mention pair sharing a sentence (``sentences=None``: the whole document).

    ``predicted``: use these mentions (mapped to gold ids by overlap) instead of the gold ones.
    """
    if predicted is None:
        spans = [(m.start, m.end, m.label, list(m.ids)) for m in unit.mentions if m.ids]
    else:
        spans = [(m.start, m.end, m.label, _ids_for(unit.mentions, m.start, m.end, m.label, m.id or m.text.lower()))
                 for m in predicted if m.label in ("Drug", "Disease")]
    out: set[Pair] = set()
    for a, b in _cooccurring(spans, sentences):
        out.update((unit.doc.id, c, d) for c in a for d in b)
    return out


def _ddi_sentence(unit: GoldUnit, char: int) -> str:
    starts = [s for s, _ in unit.sentences]
    return unit.sentences[max(0, bisect.bisect_right(starts, char) - 1)][1]


def _ddi_keys(unit: GoldUnit, start: int, end: int, fallback: str) -> tuple[str, list[str]]:
    sid = _ddi_sentence(unit, start)
    ids = [m.ids[0] for m in overlapping(unit.mentions, start, end) if _ddi_sentence(unit, m.start) == sid]
    return sid, ids or [f"unmatched:{fallback}:{start}"]


def ddi_pairs_from_relations(unit: GoldUnit, relations: Iterable[Any], asserted_only: bool = False) -> dict[Pair, str | None]:
    """Per-sentence unordered pairs of predicted ``INTERACTS_WITH`` relations, in gold entity ids, with the
    predicted interaction type (``None`` when the pipeline gives none). A pair whose mentions fall in two gold
    sentences, or on one gold entity, is kept as a false positive of the subject's sentence."""
    out: dict[Pair, str | None] = {}
    for r in relations:
        if r.type != "INTERACTS_WITH" or (asserted_only and not r.asserted):
            continue
        ev = r.evidence
        s_sid, s_ids = _ddi_keys(unit, ev.subject_start, ev.subject_end, r.subject)
        o_sid, o_ids = _ddi_keys(unit, ev.object_start, ev.object_end, r.object)
        kind = getattr(r, "interaction_type", None)
        for a in s_ids:
            for b in o_ids:
                if s_sid != o_sid or a == b:
                    out[(s_sid, frozenset((f"cross:{a}:{ev.subject_start}", f"cross:{b}:{ev.object_start}")))] = kind
                else:
                    out[(s_sid, frozenset((a, b)))] = kind
    return out


def ddi_cooccurrence(unit: GoldUnit, predicted: list[Mention] | None = None) -> set[Pair]:
    """Every pair of distinct drug mentions in one gold sentence (gold mentions, or ``predicted`` mapped by overlap)."""
    by_sent: dict[str, list[str]] = {}
    if predicted is None:
        for g in unit.mentions:
            by_sent.setdefault(_ddi_sentence(unit, g.start), []).append(g.ids[0])
    else:
        for m in predicted:
            if m.label == "Drug":
                sid, ids = _ddi_keys(unit, m.start, m.end, m.id or m.text.lower())
                by_sent.setdefault(sid, []).extend(ids)
    out: set[Pair] = set()
    for sid, ids in by_sent.items():
        uniq = sorted(set(ids))
        for i, a in enumerate(uniq):
            for b in uniq[i + 1 :]:
                out.add((sid, frozenset((a, b))))
    return out


# --------------------------------------------------------------------------- the evaluation


def detect_task(path: str | Path) -> str:
    """``labeledin`` for a LabeledIn folder (or its annotated XML file), ``chemprot`` for a ChemProt split
    (folder or one of its TSVs), ``ddi`` for a folder or ``.xml`` file, ``cid`` otherwise (PubTator)."""
    p = Path(path)
    if not p.exists():
        raise IngestError("input not found", str(p))
    if p.name == LABELEDIN_FILE or (p.is_dir() and (p / LABELEDIN_FILE).is_file()):
        return "labeledin"
    if p.is_file() and p.name.endswith(CHEMPROT_SUFFIXES):
        return "chemprot"
    if p.is_dir() and any(p.glob("*_abstracts.tsv")) and any(p.glob("*_gold_standard.tsv")):
        return "chemprot"
    return "ddi" if p.is_dir() or p.suffix.lower() == ".xml" else "cid"


def evaluate_extraction(
    data: str | Path,
    nlp: Language,
    *,
    split: str = "validation",
    limit: int | None = None,
    progress: bool | None = None,
) -> ExtractionScores:
    """Score ``nlp``'s relations on a CID PubTator file or a DDI 2013 XML folder (see the module docstring).

    Args:
        data: the corpus.
        nlp: from :func:`ingest.text.pipeline.load_pipeline`.
        split: DDI only: ``validation`` / ``train`` (of the committed split of the DDI train
            folder) or ``all``.
        limit: score only the first ``limit`` documents.

    Raises:
        IngestError: bad input (see :func:`read_cid`, :func:`read_ddi_file`).
    """
    task = detect_task(data)
    if task == "chemprot":  # ingest.text.chemprot builds on this module, so it is not imported here
        raise IngestError("a ChemProt split: score it with ingest.text.chemprot.evaluate_chemprot "
                          "(medkg evaluate extraction does)", str(data))
    if task == "labeledin":  # likewise ingest.text.indication_training
        raise IngestError("a LabeledIn folder: score it with ingest.text.indication_training.evaluate_labeledin "
                          "(medkg evaluate extraction does)", str(data))
    if task == "cid":
        units = read_cid(data, limit)
    else:
        files = select_ddi(ddi_files(data), split)
        units = [read_ddi_file(f) for f in files[:limit]]
    if not units:
        raise IngestError("no documents to evaluate", str(data))
    e2e = run_pipeline(nlp, units, progress=progress)
    gold_run = run_relations_on_gold(nlp, units, progress=progress)
    return (_score_cid if task == "cid" else _score_ddi)(str(data), units, e2e, gold_run)


def _score_cid(data: str, units: list[GoldUnit], e2e: list[Predicted], gold_run: list[Predicted]) -> ExtractionScores:
    gold = set().union(*(u.pairs for u in units))
    methods: dict[str, set[Pair]] = {k: set() for k in (
        "pipeline (end to end)", "pipeline, asserted only", "relation step on gold mentions",
        "relation step on gold mentions, asserted", "ref: pipeline mentions, same sentence",
        "ref: gold mentions, same sentence", "ref: gold mentions, same document")}
    for u, p, g in zip(units, e2e, gold_run):
        m = methods
        m["pipeline (end to end)"] |= cid_pairs_from_relations(u, p.relations)
        m["pipeline, asserted only"] |= cid_pairs_from_relations(u, p.relations, asserted_only=True)
        m["relation step on gold mentions"] |= cid_pairs_from_relations(u, g.relations)
        m["relation step on gold mentions, asserted"] |= cid_pairs_from_relations(u, g.relations, asserted_only=True)
        m["ref: pipeline mentions, same sentence"] |= cid_cooccurrence(u, p.sentences, p.mentions)
        m["ref: gold mentions, same sentence"] |= cid_cooccurrence(u, g.sentences)
        m["ref: gold mentions, same document"] |= cid_cooccurrence(u, None)
    scores = ExtractionScores("cid", data, len(units), len(units), {"CAUSES": len(gold)})
    scores.rows = [Row("CAUSES", name, score_pairs(gold, pred)) for name, pred in methods.items()]
    scores.notes.append("CID scored at abstract level: the set of (chemical id, disease id) pairs per document; "
                        "predicted mentions stand for the gold ids of the gold mentions they overlap")
    return scores


def _score_ddi(data: str, units: list[GoldUnit], e2e: list[Predicted], gold_run: list[Predicted]) -> ExtractionScores:
    gold: dict[Pair, str] = {}
    for u in units:
        gold.update(u.pair_types)
    preds: dict[str, dict[Pair, str | None]] = {k: {} for k in (
        "pipeline (end to end)", "pipeline, asserted only", "relation step on gold mentions",
        "relation step on gold mentions, asserted")}
    refs: dict[str, set[Pair]] = {"ref: pipeline mentions, same sentence": set(), "ref: gold mentions, every pair in the sentence": set()}
    for u, p, g in zip(units, e2e, gold_run):
        preds["pipeline (end to end)"].update(ddi_pairs_from_relations(u, p.relations))
        preds["pipeline, asserted only"].update(ddi_pairs_from_relations(u, p.relations, asserted_only=True))
        preds["relation step on gold mentions"].update(ddi_pairs_from_relations(u, g.relations))
        preds["relation step on gold mentions, asserted"].update(ddi_pairs_from_relations(u, g.relations, asserted_only=True))
        refs["ref: pipeline mentions, same sentence"] |= ddi_cooccurrence(u, p.mentions)
        refs["ref: gold mentions, every pair in the sentence"] |= ddi_cooccurrence(u)
    counts = {"detection": len(gold), **{t: sum(1 for v in gold.values() if v == t) for t in DDI_TYPES}}
    scores = ExtractionScores("ddi", data, len(units), sum(len(u.sentences) for u in units), counts)
    rows = []
    gold_set = set(gold)
    for name, pred in preds.items():
        rows.append(Row("INTERACTS_WITH", name, score_pairs(gold_set, set(pred))))
    for name, ref in refs.items():
        rows.append(Row("INTERACTS_WITH", name, score_pairs(gold_set, ref)))
    typed = any(v is not None for pred in preds.values() for v in pred.values())
    if typed:
        for t in DDI_TYPES:
            g_t = {k for k, v in gold.items() if v == t}
            for name, pred in preds.items():
                rows.append(Row(f"DDI {t}", name, score_pairs(g_t, {k for k, v in pred.items() if v == t})))
    else:
        scores.notes.append("the pipeline predicts no interaction type: DDI scored for detection only "
                            f"(gold types: {', '.join(f'{t} {counts[t]}' for t in DDI_TYPES)})")
    scores.rows = rows
    scores.notes.append("DDI scored per sentence on unordered pairs of gold entities; predicted mentions stand for "
                        "the gold entities they overlap; for DDI 'every pair in the sentence' is also the same-sentence "
                        "co-occurrence reference")
    return scores
