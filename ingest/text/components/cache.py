"""Per-document token caches and entity helpers shared by the medkg components.

Components read tokens through arrays (``doc.to_array``) rather than Token
objects, and pass entities around as ``(start, end, label, kb_id)`` tuples
(:data:`EntTuple`). The arrays are computed once per document and kept in
``doc.user_data`` (:func:`doc_cache`); per-mention scores and sources live in one
doc extension, ``doc._.medkg_spans[span_key(start, end)] = (score, source)``, so
they survive ``nlp.pipe(..., n_process=2)``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

import numpy
from spacy.attrs import ENT_IOB, ENT_KB_ID, ENT_TYPE, IDX, LENGTH, ORTH, SENT_START, SPACY
from spacy.tokens import Doc

from ingest.text import tokenizer as _tokenizer
from ingest.text.vocabulary import Vocabulary, default_vocabulary_path

if not Doc.has_extension("medkg_spans"):
    Doc.set_extension("medkg_spans", default=None)


#: an entity as the components pass it around: start and end token, label, KB id ("" if unlinked)
EntTuple = tuple[int, int, str, str]

#: entries each process-wide word cache below may hold before it is emptied: the common
#: words come back within a few documents, and on endless text with new words (rare
#: names) memory stays bounded
CACHE_LIMIT = 100_000
_TEXT_CACHE: dict[int, str] = {}
_LOWER_CACHE: dict[str, str] = {}


def doc_cache(doc: Doc) -> dict[str, Any]:
    """Per-document arrays shared by the medkg components (token texts, offsets, sentences).

    ``doc.to_array`` costs about 0.2 µs per token per call, and each component
    needs the same few arrays, so they are computed once and kept in
    ``doc.user_data`` until :func:`release_cache`, which
    :func:`ingest.text.pipeline.doc_records` calls once it has read them (the
    arrays describe tokens, which no component changes, so they never go stale).
    """
    cache = doc.user_data.get(_tokenizer.CACHE_KEY)
    if cache is None or (cache.get("orth") is not None and len(cache["orth"]) != len(doc)):
        cache = doc.user_data[_tokenizer.CACHE_KEY] = {}
    return cache


def release_cache(doc: Doc) -> None:
    """Drop the shared per-document arrays."""
    doc.user_data.pop(_tokenizer.CACHE_KEY, None)


def token_texts(doc: Doc) -> list[str]:
    """Token texts, through the ORTH hashes and a process-wide hash -> text cache."""
    cache = doc_cache(doc)
    texts = cache.get("texts")
    if texts is not None:
        return texts
    orth = cache.get("orth")
    if orth is None:
        orth = cache["orth"] = doc.to_array(ORTH).tolist()
    strings = doc.vocab.strings
    known = _TEXT_CACHE
    if len(known) > CACHE_LIMIT:
        known.clear()
    get = known.get
    texts = []
    append = texts.append
    for h in orth:
        t = get(h)
        if t is None:
            t = known[h] = strings[h]
        append(t)
    cache["texts"] = texts
    return texts


def token_lowers(doc: Doc) -> list[str]:
    """Lower-cased token texts (cached like :func:`token_texts`)."""
    cache = doc_cache(doc)
    lowers = cache.get("lowers")
    if lowers is not None:
        return lowers
    known = _LOWER_CACHE
    if len(known) > CACHE_LIMIT:
        known.clear()
    lowers = []
    for t in token_texts(doc):
        low = known.get(t)
        if low is None:
            low = known[t] = t.lower()
        lowers.append(low)
    cache["lowers"] = lowers
    return lowers


def token_spaces(doc: Doc) -> list[int]:
    """1 where a token is followed by a space, else 0 (cached like :func:`token_texts`)."""
    cache = doc_cache(doc)
    spaces = cache.get("spaces")
    if spaces is None:
        spaces = cache["spaces"] = doc.to_array(SPACY).tolist() if len(doc) else []
    return spaces


def fast_ents(doc: Doc, cached: bool = False) -> list[EntTuple]:
    """``(start, end, label, kb_id)`` of ``doc.ents``, read from arrays (``doc.ents`` builds Token objects).

    With ``cached``, the list that :func:`write_ents` (or an earlier cached read)
    left in the document's cache is returned as it is (callers must not change
    it). That is only right while no other component changes ``doc.ents``:
    :func:`ingest.text.pipeline.load_pipeline` turns it on (the components'
    ``cached_ents``) only when no foreign component follows the medkg ones.
    """
    if cached:
        hit = doc_cache(doc).get("ents")
        if hit is not None:
            return hit
    ents = _ents_from_arrays(doc)
    if cached:
        doc_cache(doc)["ents"] = ents
    return ents


def _ents_from_arrays(doc: Doc) -> list[EntTuple]:
    n = len(doc)
    if n == 0:
        return []
    arr = doc.to_array([ENT_IOB, ENT_TYPE, ENT_KB_ID])
    iob = arr[:, 0]
    starts = numpy.flatnonzero(iob == 3)
    if len(starts) == 0:
        return []
    outside = numpy.flatnonzero(iob != 1)  # an entity ends at the first non-"I" token after its "B"
    pos = numpy.searchsorted(outside, starts, side="right")
    ends = numpy.where(pos < len(outside), outside[numpy.minimum(pos, len(outside) - 1)], n)
    strings = doc.vocab.strings
    types = arr[starts, 1].tolist()
    kbs = arr[starts, 2].tolist()
    return [(s, e, strings[t], strings[k] if k else "") for s, e, t, k in zip(starts.tolist(), ends.tolist(), types, kbs)]


def doc_text(doc: Doc) -> str:
    """``doc.text``, cached per document and rebuilt from the cached token texts.

    spaCy's ``Doc.text`` creates a ``Token`` per token on every access (about
    1 µs each); this reads the token texts once and the trailing-space flags
    from one array, so components can slice the text freely.
    """
    cache = doc_cache(doc)
    text = cache.get("text")
    if text is None:
        text = cache["text"] = "".join([t + " " if sp else t for t, sp in zip(token_texts(doc), token_spaces(doc))])
    return text


def char_offsets(doc: Doc) -> tuple[list[int], list[int]]:
    """Start character and length of every token (cached per document)."""
    cache = doc_cache(doc)
    off = cache.get("offsets")
    if off is None:
        arr = doc.to_array([IDX, LENGTH])
        off = cache["offsets"] = (arr[:, 0].tolist(), arr[:, 1].tolist())
    return off


def sentence_bounds(doc: Doc) -> list[tuple[int, int]]:
    """``(start, end)`` token ranges of the sentences (one range if none are set)."""
    n = len(doc)
    if n == 0:
        return []
    cache = doc_cache(doc)
    bounds = cache.get("bounds")
    if bounds is not None:
        return bounds
    if not doc.has_annotation("SENT_START"):
        return [(0, n)]
    starts = numpy.flatnonzero(doc.to_array(SENT_START).astype("int64") == 1).tolist()
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = cache["bounds"] = list(zip(starts, starts[1:] + [n]))
    return bounds


def sentence_index(bounds: list[tuple[int, int]], n: int) -> list[int]:
    """Sentence number of every token."""
    out = [0] * n
    for k, (a, b) in enumerate(bounds):
        out[a:b] = [k] * (b - a)
    return out


def span_key(start: int, end: int) -> int:
    """Key of a token span in ``doc._.medkg_spans`` (an int: msgpack, used between processes, needs scalar keys)."""
    return (start << 32) | end


def span_info(doc: Doc) -> dict[int, tuple[float, str]]:
    """``span_key(start, end) -> (score, source)`` of the current entities (created if missing)."""
    info = doc._.medkg_spans
    if info is None:
        info = {}
        doc._.medkg_spans = info
    return info


#: score and source of an entity no medkg component recorded: the statistical NER's
NER_ORIGIN = (0.8, "ner")


def span_origin(info: dict[int, tuple[float, str]], start: int, end: int) -> tuple[float, str]:
    """``(score, source)`` of the entity ``[start, end)`` from :func:`span_info`'s table."""
    return info.get(span_key(start, end), NER_ORIGIN)


