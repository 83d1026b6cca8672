"""Train and evaluate the ``TREATS`` and ``ASSOCIATES`` relation models (they replace the trigger rules).

Two binary logistic regressions over the same pair features as ``CAUSES`` and ``INTERACTS_WITH``
(:func:`ingest.text.components.relations.pair_features`, fitted by
:func:`ingest.text.relation_training.fit`):

* ``TREATS`` (Drug -> Disease) from **LabeledIn** (Khare et al. 2014; US public domain): the
  INDICATIONS AND USAGE sections of 500 FDA drug labels with every indication annotated (UMLS CUI).
  The text's Drug and Disease mentions are the accurate pipeline's own (plus the label's ingredient
  names where the pipeline missed them); the annotated indications replace the Disease mentions they
  overlap. A same-sentence Drug - Disease pair is positive when the disease is an annotated
  indication, negative when it is a disease the annotators left out (a symptom, a limitation of use,
  a contraindication). Because a drug that *causes* a disease is the error a ``TREATS`` model must not
  make, the chemical-induced-disease pairs of BC5CDR train (gold mentions) and the drug - adverse-effect
  pairs of ADE v2 are added as negatives.
* ``ASSOCIATES`` (Gene -> Disease) from the **EU-ADR** target - disease sentences (van Mulligen et al.
  2012): positive associations (``PA``) and speculative ones (``SA``) are positive, negative (``NA``)
  and false (``FA``) ones negative.

Held-out estimates: LabeledIn labels and EU-ADR PubMed ids are split by ``sha256(id) % 100 < 20``
(20 % held out; never used to fit or choose anything). The report scores the relation step as the
pipeline runs it (:meth:`RelationExtractor._classify`, with the ``CAUSES`` model competing for
Drug - Disease pairs) against the trigger rule it replaces, on the same pairs; for ``TREATS`` also
end to end on the held-out labels (the whole accurate pipeline, indications per label) and on the
CID pairs of BC5CDR development (how often a chemical-induced disease is called treated). The
shipped models are fitted on the training parts only. Only weights are written, never the corpora.
Run ``python -m ingest.text.indication_training --help``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import io
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from graph_engine.errors import IngestError
from ingest.text.components.relations import EXTRACTOR_VERSION, MODEL_FILES, RelationExtractor, pair_features
from ingest.text.relation_training import _prf, span_pairs

Example = tuple[list[str], int]

#: percent of LabeledIn labels / EU-ADR abstracts held out (by sha256 of the id)
HELD_OUT_PERCENT = 20

_TAG = re.compile(r"<annotation\s+cui=\"([^\"]*)\"\s*>(.*?)</annotation>|<[^>]*>", re.S)
#: tags that end a block of the label text (headers, paragraphs): a sentence break
_BLOCK = re.compile(r"^</?(br|div|p|li|ul|ol|h\d|table|tr|td)\b", re.I)


def held_out(key: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """Whether the document ``key`` is in the held-out part (``sha256(key) % 100 < percent``)."""
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 100 < percent


@dataclass
class LabelDoc:
    """One LabeledIn drug label: the cleaned indications text, its annotated indications
    ``(start, end, cui)`` and the label's ingredient names."""

    id: str
    text: str
    indications: list[tuple[int, int, str]]
    drugs: list[str] = field(default_factory=list)


def _clean_label(raw: str, where: str) -> tuple[str, list[tuple[int, int, str]]]:
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    length = 0
    pos = 0

    def add(s: str) -> None:
        nonlocal length
        parts.append(s)
        length += len(s)

    for m in _TAG.finditer(raw):
        add(html.unescape(raw[pos : m.start()]))
        pos = m.end()
        if m.group(1) is not None:
            cuis = [c.strip() for c in re.split(r"[;,]", m.group(1)) if c.strip()]
            if not cuis or not all(re.fullmatch(r"C\d{1,8}", c) for c in cuis):
                raise IngestError(f"annotation with cui {m.group(1)!r}, expected UMLS CUIs (C and digits, ';' between)", where)
            cui = ";".join(cuis)
            body = html.unescape(re.sub(r"<[^>]*>", " ", m.group(2)))
            start = length
            add(body)
            if body.strip():
                spans.append((start, length, cui))
        elif _BLOCK.match(m.group(0)):
            add("\n\n")
        else:
            add(" ")
    add(html.unescape(raw[pos:]))
    return "".join(parts), spans


