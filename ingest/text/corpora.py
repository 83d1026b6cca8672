"""Annotated corpora as spaCy training data.

Reads PubTator or IOB corpora (any label mapped by ``data/labels.toml``),
tokenizes them with the medkg biomedical tokenizer and writes spaCy ``DocBin``
files: fully annotated corpora (:func:`documents_to_docs`), corpora annotated for
some labels only (:class:`PartialCorpus`, :func:`partial_docs`), both together
(:func:`corpus_to_docbin`). :func:`fingerprint` records which files a model was
trained on. Imported by :mod:`ingest.text.multitask` and :mod:`ingest.text.training`,
never the other way round.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.util import filter_spans

from graph_engine.errors import IngestError
from ingest.text import tokenizer as _tokenizer  # noqa: F401  (registers medkg.bio_tokenizer.v1)
from ingest.text.readers import ReadStats, read_documents
from ingest.text.records import Document

#: the error for a training corpus without one annotated mention
NO_MENTIONS = "no annotated mention found: expected a PubTator or IOB corpus with Disease/Chemical/Gene annotations"


def blank_pipeline() -> Language:
    """An empty English pipeline with the medkg biomedical tokenizer."""
    nlp = spacy.blank("en")
    nlp.tokenizer = _tokenizer.make_bio_tokenizer(nlp)
    return nlp


def documents_to_docs(nlp: Language, documents: Iterable[Document], stats: dict[str, int] | None = None) -> Iterator[Doc]:
    """Tokenize documents and set their gold mentions as ``doc.ents``.

    Mentions whose offsets fall inside a token are widened to token boundaries
    (counted in ``stats["expanded"]``); overlapping mentions keep the longest.
    """
    counts = stats if stats is not None else {}
    for d in documents:
        doc = nlp.make_doc(d.text)
        spans = []
        for m in d.gold_mentions:
            span = doc.char_span(m.start, m.end, label=m.label)
            if span is None:
                span = doc.char_span(m.start, m.end, label=m.label, alignment_mode="expand")
                counts["expanded"] = counts.get("expanded", 0) + 1
            if span is not None:
                spans.append(span)
        kept = filter_spans(spans)
        counts["overlapping"] = counts.get("overlapping", 0) + len(spans) - len(kept)
        counts["mentions"] = counts.get("mentions", 0) + len(kept)
        counts["docs"] = counts.get("docs", 0) + 1
        doc.ents = kept
        yield doc


@dataclass(frozen=True)
class PartialCorpus:
    """A training corpus annotated for some labels only (NCBI-disease: Disease; BC2GM: Gene).

    Attributes:
        path: the corpus (PubTator or IOB).
        labels: the labels it annotates; its mentions of them become entities.
        drop_types: corpus annotation types (the type column of a PubTator-style file;
            an IOB corpus has none to drop) that are marked *missing* instead:
            NCBI-disease's ``Modifier`` and ``CompositeMention``, which BC5CDR annotates differently.
    """

    path: Path
    labels: frozenset[str]
    drop_types: frozenset[str] = frozenset()


def _annotation_types(path: str | Path) -> dict[tuple[str, int, int], str]:
    """``(doc id, start, end) -> annotation type`` of a PubTator-style file's mention lines."""
    out: dict[tuple[str, int, int], str] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 5 and cols[1].isdigit() and cols[2].isdigit():
                out[(cols[0], int(cols[1]), int(cols[2]))] = cols[4]
    return out


def partial_docs(nlp: Language, corpus: PartialCorpus, others: Language | None, counts: dict[str, int],
                 stats: ReadStats | None = None) -> Iterator[Doc]:
    """Docs of a partially annotated corpus, for training next to a fully annotated one.

    The corpus never annotated the other labels, so treating everything else as
    "not an entity" would teach the model that the drugs in NCBI-disease are not
    drugs. Tokens are therefore: entities (its mentions of ``corpus.labels``),
    *missing* -- no loss either way -- (mentions of ``corpus.drop_types``, and
    every span that ``others``, a recognising pipeline, labels with any label
    outside ``corpus.labels``), or outside (the rest).
    """
    types = _annotation_types(corpus.path) if corpus.drop_types else {}
    for d in read_documents(corpus.path, stats=stats if stats is not None else ReadStats()):
        doc = nlp.make_doc(d.text)
        ents, missing = [], []
        for m in d.gold_mentions:
            if m.label not in corpus.labels:
                continue
            span = doc.char_span(m.start, m.end, label=m.label, alignment_mode="expand")
            if span is None:
                continue
            if types.get((d.id, m.start, m.end)) in corpus.drop_types:
                missing.append(span)
            else:
                ents.append(span)
        ents = filter_spans(ents)
        if others is not None:
            for e in others(d.text).ents:
                if e.label_ not in corpus.labels:
                    span = doc.char_span(e.start_char, e.end_char, alignment_mode="expand")
                    if span is not None:
                        missing.append(span)
        taken = {i for e in ents for i in range(e.start, e.end)}
        # a span that overlaps an annotated entity stays as it is (the annotation wins)
        unknown = sorted({i for span in missing if not taken.intersection(range(span.start, span.end))
                          for i in range(span.start, span.end)})
        doc.set_ents(ents, missing=[doc[i:i + 1] for i in unknown], default="outside")
        counts["partial_docs"] = counts.get("partial_docs", 0) + 1
        counts["partial_mentions"] = counts.get("partial_mentions", 0) + len(ents)
        counts["partial_missing_tokens"] = counts.get("partial_missing_tokens", 0) + len(unknown)
        yield doc


def corpus_to_docbin(path: str | Path, output: str | Path, fmt: str | None = None, *, repeat: int = 1,
                     partial: Iterable[PartialCorpus] = (), others: Language | None = None) -> dict[str, Any]:
    """Convert an annotated corpus file to a ``.spacy`` file; returns conversion counts.

    Args:
        repeat: add every document of ``path`` this many times (weights it against ``partial``).
        partial: partially annotated corpora added once each (:func:`partial_docs`).
        others: the pipeline that finds the labels a partial corpus does not annotate.

    Raises:
        IngestError: the corpus is unreadable or has no annotated mention.
    """
    nlp = blank_pipeline()
    read = ReadStats()
    counts: dict[str, int] = {}
    db = DocBin(store_user_data=False)
    labels: dict[str, int] = {}
    for doc in documents_to_docs(nlp, read_documents(path, fmt, stats=read), counts):
        for _ in range(repeat):
            db.add(doc)
        for ent in doc.ents:
            labels[ent.label_] = labels.get(ent.label_, 0) + 1
    if not labels:
        raise IngestError(NO_MENTIONS, str(path))
    for corpus in partial:
        for doc in partial_docs(nlp, corpus, others, counts, stats=read):
            db.add(doc)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(output)
    return {**counts, "labels": labels, "rejected": read.rejected, "warnings": len(read.warnings),
            **({"repeat": repeat} if repeat != 1 else {})}


def corpus_labels(path: str | Path, fmt: str | None = None) -> frozenset[str]:
    """The labels of an annotated corpus's mentions.

    Raises:
        IngestError: the corpus has no annotated mention.
    """
    labels = frozenset(m.label for d in read_documents(path, fmt, stats=ReadStats()) for m in d.gold_mentions)
    if not labels:
        raise IngestError(NO_MENTIONS, str(path))
    return labels


def fingerprint(paths: Iterable[str | Path]) -> dict[str, str]:
    """SHA-256 of each file, keyed by file name (recorded with a trained model)."""
    out = {}
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        out[Path(p).name] = h.hexdigest()
    return out