@lru_cache(maxsize=4)
def load_vocabulary(path: str = "default") -> Vocabulary:
    """Load (once per process) a vocabulary file; ``"default"`` is the shipped one."""
    return Vocabulary.load(default_vocabulary_path() if path in {"", "default"} else path)


def scored_ent(doc: Doc, start: int, end: int, label: str, kb_id: str, score: float, source: str) -> EntTuple:
    """An entity tuple whose score and source are recorded in :func:`span_info`."""
    span_info(doc)[span_key(start, end)] = (score, source)
    return (start, end, label, kb_id)


def filter_ents(ents: Iterable[EntTuple]) -> list[EntTuple]:
    """:func:`spacy.util.filter_spans` on ``(start, end, label, kb_id)`` tuples, with the same rules.

    Longest first, then leftmost; among equal ranges the first given wins (a stable sort);
    the kept entities come back sorted by start.
    """
    ordered = sorted(ents, key=lambda e: (e[1] - e[0], -e[0]), reverse=True)
    kept = []
    seen: set[int] = set()
    for e in ordered:
        if e[0] not in seen and e[1] - 1 not in seen:
            kept.append(e)
            seen.update(range(e[0], e[1]))
    kept.sort(key=lambda e: e[0])
    return kept


_ENT_ATTRS = [ENT_IOB, ENT_TYPE, ENT_KB_ID]


def write_ents(doc: Doc, ents: list[EntTuple]) -> None:
    """``doc.ents = [Span(doc, s, e, label=l, kb_id=k), ...]`` for non-overlapping entities, without Span objects.

    One ``Doc.from_array`` of the IOB tags, types and KB ids (every other token
    ``O``), which leaves the doc exactly as the ``doc.ents`` setter does (tested)
    at a tenth of the cost: the setter and ``Span`` build Token objects.
    """
    n = len(doc)
    iob = [2] * n
    types = [0] * n
    kbs = [0] * n
    add = doc.vocab.strings.add
    for s, e, label, kb in ents:
        width = e - s
        iob[s] = 3
        if width > 1:
            iob[s + 1 : e] = [1] * (width - 1)
        types[s:e] = [add(label)] * width
        if kb:
            kbs[s:e] = [add(kb)] * width
    doc.from_array(_ENT_ATTRS, numpy.array([iob, types, kbs], dtype="uint64").T.copy())  # type: ignore[arg-type]
    doc_cache(doc)["ents"] = ents  # for fast_ents(doc, cached=True)


def set_ents(doc: Doc, ents: Iterable[EntTuple]) -> None:
    """Keep the longest of overlapping entities (:func:`filter_ents`), set them, forget the dropped ones' scores."""
    kept = filter_ents(ents)
    write_ents(doc, kept)
    info = span_info(doc)
    live = {span_key(e[0], e[1]) for e in kept}
    for key in [k for k in info if k not in live]:
        del info[key]