def read_labeledin(folder: str | Path) -> list[LabelDoc]:
    """The LabeledIn labels of ``folder`` (``LabeledIn_annotated_XML.txt``; ingredient names from
    ``LabeledIn_Structured_Results.txt`` and ``indications_rxnorm_umls_mesh.tsv`` when present).

    Raises:
        IngestError: a missing file, a line without its ``|`` fields, a bad CUI (naming file and line).
    """
    root = Path(folder)
    xml = root / "LabeledIn_annotated_XML.txt"
    if not xml.is_file():
        raise IngestError("LabeledIn folder has no LabeledIn_annotated_XML.txt", str(root))
    names: dict[str, str] = {}
    tsv = root / "indications_rxnorm_umls_mesh.tsv"
    if tsv.is_file():
        with tsv.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row.get("rxnorm_id") and row.get("rxnorm_name"):
                    names[row["rxnorm_id"].strip()] = row["rxnorm_name"].strip()
    ingredients: dict[str, list[str]] = {}
    structured = root / "LabeledIn_Structured_Results.txt"
    if structured.is_file():
        for n, line in enumerate(structured.read_text(encoding="utf-8").splitlines(), 1):
            f = line.split("|")
            if len(f) >= 4 and f[0].strip():
                ingredients[f[0].strip()] = [names[c.strip()] for c in f[3].split(";") if c.strip() in names]
    out: list[LabelDoc] = []
    for n, line in enumerate(xml.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        head = line.split("|", 2)
        if len(head) < 3 or not head[0].strip():
            raise IngestError("expected 'label id|set id|indications section|other set ids'", str(xml), n)
        body = head[2].rsplit("|", 1)[0] if "|" in head[2] else head[2]
        text, spans = _clean_label(body, f"{xml}:{n}")
        out.append(LabelDoc(head[0].strip(), text, spans, ingredients.get(head[0].strip(), [])))
    if not out:
        raise IngestError("no labels", str(xml))
    return out


# --------------------------------------------------------------------------- TREATS examples


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def label_doc(nlp: Language, d: LabelDoc, doc: Doc | None = None) -> Doc:
    """``d`` as a pipeline ``Doc`` whose entities are the pipeline's Drug mentions, the label's
    ingredient names where no Drug mention covers them, the annotated indications (kb id
    ``UMLS:<cui>``) and the pipeline's other Disease mentions (kb id: theirs, or ``TEXT:<text>``)."""
    doc = doc if doc is not None else nlp(d.text)
    gold = [s for s in (doc.char_span(a, b, label="Disease", kb_id=f"UMLS:{c}", alignment_mode="expand") for a, b, c in d.indications) if s is not None]
    spans: list[Span] = list(gold)
    drugs = [e for e in doc.ents if e.label_ == "Drug"]
    lower = d.text.lower()
    for name in d.drugs:
        for word in {name.lower(), name.lower().split()[0]}:
            for m in re.finditer(r"\b" + re.escape(word) + r"\b", lower):
                if not any(_overlaps((m.start(), m.end()), (e.start_char, e.end_char)) for e in drugs):
                    s = doc.char_span(m.start(), m.end(), label="Drug", kb_id=f"TEXT:{word}", alignment_mode="expand")
                    if s is not None:
                        drugs.append(s)
    for e in drugs:
        spans.append(Span(doc, e.start, e.end, label="Drug", kb_id=e.kb_id_ or f"TEXT:{e.text.lower()}"))
    for e in doc.ents:
        if e.label_ == "Disease" and not any(_overlaps((e.start, e.end), (g.start, g.end)) for g in gold):
            spans.append(Span(doc, e.start, e.end, label="Disease", kb_id=e.kb_id_ or f"TEXT:{e.text.lower()}"))
    doc.ents = filter_spans(sorted(spans, key=lambda s: (not s.kb_id_.startswith("UMLS:"), s.start)))
    return doc


def _pairs(doc: Doc, labels: tuple[str, str]) -> Iterator[tuple[Span, Span]]:
    """Same-sentence (subject, object) pairs of different entities with the two ``labels``."""
    return ((subj, obj) for _, _, subj, obj in span_pairs(doc, labels))


def treats_examples(docs: Iterable[Doc]) -> Iterator[tuple[Doc, Span, Span, int]]:
    """LabeledIn pairs of :func:`label_doc` documents: positive when the disease is an annotated indication."""
    for doc in docs:
        for drug, disease in _pairs(doc, ("Drug", "Disease")):
            yield doc, drug, disease, int(disease.kb_id_.startswith("UMLS:"))


def cid_negative_examples(path: str | Path, nlp: Language) -> Iterator[tuple[Doc, Span, Span, int]]:
    """BC5CDR chemical-induced-disease pairs (gold mentions, one sentence) as ``TREATS`` negatives."""
    from ingest.text.readers import ReadStats, read_documents

    for d in read_documents(path, "pubtator", stats=ReadStats()):
        doc = nlp(d.text)
        spans = [s for s in (doc.char_span(m.start, m.end, label=m.label, kb_id=m.id or "", alignment_mode="expand") for m in d.gold_mentions) if s is not None]
        doc.ents = filter_spans(spans)
        cid = {(r.subject, r.object) for r in d.gold_relations}
        for drug, disease in _pairs(doc, ("Drug", "Disease")):
            if (drug.kb_id_, disease.kb_id_) in cid:
                yield doc, drug, disease, 0


def ade_negative_examples(folder: str | Path, nlp: Language) -> Iterator[tuple[Doc, Span, Span, int]]:
    """ADE v2 drug -> adverse-effect pairs (``DRUG-AE.rel``; mentions found in their sentence) as ``TREATS`` negatives.

    Raises:
        IngestError: a line without its 8 ``|`` fields (naming file and line).
    """
    path = Path(folder) / "DRUG-AE.rel"
    if not path.is_file():
        raise IngestError("ADE corpus folder has no DRUG-AE.rel", str(folder))
    by_sentence: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        f = line.split("|")
        if len(f) < 8:
            raise IngestError("expected 'pmid|sentence|effect|start|end|drug|start|end'", str(path), n)
        by_sentence.setdefault((f[0], f[1]), set()).add((f[5], f[2]))
    for (_, sentence), pairs in by_sentence.items():
        doc = nlp.make_doc(sentence)
        for tok in doc:
            tok.is_sent_start = tok.i == 0
        for drug_text, effect_text in sorted(pairs):
            a, b = sentence.find(drug_text), sentence.find(effect_text)
            if a < 0 or b < 0 or _overlaps((a, a + len(drug_text)), (b, b + len(effect_text))):
                continue
            drug = doc.char_span(a, a + len(drug_text), label="Drug", kb_id="TEXT:" + drug_text.lower(), alignment_mode="expand")
            effect = doc.char_span(b, b + len(effect_text), label="Disease", kb_id="TEXT:" + effect_text.lower(), alignment_mode="expand")
            if drug is None or effect is None:
                continue
            doc.ents = [drug, effect] if drug.start < effect.start else [effect, drug]
            yield doc, drug, effect, 0


def read_indications(path: str | Path) -> dict[tuple[str, str], str]:
    """PharmacotherapyDB ``indications.tsv`` (Hetionet, CC0): ``(DRUGBANK:id, DOID:id) -> category``
    (``DM`` disease-modifying, ``SYM`` symptomatic, ``NOT`` curated non-indication).

    Raises:
        IngestError: a missing file or column, an unknown category (naming file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError("no such file", str(path))
    out: dict[tuple[str, str], str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        missing = {"doid_id", "drugbank_id", "category"} - set(rows.fieldnames or ())
        if missing:
            raise IngestError(f"missing column(s) {', '.join(sorted(missing))}", str(path), 1)
        for n, row in enumerate(rows, 2):
            cat = (row["category"] or "").strip()
            if cat not in ("DM", "SYM", "NOT"):
                raise IngestError(f"category {cat!r}, expected DM, SYM or NOT", str(path), n)
            out[(f"DRUGBANK:{row['drugbank_id'].strip()}", row["doid_id"].strip())] = cat
    return out


def distant_examples(docs: Iterable[Doc], indications: dict[tuple[str, str], str]) -> Iterator[tuple[Doc, Span, Span, int]]:
    """Distantly labelled ``TREATS`` positives from unlabelled abstracts: same-sentence linked Drug - Disease
    pairs of the pipeline's own mentions that PharmacotherapyDB lists as an indication (``DM`` or ``SYM``).
    (``NOT`` pairs are not used as negatives: in abstracts they are mostly stated as treatments, e.g.
    off-label or regional therapy.)"""
    for doc in docs:
        for drug, disease in _pairs(doc, ("Drug", "Disease")):
            if indications.get((drug.kb_id_, disease.kb_id_)) in ("DM", "SYM"):
                yield doc, drug, disease, 1


def ade_negative_sentences(folder: str | Path) -> list[str]:
    """The sentences of ADE v2's ``ADE-NEG.txt`` (``pmid NEG sentence``), without their ids."""
    path = Path(folder) / "ADE-NEG.txt"
    if not path.is_file():
        raise IngestError("ADE corpus folder has no ADE-NEG.txt", str(folder))
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[2].strip():
            out.append(parts[2].strip())
    return out


# --------------------------------------------------------------------------- ASSOCIATES examples


@dataclass
class EuadrPair:
    pmid: str
    sentence: str
    first: tuple[int, int]  # the gene (target - disease file) or the drug (drug - disease file)
    disease: tuple[int, int]
    label: int


def read_euadr(path: str | Path, first: str = "Genes") -> list[EuadrPair]:
    """EU-ADR ``EUADR_target_disease.csv`` (or, ``first="Chemicals"``, ``EUADR_drug_disease.csv``) rows: ``PA`` / ``SA`` positive, ``NA`` / ``FA`` negative
    (``first``: the entity type prefix of the pair's first member, ``Chemicals`` for the drug - disease file).

    Raises:
        IngestError: a row without its 12 columns, an unknown association type, or offsets that do not
            give the entity's text (naming file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError("no such file", str(path))
    out = []
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:  # the corpus is distributed in Latin-1
        content = raw.decode("latin-1")
    rows = csv.reader(io.StringIO(content, newline=""), delimiter="\t")
    next(rows, None)
    for n, row in enumerate(rows, 2):
        if not row:
            continue
        if len(row) < 12:
            raise IngestError(f"expected 12 tab-separated columns, got {len(row)}", str(path), n)
        kind = row[0].strip()
        if kind not in ("PA", "SA", "NA", "FA"):
            raise IngestError(f"association type {kind!r}, expected PA, SA, NA or FA", str(path), n)
        sentence = row[11]
        ents = []
        for text, s, e, etype in ((row[3], row[4], row[5], row[6]), (row[7], row[8], row[9], row[10])):
            try:
                a, b = int(s), int(e)
            except ValueError:
                raise IngestError(f"offsets {s!r}-{e!r} are not integers", str(path), n) from None
            if sentence[a:b] != text:
                found = sentence.find(text)
                if found < 0:
                    raise IngestError(f"entity {text!r} is not at {a}-{b} of its sentence", str(path), n)
                a, b = found, found + len(text)
            ents.append(((a, b), etype))
        gene = next((sp for sp, t in ents if t.startswith(first)), None)
        disease = next((sp for sp, t in ents if t.startswith("Diseases")), None)
        if gene is None or disease is None or _overlaps(gene, disease):
            continue
        out.append(EuadrPair(row[1].strip(), sentence, gene, disease, int(kind in ("PA", "SA"))))
    return out


def euadr_examples(pairs: Iterable[EuadrPair], nlp: Language, first_label: str = "Gene") -> Iterator[tuple[Doc, Span, Span, int]]:
    """EU-ADR pairs as one-sentence documents with their two mentions: ``(doc, first, disease, label)``
    (``first_label``: ``Gene`` for the target - disease file, ``Drug`` for the drug - disease one)."""
    for p in pairs:
        doc = nlp.make_doc(p.sentence)
        for tok in doc:
            tok.is_sent_start = tok.i == 0
        first = doc.char_span(*p.first, label=first_label, kb_id=f"TEXT:{first_label.lower()}", alignment_mode="expand")
        disease = doc.char_span(*p.disease, label="Disease", kb_id="TEXT:disease", alignment_mode="expand")
        if first is None or disease is None or _overlaps((first.start, first.end), (disease.start, disease.end)):
            continue
        doc.ents = sorted([first, disease], key=lambda s: s.start)
        yield doc, first, disease, p.label


def euadr_drug_disease_examples(path: str | Path, nlp: Language) -> list[tuple[Doc, Span, Span, int]]:
    """EU-ADR ``EUADR_drug_disease.csv`` as (drug, disease) pairs, 1 for ``PA`` / ``SA`` (an association:
    a treatment or an adverse effect, the corpus does not say which), 0 for ``NA`` / ``FA``."""
    return list(euadr_examples(read_euadr(path, first="Chemicals"), nlp, first_label="Drug"))


# --------------------------------------------------------------------------- scoring as the pipeline does


def _tuple(s: Span) -> tuple[int, int, str, str]:
    return (s.start, s.end, s.label_, s.kb_id_)


def step_decides(ext: RelationExtractor, doc: Doc, subj: Span, obj: Span, rel: str) -> bool:
    """Whether the relation step of ``ext`` emits ``rel`` for the pair (as in :meth:`RelationExtractor.sentence_pass`:
    every type of the pair competes; a document-level ``CAUSES`` only competes)."""
    from ingest.text.components.relations import entity_masks

    a, b = sorted((subj, obj), key=lambda s: s.start)
    rule = ext.pairs.get((a.label_, b.label_))
    if rule is None:
        return False
    ents = [_tuple(e) for e in doc.ents]
    lowers = [t.lower_ for t in doc]
    sent = (a.sent.start, a.sent.end)
    masks = entity_masks(ents)
    causes_z = ext._logit("CAUSES", lowers, ents, _tuple(a), _tuple(b), sent, masks) if ext.doc_model is not None and "CAUSES" in rule[1] and "CAUSES" in ext.models else None
    got = ext._classify(lowers, ents, _tuple(a), _tuple(b), sent, rule[1], masks, causes_z)
    return got is not None and got[0] == rel


def score_step(ext: RelationExtractor, examples: Sequence[tuple[Doc, Span, Span, int]], rel: str) -> dict[str, float]:
    tp = fp = fn = 0
    for doc, s, o, y in examples:
        pred = step_decides(ext, doc, s, o, rel)
        tp += pred and y
        fp += pred and not y
        fn += (not pred) and y
    return _prf(tp, fp, fn)


def evaluate_labeledin(data: str | Path, nlp: Language, split: str = "validation", limit: int | None = None,
                       progress: bool | None = None) -> Any:
    """``medkg evaluate extraction`` on a LabeledIn folder: ``TREATS`` end to end per label (:func:`treats_end_to_end`)
    on the held-out labels (``split="validation"``, the 20 % the shipped model never saw; ``train`` or ``all``).

    Raises:
        IngestError: bad input (:func:`read_labeledin`), an unknown split, no labels.
    """
    from ingest.text.evaluation import LabelScore
    from ingest.text.relation_eval import ExtractionScores, Row

    root = Path(data)
    folder = root.parent if root.is_file() else root
    if split not in ("validation", "train", "all"):
        raise IngestError(f"split {split!r}, expected validation, train or all", str(data))
    labels = [d for d in read_labeledin(folder) if split == "all" or held_out(d.id) == (split == "validation")][:limit]
    if not labels:
        raise IngestError("no labels to evaluate", str(data))
    c = _treats_counts(nlp, labels, progress)
    rows = [Row("TREATS", "pipeline (end to end)", LabelScore(*c["all"])),
            Row("TREATS", "pipeline, asserted only", LabelScore(*c["asserted"])),
            Row("TREATS", "ref: pipeline mentions, same sentence", LabelScore(*c["ref"]))]
    n_gold = c["asserted"][0] + c["asserted"][2]
    scores = ExtractionScores("labeledin", str(data), len(labels), len(labels), {"TREATS": n_gold}, rows)
    scores.notes.append("TREATS scored per label: the annotated indications (UMLS CUIs) a TREATS relation reaches through "
                        "a disease mention overlapping them; a TREATS to a disease mention overlapping none is a false "
                        f"positive (once per label and text); split {split!r} of sha256(label id) % 100 < {HELD_OUT_PERCENT}")
    return scores


def _indications_at(d: LabelDoc, span: tuple[int, int]) -> set[str]:
    """The CUIs of the annotated indications of ``d`` that overlap the character ``span``."""
    return {c for a, b, cs in d.indications if _overlaps((a, b), span) for c in cs.split(";")}


def _treats_counts(nlp: Language, labels: Sequence[LabelDoc], progress: bool | None = None) -> dict[str, tuple[int, int, int]]:
    """One pipeline pass over ``labels``: ``(tp, fp, fn)`` of the asserted ``TREATS`` relations (``asserted``), of
    all of them (``all``) and of the same-sentence reference (``ref``); see :func:`treats_end_to_end`."""
    from tqdm import tqdm

    from ingest.text.pipeline import doc_records
    from ingest.text.records import Document

    counts = {k: [0, 0, 0] for k in ("asserted", "all", "ref")}

    def add(key: str, gold: set[str], found: set[str], wrong: set[str]) -> None:
        c = counts[key]
        c[0] += len(found & gold)
        c[1] += len(wrong)
        c[2] += len(gold - found)

    docs = tqdm(nlp.pipe(d.text for d in labels), total=len(labels), unit="label", desc="pipeline",
                disable=not progress if progress is not None else None)
    for d, doc in zip(labels, docs):
        rec = doc_records(doc, Document(id=d.id, text=d.text), getattr(nlp, "medkg_cached_ents", False))
        gold = {c for _, _, cs in d.indications for c in cs.split(";")}
        for key, asserted_only in (("asserted", True), ("all", False)):
            found: set[str] = set()
            wrong: set[str] = set()
            for r in rec.relations:
                if r.type != "TREATS" or (asserted_only and not r.asserted):
                    continue
                span = (r.evidence.object_start, r.evidence.object_end)
                cuis = _indications_at(d, span)
                if cuis:
                    found |= cuis
                else:
                    wrong.add(d.text[span[0] : span[1]].lower())
            add(key, gold, found, wrong)
        drugs_by_sent = {s.start for s in doc.sents for e in s.ents if e.label_ == "Drug"}
        ref_found: set[str] = set()
        ref_wrong: set[str] = set()
        for e in doc.ents:
            if e.label_ != "Disease" or e.sent.start not in drugs_by_sent:
                continue
            cuis = _indications_at(d, (e.start_char, e.end_char))
            if cuis:
                ref_found |= cuis
            else:
                ref_wrong.add(e.text.lower())
        add("ref", gold, ref_found, ref_wrong)
    return {k: (c[0], c[1], c[2]) for k, c in counts.items()}


def treats_end_to_end(nlp: Language, labels: Sequence[LabelDoc], progress: bool | None = None) -> dict[str, Any]:
    """The whole pipeline on each held-out label: the indications it finds (asserted ``TREATS`` relations whose
    disease mention overlaps an annotated indication, by CUI) against the annotated ones; a ``TREATS`` to
    a disease mention overlapping no indication is a false positive (by its text, once per label). The
    reference: every Disease mention sharing a sentence with a Drug mention."""
    c = _treats_counts(nlp, labels, progress)
    return {"labels": len(labels), "indications": c["asserted"][0] + c["asserted"][2], "pipeline": _prf(*c["asserted"]),
            "ref_same_sentence": _prf(*c["ref"])}


# --------------------------------------------------------------------------- main


def _features(examples: Iterable[tuple[Doc, Span, Span, int]]) -> list[Example]:
    return [(pair_features(doc, *sorted((s, o), key=lambda x: x.start)), y) for doc, s, o, y in examples]


def main(argv: list[str] | None = None) -> None:
    from ingest.text.components.relations import default_relation_models, load_relation_models
    from ingest.text.pipeline import load_pipeline
    from ingest.text.relation_training import _blank, fit

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labeledin", required=True, help="LabeledIn folder (LabeledIn_annotated_XML.txt ...)")
    ap.add_argument("--euadr", required=True, help="EU-ADR folder (EUADR_target_disease.csv)")
    ap.add_argument("--bc5cdr-train", required=True, help="BC5CDR train PubTator (CID pairs: TREATS negatives)")
    ap.add_argument("--bc5cdr-dev", default=None, help="BC5CDR dev PubTator: how often a CID pair is called TREATS")
    ap.add_argument("--ade", default=None, help="ADE corpus v2 folder (drug -> adverse effect pairs: TREATS negatives)")
    ap.add_argument("--indications", default=None, help="PharmacotherapyDB indications.tsv: distantly labelled TREATS "
                    "positives in BC5CDR train and ADE-NEG abstracts' sentences (abstract-style statements LabeledIn lacks)")
    ap.add_argument("--distant-repeat", type=int, default=3, help="weight (repetitions) of the distant positives")
    ap.add_argument("--euadr-drug-disease-check", action="store_true",
                    help="also report how many EU-ADR drug-disease associations (mostly treatments, some adverse) each decides TREATS")
    ap.add_argument("--output", required=True, help="folder for relations-treats-*.json / relations-associates-*.json")
    ap.add_argument("--c", type=float, default=0.5)
    ap.add_argument("--only", default="TREATS,ASSOCIATES")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    if only - {"TREATS", "ASSOCIATES"}:
        ap.error("--only: TREATS and/or ASSOCIATES")
    t0 = time.time()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    blank = _blank()
    shipped = load_relation_models({k: v for k, v in default_relation_models().items() if k not in ("TREATS", "ASSOCIATES")})
    report: dict[str, Any] = {}
    if "TREATS" in only:
        nlp = load_pipeline()
        labels = read_labeledin(args.labeledin)
        train_l = [d for d in labels if not held_out(d.id)]
        test_l = [d for d in labels if held_out(d.id)]
        with nlp.select_pipes(disable=[n for n in ("relations",) if n in nlp.pipe_names]):
            docs = {d.id: label_doc(nlp, d, doc) for d, doc in zip(labels, nlp.pipe(d.text for d in labels))}
        train_ex = list(treats_examples(docs[d.id] for d in train_l))
        test_ex = list(treats_examples(docs[d.id] for d in test_l))
        extra = list(cid_negative_examples(args.bc5cdr_train, blank))
        if args.ade:
            extra += list(ade_negative_examples(args.ade, blank))
        distant: list[tuple[Doc, Span, Span, int]] = []
        dev_distant: list[tuple[Doc, Span, Span, int]] = []
        if args.indications:
            from ingest.text.readers import ReadStats, read_documents

            indications = read_indications(args.indications)
            plain = load_pipeline(ner=False, gene_ner=False)
            texts = [d.text for d in read_documents(args.bc5cdr_train, "pubtator", stats=ReadStats())]
            texts += ade_negative_sentences(args.ade) if args.ade else []
            with plain.select_pipes(disable=[n for n in ("relations",) if n in plain.pipe_names]):
                distant = list(distant_examples(plain.pipe(texts, batch_size=64), indications))
                if args.bc5cdr_dev:
                    dev_texts = [d.text for d in read_documents(args.bc5cdr_dev, "pubtator", stats=ReadStats())]
                    dev_distant = list(distant_examples(plain.pipe(dev_texts, batch_size=64), indications))
        meta = {"type": "TREATS", "version": "0.1.0", "c": args.c, "extractor_version": EXTRACTOR_VERSION,
                "trained_on": f"LabeledIn, the {100 - HELD_OUT_PERCENT}% of labels with sha256(label id) % 100 >= {HELD_OUT_PERCENT} "
                "(accurate-pipeline mentions, annotated indications positive, other diseases negative); BC5CDR train CID pairs"
                + (" and ADE v2 drug-adverse effect pairs" if args.ade else "") + " as negatives"}
        if distant:
            meta["trained_on"] += (f"; {len(distant)} distantly labelled positives (x{args.distant_repeat}): same-sentence pairs of "
                                   "PharmacotherapyDB indications in BC5CDR train and ADE-NEG sentences")
        model = fit(_features(train_ex) + _features(extra) + _features(distant) * max(1, args.distant_repeat), args.c, meta)
        rule = RelationExtractor(shipped)
        learned = RelationExtractor({**shipped, "TREATS": model})
        rep: dict[str, Any] = {"train_labels": len(train_l), "held_out_labels": len(test_l), "train_pairs": len(train_ex),
                               "train_pos": sum(y for *_, y in train_ex), "negatives_from_other_corpora": len(extra),
                               "held_out_pairs": len(test_ex), "held_out_pos": sum(y for *_, y in test_ex),
                               "held_out_pair_level": {"trigger_rule": score_step(rule, test_ex, "TREATS"), "model": score_step(learned, test_ex, "TREATS")}}
        if args.bc5cdr_dev:
            dev = list(cid_negative_examples(args.bc5cdr_dev, blank))
            rep["bc5cdr_dev_cid_pairs_called_treats"] = {
                "pairs": len(dev), "trigger_rule": score_step(rule, dev, "TREATS")["fp"], "model": score_step(learned, dev, "TREATS")["fp"]}
        if dev_distant:
            rep["bc5cdr_dev_known_indications_called_treats"] = {
                "pairs": len(dev_distant), "trigger_rule": score_step(rule, dev_distant, "TREATS")["tp"],
                "model": score_step(learned, dev_distant, "TREATS")["tp"]}
        if args.euadr_drug_disease_check:
            assoc = list(euadr_drug_disease_examples(Path(args.euadr) / "EUADR_drug_disease.csv", blank))
            rep["euadr_drug_disease_called_treats"] = {
                "positive_associations": sum(y for *_, y in assoc), "other": sum(1 - y for *_, y in assoc),
                **{name: {"positive": sc["tp"], "other": sc["fp"]}
                   for name, sc in (("trigger_rule", score_step(rule, assoc, "TREATS")), ("model", score_step(learned, assoc, "TREATS")))}}
        e2e = {}
        step: RelationExtractor = nlp.get_pipe("relations")  # type: ignore[assignment]
        for name, swapped in (("trigger_rule", None), ("model", model)):
            step.set_model("TREATS", swapped)  # the same pipeline, the TREATS decision swapped
            e2e[name] = treats_end_to_end(nlp, test_l)
        rep["held_out_end_to_end"] = e2e
        model.meta["held_out"] = rep
        model.save(out / MODEL_FILES["TREATS"])
        report["TREATS"] = rep
    if "ASSOCIATES" in only:
        pairs = read_euadr(Path(args.euadr) / "EUADR_target_disease.csv")
        tr = [p for p in pairs if not held_out(p.pmid)]
        te = [p for p in pairs if held_out(p.pmid)]
        train_ex = list(euadr_examples(tr, blank))
        test_ex = list(euadr_examples(te, blank))
        meta = {"type": "ASSOCIATES", "version": "0.1.0", "c": args.c, "extractor_version": EXTRACTOR_VERSION,
                "trained_on": f"EU-ADR target-disease sentences with sha256(pmid) % 100 >= {HELD_OUT_PERCENT} (PA/SA positive, NA/FA negative)"}
        model = fit(_features(train_ex), args.c, meta)
        rule = RelationExtractor(shipped)
        learned = RelationExtractor({**shipped, "ASSOCIATES": model})
        rep = {"train_pairs": len(train_ex), "train_pos": sum(y for *_, y in train_ex), "held_out_pairs": len(test_ex),
               "held_out_pos": sum(y for *_, y in test_ex),
               "held_out_pair_level": {"trigger_rule": score_step(rule, test_ex, "ASSOCIATES"), "model": score_step(learned, test_ex, "ASSOCIATES"),
                                       "every_pair": _prf(sum(y for *_, y in test_ex), sum(1 - y for *_, y in test_ex), 0)}}
        model.meta["held_out"] = rep
        model.save(out / MODEL_FILES["ASSOCIATES"])
        report["ASSOCIATES"] = rep
    report["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
