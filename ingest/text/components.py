"""spaCy components of the medkg extraction pipeline, registered by versioned name.

=========================  ===================================================
factory                    what it does
=========================  ===================================================
``medkg_dictionary_v1``    longest-match dictionary recogniser over the
                           vocabulary (names + synonyms), sets ``doc.ents``
                           with the entity id in ``kb_id_``
``medkg_abbreviations_v1`` Schwartz-Hearst ``long form (SF)`` detection; every
                           later ``SF`` gets the long form's label and id
``medkg_linker_v1``        links mentions without an id by normalised exact /
                           synonym match; unlinked mentions keep ``kb_id_ == ""``
``medkg_negation_v1``      negation and speculation cues with their scope
``medkg_relations_v1``     sentence-level typed relations between linked
                           mentions (``doc._.medkg_relations``)
=========================  ===================================================

Per-mention scores and sources live in one doc extension,
``doc._.medkg_spans[span_key(start, end)] = (score, source)``, so they survive
``nlp.pipe(..., n_process=2)``. Components read tokens through arrays
(``doc.to_array``) rather than Token objects: they run at hundreds of thousands
of tokens per second.
"""

from __future__ import annotations

import bisect
import json
import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import numpy
from spacy.attrs import ENT_IOB, ENT_KB_ID, ENT_TYPE, IDX, LENGTH, ORTH, SENT_START, SPACY
from spacy.language import Language
from spacy.tokens import Doc, Span

from graph_engine.errors import ModelError
from ingest.text import tokenizer as _tokenizer
from ingest.text.vocabulary import SKIP_TOKENS, Vocabulary, default_vocabulary_path, norm_token

EXTRACTOR = "medkg.relations"
EXTRACTOR_VERSION = "0.1.0"

for _name in ("medkg_cues", "medkg_relations", "medkg_spans"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)

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


def _ent(doc: Doc, start: int, end: int, label: str, kb_id: str, score: float, source: str) -> EntTuple:
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


def _set_ents(doc: Doc, ents: Iterable[EntTuple]) -> None:
    """Keep the longest of overlapping entities (:func:`filter_ents`), set them, forget the dropped ones' scores."""
    kept = filter_ents(ents)
    write_ents(doc, kept)
    info = span_info(doc)
    live = {span_key(e[0], e[1]) for e in kept}
    for key in [k for k in info if k not in live]:
        del info[key]


# --------------------------------------------------------------------------- dictionary


class DictionaryRecognizer:
    """Longest-match recogniser over normalised token keys (see :mod:`ingest.text.vocabulary`).

    Scans left to right; at each token it extends the key while it is a prefix
    of some name, remembers the longest full name, and jumps past it. Cost is
    about one dict lookup per token, so it runs at hundreds of thousands of
    words per second.
    """

    def __init__(self, vocab: Vocabulary, labels: Iterable[str] | None = None, overwrite: bool = False, max_tokens: int = 16, mode: str = "fill") -> None:
        self.vocab = vocab
        self.mode = mode
        self.labels = set(labels) if labels else None
        self.overwrite = overwrite
        self.max_tokens = max_tokens
        self.prefixes: set[tuple[str, ...]] = set()
        for key in vocab.keys:
            for i in range(1, len(key) + 1):
                self.prefixes.add(key[:i])
        self.cased_prefixes: set[tuple[str, ...]] = set()
        for key in vocab.cased:
            for i in range(1, len(key) + 1):
                self.cased_prefixes.add(key[:i])
        self.first = {k[0] for k in vocab.keys}
        self.cased_first = {k[0] for k in vocab.cased}
        self._norm_cache: dict[str, str] = {}
        # entry index -> its name and synonyms lower-cased without spaces (filled as entries are met)
        self._squashed: dict[int, tuple[str, frozenset[str]]] = {}

    def _norm(self, text: str) -> str:
        cache = self._norm_cache
        v = cache.get(text)
        if v is None:
            v = "" if text.lower() in SKIP_TOKENS else norm_token(text)
            if len(cache) > CACHE_LIMIT:
                cache.clear()
            cache[text] = v
        return v

    def matches(self, doc: Doc) -> list[tuple[int, int, int, bool, bool]]:
        """``(start, end, entry index, preferred-name flag, cased)`` of the longest matches."""
        texts = token_texts(doc)
        cache = self._norm_cache
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        get = cache.get
        norms = []
        for t in texts:
            v = get(t)
            if v is None:
                v = cache[t] = "" if t.lower() in SKIP_TOKENS else norm_token(t)
            norms.append(v)
        n = len(texts)
        keys, cased, prefixes, cprefixes = self.vocab.keys, self.vocab.cased, self.prefixes, self.cased_prefixes
        first, cased_first = self.first, self.cased_first
        out = []
        end = 0  # matches never overlap: a start inside the last match is skipped
        # only tokens that can start a name (about one in five) are tried
        for i in [k for k, (v, t) in enumerate(zip(norms, texts)) if v in first or t in cased_first]:
            if i < end:
                continue
            best: tuple[int, tuple[int, bool], bool] | None = None
            if norms[i] in first:
                key: tuple[str, ...] = ()
                j = i
                while j < n and j - i < self.max_tokens:
                    if not norms[j]:
                        j += 1
                        continue
                    key = key + (norms[j],)
                    if key not in prefixes:
                        break
                    hit = keys.get(key)
                    if hit is not None:
                        best = (j + 1, hit, False)
                    j += 1
            if texts[i] in cased_first:
                ckey: tuple[str, ...] = ()
                j = i
                while j < n and j - i < self.max_tokens:
                    ckey = ckey + (texts[j],)
                    if ckey not in cprefixes:
                        break
                    hit = cased.get(ckey)
                    if hit is not None and (best is None or j + 1 > best[0]):
                        best = (j + 1, hit, True)
                    j += 1
            if best is None:
                continue
            end, (idx, preferred), was_cased = best
            out.append((i, end, idx, preferred, was_cased))
        return out

    def __call__(self, doc: Doc) -> Doc:
        found = self.matches(doc)
        if not found:
            return doc
        spans: list[EntTuple] = []
        entries = self.vocab.entries
        texts = token_texts(doc)
        info = span_info(doc)
        squashed = self._squashed
        for start, end, e_idx, preferred, was_cased in found:
            e = entries[e_idx]
            if self.labels is not None and e.label not in self.labels:
                continue
            # written like the name up to spacing: "Alzheimer's disease" == "Alzheimer 's disease"
            low = "".join(texts[start:end]).lower()
            forms = squashed.get(e_idx)
            if forms is None:
                forms = squashed[e_idx] = (e.name.replace(" ", "").lower(), frozenset(x.replace(" ", "").lower() for x in e.synonyms))
            exact = low == forms[0] if preferred else low in forms[1]
            info[span_key(start, end)] = ((1.0 if preferred else 0.95) if exact else 0.9, "dictionary")
            spans.append((start, end, e.label, e.id))
        if self.overwrite or not doc.has_annotation("ENT_IOB"):
            write_ents(doc, filter_ents(spans))
        elif self.mode == "longest":
            # existing (NER) entities and dictionary matches compete: the longer span wins,
            # on equal spans the dictionary's (it carries an id)
            _set_ents(doc, spans + fast_ents(doc))
        else:
            existing = fast_ents(doc)
            _set_ents(doc, existing + [s for s in spans if not any(s[0] < x[1] and x[0] < s[1] for x in existing)])
        return doc


@Language.factory(
    "medkg_dictionary_v1",
    default_config={"vocabulary": "default", "labels": ["Disease", "Drug", "Gene"], "overwrite": False, "mode": "fill"},
)
def make_dictionary(nlp: Language, name: str, vocabulary: str, labels: list[str], overwrite: bool, mode: str) -> DictionaryRecognizer:
    """Dictionary recogniser over a vocabulary TSV (``"default"``: the shipped one).

    ``mode`` decides what happens to entities already set by earlier components:
    ``"fill"`` keeps them and adds only non-overlapping matches; ``"longest"`` lets
    the longer span win (the dictionary's on ties).
    """
    if mode not in {"fill", "longest"}:
        raise ModelError(f"[components.dictionary] mode = {mode!r}: expected \"fill\" or \"longest\"")
    return DictionaryRecognizer(load_vocabulary(vocabulary), labels, overwrite, mode=mode)


# --------------------------------------------------------------------------- span repair

_OPEN = {"(": ")", "[": "]"}
_CLOSE = {")", "]"}


def balanced_range(texts: list[str], start: int, end: int) -> tuple[int, int]:
    """Shrink the token range ``[start, end)`` until its bracket tokens are balanced.

    An unmatched closing bracket at the edge is dropped; an unmatched opening
    bracket cuts the span before it (or is dropped when it is the first token).
    Returns ``(start, end)``; an empty range means nothing balanced is left.
    """
    for _ in range(4):
        stack: list[int] = []
        bad = None
        for i in range(start, end):
            t = texts[i]
            if t in _OPEN:
                stack.append(i)
            elif t in _CLOSE:
                if stack and _OPEN[texts[stack[-1]]] == t:
                    stack.pop()
                else:
                    bad = i
                    break
        if bad is None and not stack:
            return start, end
        if bad is not None:  # a closer without opener
            if bad == start:
                start += 1
            else:
                end = bad
        else:
            j = stack[0]
            if j == start:
                start += 1
            else:
                end = j
        if start >= end:
            return start, start
    return start, end


class SpanRepair:
    """Boundary fixes for entities from any recogniser (BC5CDR-style conventions).

    - brackets: gold mentions never have unbalanced brackets, so a span such as
      ``3alpha-hydroxy-5alpha-pregnan-20-one)`` loses the stray ``)`` and
      ``serotonin type 6 (5-HT`` is cut before the ``(`` (0 of 9,385 BC5CDR
      training mentions are unbalanced);
    - compound codes: a short capitalised Drug mention glued to ``-<digits>``
      (``PG`` in ``PG-9``, ``MK`` in ``MK-801``) is extended over the code.
      Lower-case names keep their isotope suffix out (``thallium-201``), as the
      annotation does.
    """

    #: read entities through the document cache (set by load_pipeline when that is safe)
    cached_ents = False

    def __call__(self, doc: Doc) -> Doc:
        ents = fast_ents(doc, self.cached_ents)
        if not ents:
            return doc
        texts = token_texts(doc)
        n = len(texts)
        info = span_info(doc)
        starts = {s for s, _, _, _ in ents}
        new_ranges = []
        for s, e, label, kb in ents:
            s2, e2 = s, e
            if (label == "Drug" and e - s == 1 and e + 1 < n and texts[e] == "-" and e + 1 not in starts
                    and _is_code_head(texts[s]) and texts[e + 1].isalnum() and any(c.isdigit() for c in texts[e + 1])
                    and not doc[s].whitespace_ and not doc[e].whitespace_):
                e2 = e + 2
            new_ranges.append(balanced_range(texts, s2, e2))
        if all(r == (ent[0], ent[1]) for r, ent in zip(new_ranges, ents)):
            return doc  # the common case: no Span objects built, entities untouched
        out: list[EntTuple] = []
        for (s, e, label, kb), (s2, e2) in zip(ents, new_ranges):
            if (s2, e2) == (s, e):
                out.append((s, e, label, kb))
            elif e2 > s2:
                score, source = span_origin(info, s, e)
                out.append(_ent(doc, s2, e2, label, kb, score, source))
        _set_ents(doc, out)
        return doc


def _is_code_head(t: str) -> bool:
    """``PG``, ``MK``, ``ACC``, ``WR``: 1-5 letters, starting with a capital, mostly capitals."""
    return 1 <= len(t) <= 5 and t.isalpha() and t[0].isupper() and sum(c.isupper() for c in t) * 2 >= len(t)


@Language.factory("medkg_span_repair_v1")
def make_span_repair(nlp: Language, name: str) -> SpanRepair:
    """Entity boundary repair: unbalanced brackets, split compound codes (``PG-9``)."""
    return SpanRepair()


# --------------------------------------------------------------------------- abbreviations


def _sh_long_form(short: str, words: list[str]) -> int | None:
    """Schwartz & Hearst (2003): index into ``words`` where the long form starts, or None."""
    candidate = " ".join(words)
    s_i = len(short) - 1
    l_i = len(candidate) - 1
    while s_i >= 0:
        c = short[s_i].lower()
        if not c.isalnum():
            s_i -= 1
            continue
        while l_i >= 0 and (candidate[l_i].lower() != c or (s_i == 0 and l_i > 0 and candidate[l_i - 1].isalnum())):
            l_i -= 1
        if l_i < 0:
            return None
        l_i -= 1
        s_i -= 1
    start_char = candidate.rfind(" ", 0, l_i + 1) + 1
    # map the character position back to a word index
    pos = 0
    for k, w in enumerate(words):
        if pos >= start_char:
            return k
        pos += len(w) + 1
    return None


def _range_text(doc: Doc, start: int, end: int) -> str:
    """``doc[start:end].text`` for a short range, from the cached token texts (no Span, no Token objects)."""
    texts, spaces = token_texts(doc), token_spaces(doc)
    return "".join([texts[i] + " " if spaces[i] and i < end - 1 else texts[i] for i in range(start, end)])


def abbreviation_ranges(doc: Doc) -> list[tuple[int, int, int, int]]:
    """``(long start, long end, short start, short end)`` token ranges of ``long form (SF)`` patterns."""
    out: list[tuple[int, int, int, int]] = []
    texts = token_texts(doc)
    if "(" not in texts:
        return out
    n = len(texts)
    bounds = sentence_bounds(doc)
    sid = sentence_index(bounds, n)
    for k, t in enumerate(texts):
        if t != "(":
            continue
        close = next((j for j in range(k + 1, min(n, k + 6)) if texts[j] == ")"), None)
        if close is None or close == k + 1:
            continue
        sf = _range_text(doc, k + 1, close)
        if close - k - 1 > 3 or not _short_form_like(sf) or not any(c.isalpha() for c in sf):
            continue
        sent_start = bounds[sid[k]][0]
        max_words = min(len(sf) + 5, len(sf) * 2)
        lo = k
        words = 0
        while lo > sent_start and words < max_words:
            lo -= 1
            if texts[lo].isalnum() or len(texts[lo]) > 1:
                words += 1
        if lo >= k:
            continue
        w = _sh_long_form(sf, texts[lo:k])
        if w is None:
            continue
        if len(_range_text(doc, lo + w, k)) <= len(sf):
            continue
        out.append((lo + w, k, k + 1, close))
    return out


def find_abbreviations(doc: Doc) -> list[tuple[Span, Span]]:
    """``(long form span, short form span)`` pairs for ``long form (SF)`` patterns."""
    return [(doc[a:b], doc[c:d]) for a, b, c, d in abbreviation_ranges(doc)]


class AbbreviationResolver:
    """Give every occurrence of a short form the label and id of its long form.

    The long form's label/id comes from the entity that spans exactly the long form
    (found by the dictionary or the NER), else from a vocabulary lookup of it.
    """

    #: read entities through the document cache (set by load_pipeline when that is safe)
    cached_ents = False

    def __init__(self, vocab: Vocabulary | None) -> None:
        self.vocab = vocab

    def __call__(self, doc: Doc) -> Doc:
        texts = token_texts(doc)
        if "(" not in texts:
            return doc
        pairs = abbreviation_ranges(doc)
        ents = fast_ents(doc, self.cached_ents)
        info = span_info(doc)
        by_end = {e[1]: e for e in ents}
        defs: dict[str, tuple[str, str, float]] = {}
        firsts: dict[str, str] = {}  # short form -> its first token's text
        new_long: list[EntTuple] = []
        for l_start, l_end, s_start, s_end in pairs:
            ent = by_end.get(l_end)
            short = _range_text(doc, s_start, s_end)
            firsts.setdefault(short, texts[s_start])
            if ent is not None and ent[0] >= l_start:  # S&H long forms may start a word early
                defs.setdefault(short, (ent[2], ent[3], span_origin(info, ent[0], ent[1])[0]))
            elif self.vocab is not None:
                hit = self.vocab.lookup(_range_text(doc, l_start, l_end))
                if hit is not None:
                    entry, conf = hit
                    defs.setdefault(short, (entry.label, entry.id, conf))
                    new_long.append(_ent(doc, l_start, l_end, entry.label, entry.id, conf, "dictionary"))
        # "entity (SF)" where Schwartz-Hearst found no letter match ("ifosfamide (IFX)"):
        # in BC5CDR training text such a short form has the entity's label 90 % of the time
        for ent in ents:
            sf = _adjacent_short_form(doc, texts, ent[1])
            if sf is not None and sf not in defs:
                score = span_origin(info, ent[0], ent[1])[0]
                defs[sf] = (ent[2], ent[3], round(score * 0.9, 4))
                firsts[sf] = texts[ent[1] + 1]
        if not defs:
            return doc
        # short forms grouped by their first token, so each token is compared with its own
        # candidates only (linear in the document, not tokens x short forms)
        by_first: dict[str, list[tuple[str, tuple[str, str, float]]]] = {}
        for sf, d in defs.items():
            by_first.setdefault(firsts[sf], []).append((sf, d))
        spans: list[EntTuple] = []
        text = doc_text(doc)
        idx, length = char_offsets(doc)
        n = len(texts)
        for i, t in enumerate(texts):
            cands = by_first.get(t)
            if cands is None:
                continue
            for sf, (label, kb, score) in cands:
                end_char = idx[i] + len(sf)
                if text[idx[i] : end_char] == sf:
                    # as doc.char_span(idx[i], end_char): the occurrence must end where a token ends
                    j = i
                    while j < n - 1 and idx[j] + length[j] < end_char:
                        j += 1
                    if idx[j] + length[j] == end_char:
                        spans.append(_ent(doc, i, j + 1, label, kb, round(score * 0.95, 4), "abbreviation"))
        # abbreviation spans replace whatever overlapped them (e.g. a wrong NER label)
        covered = bytearray(len(doc))
        for sp in spans:
            covered[sp[0] : sp[1]] = b"\x01" * (sp[1] - sp[0])
        kept = [e for e in ents + new_long if not any(covered[e[0] : e[1]])]
        _set_ents(doc, kept + spans)
        return doc


def _adjacent_short_form(doc: Doc, texts: list[str], end: int) -> str | None:
    """The ``SF`` of ``<entity ending at end> (SF)``.

    ``SF``: 1-3 tokens without spaces (``IFX``, ``ACC-9089``), 2-10 characters,
    with a capital letter and no maths (``P=0.39``, ``SO2<90%``).
    """
    if end + 2 >= len(texts) or texts[end] != "(":
        return None
    close = next((j for j in range(end + 2, min(len(texts), end + 5)) if texts[j] == ")"), None)
    if close is None:
        return None
    sf = _range_text(doc, end + 1, close)
    if not _short_form_like(sf) or " " in sf or not any(c.isupper() for c in sf) or any(c in sf for c in "/()[]"):
        return None
    return sf


def _short_form_like(sf: str) -> bool:
    """2-10 characters starting with a letter or digit, no maths: ``(n = 2)``, ``(P<0.05)`` are statistics."""
    return 2 <= len(sf) <= 10 and sf[0].isalnum() and not any(c in sf for c in "=<>%")


@Language.factory("medkg_abbreviations_v1", default_config={"vocabulary": "default"})
def make_abbreviations(nlp: Language, name: str, vocabulary: str) -> AbbreviationResolver:
    """Schwartz-Hearst abbreviation resolver (``vocabulary`` resolves long forms no recogniser found)."""
    return AbbreviationResolver(load_vocabulary(vocabulary) if vocabulary else None)


# --------------------------------------------------------------------------- linker


class Linker:
    """Link every mention without an id to a vocabulary entry of the same label.

    Confidence is the lookup confidence (1.0 preferred name, 0.95 synonym, 0.9
    normalised match) times 0.9 for NER mentions; unlinked NER mentions keep an
    empty id and score ``unlinked_score``.
    """

    #: read entities through the document cache (set by load_pipeline when that is safe)
    cached_ents = False

    def __init__(self, vocab: Vocabulary, ner_score: float = 0.9, unlinked_score: float = 0.5) -> None:
        self.vocab = vocab
        self.ner_score = ner_score
        self.unlinked_score = unlinked_score

    def __call__(self, doc: Doc) -> Doc:
        ents = fast_ents(doc, self.cached_ents)
        if not ents:
            return doc
        info = span_info(doc)
        if all(kb for _, _, _, kb in ents):
            for start, end, _, _ in ents:
                info.setdefault(span_key(start, end), (1.0, "dictionary"))
            return doc
        idx, length = char_offsets(doc)
        text = doc_text(doc)
        spans: list[EntTuple] = []
        for start, end, label, kb in ents:
            key = span_key(start, end)
            if kb:
                info.setdefault(key, (1.0, "dictionary"))
                spans.append((start, end, label, kb))
                continue
            source = info.get(key, (0.0, "ner"))[1]
            hit = self.vocab.lookup(text[idx[start] : idx[end - 1] + length[end - 1]], label)
            if hit is not None and hit[0].label == label:
                spans.append(_ent(doc, start, end, label, hit[0].id, round(self.ner_score * hit[1], 4), source))
            else:
                spans.append(_ent(doc, start, end, label, "", self.unlinked_score, source))
        write_ents(doc, spans)
        return doc


@Language.factory("medkg_linker_v1", default_config={"vocabulary": "default", "ner_score": 0.9, "unlinked_score": 0.5})
def make_linker(nlp: Language, name: str, vocabulary: str, ner_score: float, unlinked_score: float) -> Linker:
    """Normalised exact/synonym linker over a vocabulary TSV."""
    return Linker(load_vocabulary(vocabulary), ner_score, unlinked_score)


# --------------------------------------------------------------------------- negation / speculation

NEGATION_CUES = frozenset(
    "no not n't without absence absent lack lacks lacked lacking neither nor never none denied denies deny "
    "failed fail fails unable cannot excluded negative free".split()
)
SPECULATION_CUES = frozenset(
    "may might could possibly possible potential potentially putative suggest suggests suggested suggesting "
    "whether hypothesis hypothesize hypothesized hypothesise likely unlikely unclear unknown perhaps probably "
    "speculate speculated propose proposed appear appears seem seems suspected investigate investigated".split()
)
SCOPE_BREAKS = frozenset({"but", "however", "although", "whereas", "though", "except", "yet", ";", "while"})
#: cues whose scope runs backwards ("toxicity was absent", "hepatitis was excluded")
BACKWARD_CUES = frozenset({"absent", "excluded", "negative"})


@dataclass(frozen=True, slots=True)
class Cue:
    """A negation or speculation cue: token index and the token range it governs."""

    kind: str  # "negation" | "speculation"
    token: int
    scope_start: int
    scope_end: int

    def covers(self, i: int) -> bool:
        return self.scope_start <= i < self.scope_end


class CueDetector:
    """NegEx-style cues: a cue governs the rest of its clause (up to ``but``, ``however``, ``;`` ...)."""

    def __call__(self, doc: Doc) -> Doc:
        cues: list[tuple[str, int, int, int]] = []
        lowers = token_lowers(doc)
        hits = [i for i, w in enumerate(lowers) if w in NEGATION_CUES or w in SPECULATION_CUES]
        if hits:
            bounds = sentence_bounds(doc)
            sid = sentence_index(bounds, len(lowers))
            for k in hits:
                w = lowers[k]
                kind = "negation" if w in NEGATION_CUES else "speculation"
                lo_s, hi_s = bounds[sid[k]]
                if w in BACKWARD_CUES:
                    lo = k
                    while lo > lo_s and lowers[lo - 1] not in SCOPE_BREAKS and lowers[lo - 1] != ",":
                        lo -= 1
                    cues.append((kind, k, lo, k))
                    continue
                hi = k + 1
                while hi < hi_s and lowers[hi] not in SCOPE_BREAKS:
                    hi += 1
                cues.append((kind, k, k + 1, hi))
        doc._.medkg_cues = cues
        return doc


def doc_cues(doc: Doc) -> list[Cue]:
    """The cues found by ``medkg_negation_v1`` (empty if it did not run)."""
    return [Cue(*c) for c in (doc._.medkg_cues or [])]


def span_flags(cues: list[Cue], start: int, end: int) -> tuple[bool, bool]:
    """``(negated, speculative)`` for a token range."""
    neg = spec = False
    for c in cues:
        if c.scope_start <= start < c.scope_end or c.scope_start < end <= c.scope_end:
            if c.kind == "negation":
                neg = True
            else:
                spec = True
    return neg, spec


def cue_coverage(cues: list[Cue], n: int) -> tuple[bytearray, bytearray]:
    """Per token of an ``n``-token doc: 1 inside a negation scope, 1 inside a speculation scope.

    ``span_flags(cues, start, end) == (bool(neg[start] or neg[end - 1]), bool(spec[start] or spec[end - 1]))``,
    in time linear in the document instead of mentions x cues.
    """
    neg, spec = bytearray(n), bytearray(n)
    for c in cues:
        if c.scope_end > c.scope_start:
            (neg if c.kind == "negation" else spec)[c.scope_start : c.scope_end] = b"\x01" * (c.scope_end - c.scope_start)
    return neg, spec


@Language.factory("medkg_negation_v1")
def make_negation(nlp: Language, name: str) -> CueDetector:
    """Negation and speculation cue detector."""
    return CueDetector()


# --------------------------------------------------------------------------- relations


@lru_cache(maxsize=1)
def relation_rules() -> dict[str, Any]:
    """Pair types, subjects and trigger stems (``ingest/text/data/relations.toml``)."""
    return tomllib.loads(resources.files("ingest.text").joinpath("data/relations.toml").read_text(encoding="utf-8"))


#: type, subject start/end, object start/end (tokens), score, negated, speculative,
#: subject id, object id, subject label, object label
RelationTuple = tuple[str, int, int, int, int, float, bool, bool, str, str, str, str]


_FEAT_B: dict[str, str] = {}


def entity_masks(ents: list[EntTuple]) -> tuple[dict[int, str], list[int]]:
    """Token index -> ``<Label>`` for every entity token, and the sorted entity starts."""
    masked = {i: f"<{e[2]}>" for e in ents for i in range(e[0], e[1])}
    return masked, sorted(e[0] for e in ents)


def _pair_parts(
    lowers: list[str],
    ents: list[EntTuple],
    a: EntTuple,
    b: EntTuple,
    sent: tuple[int, int],
    masks: tuple[dict[int, str], list[int]] | None = None,
) -> tuple[int, list[str], list[str], list[str], int]:
    """What the features of the ordered pair ``a`` before ``b`` are made of (one definition
    for :func:`_pair_features` and :class:`PairScorer`).

    Returns:
        ``(distance bucket, words between, left words, right words, mentions-between bucket)``:
        the words between are lower-cased, entity tokens masked as ``<Label>``, consecutive
        repeats dropped; left / right are up to two words before ``a`` / after ``b`` within
        the sentence.
    """
    # entities never overlap, so every entity token strictly between a and b belongs
    # to an entity that lies wholly between them
    masked, starts = masks if masks is not None else entity_masks(ents)
    between: list[str] = []
    for i in range(a[1], b[0]):
        w = masked.get(i) or lowers[i]
        if between and between[-1] == w:
            continue
        between.append(w)
    n_between = bisect.bisect_left(starts, b[0]) - bisect.bisect_left(starts, a[1])
    return (min(8, (b[0] - a[1]).bit_length()), between, lowers[max(sent[0], a[0] - 2) : a[0]],
            lowers[b[1] : min(sent[1], b[1] + 2)], min(3, n_between))


def _pair_features(
    lowers: list[str],
    ents: list[EntTuple],
    a: EntTuple,
    b: EntTuple,
    sent: tuple[int, int],
    masks: tuple[dict[int, str], list[int]] | None = None,
) -> list[str]:
    dist, between, left, right, n_between = _pair_parts(lowers, ents, a, b, sent, masks)
    feats = [f"order={a[2]}>{b[2]}", f"dist={dist}"]
    fb = _FEAT_B
    if len(fb) > CACHE_LIMIT:
        fb.clear()
    for w in between:
        f = fb.get(w)
        if f is None:
            f = fb[w] = "b=" + w
        feats.append(f)
    feats.extend(f"bb={x}_{y}" for x, y in zip(between, between[1:]))
    if len(between) <= 2:
        feats.append("adjacent=" + "_".join(between))
    feats.extend("l=" + w for w in left)
    feats.extend("r=" + w for w in right)
    feats.append(f"n_ents_between={n_between}")
    return feats


def pair_features(doc: Doc, a: Span, b: Span) -> list[str]:
    """Features of an ordered mention pair in one sentence (used by the trained models).

    Words between the mentions (entity mentions masked by their label), two words
    either side within the sentence, the pair's label order, a token-distance
    bucket, and the number of other mentions between them.
    """
    ents = [(e.start, e.end, e.label_, e.kb_id_) for e in doc.ents]
    sent = a.sent
    return _pair_features(token_lowers(doc), ents, (a.start, a.end, a.label_, a.kb_id_), (b.start, b.end, b.label_, b.kb_id_), (sent.start, sent.end))


class LinearModel:
    """A sparse logistic-regression model over string features (weights in JSON)."""

    def __init__(self, weights: dict[str, float], bias: float, threshold: float = 0.5, meta: dict[str, Any] | None = None) -> None:
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.meta = meta or {}

    def prob(self, feats: Iterable[str]) -> float:
        # map/filter run in C: unknown features give None and are dropped (a 0.0 weight too)
        z = self.bias + sum(filter(None, map(self.weights.get, feats)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"bias": self.bias, "threshold": self.threshold, "meta": self.meta, "weights": self.weights}, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> "LinearModel":
        try:
            data = json.loads(Path(path).read_text())
            return cls(data["weights"], data["bias"], data.get("threshold", 0.5), data.get("meta", {}))
        except (OSError, KeyError, json.JSONDecodeError) as err:
            raise ModelError(f"cannot load relation model {path}: {err}; retrain with benchmarks/train_relations.py") from err


class PairScorer:
    """``LinearModel.prob(_pair_features(...))`` without building the feature strings.

    The model's weights are regrouped once by feature family (``b=`` word, ``bb=``
    word pair, ``l=`` / ``r=`` context word, ``adjacent=``, ``order=``, ``dist=``,
    ``n_ents_between=``) and looked up by the raw words, so a pair costs dictionary
    lookups instead of f-strings. The same non-zero weights are added in the same
    order as :meth:`LinearModel.prob` over :func:`_pair_features`, so the probability
    is bit-identical (tested). A model with a feature family this class does not know
    is refused (``ValueError``); the caller then keeps the string path.
    """

    def __init__(self, model: LinearModel) -> None:
        self.bias = model.bias
        self.b: dict[str, float] = {}
        self.l: dict[str, float] = {}
        self.r: dict[str, float] = {}
        self.bb: dict[str, dict[str, float]] = {}
        self.adjacent: dict[str, float] = {}
        self.order: dict[tuple[str, str], float] = {}
        self.dist: dict[int, float] = {}
        self.n_between: dict[int, float] = {}
        words = {"b": self.b, "l": self.l, "r": self.r, "adjacent": self.adjacent}
        for key, w in model.weights.items():
            if not w:  # LinearModel.prob drops zero weights too
                continue
            family, sep, value = key.partition("=")
            if not sep:
                raise ValueError(f"relation feature {key!r} has no family")
            if family in words:
                words[family][value] = w
            elif family == "bb":
                # "bb=x_y" with words that may hold "_": every split is a word pair whose
                # feature string is exactly this key
                for k, ch in enumerate(value):
                    if ch == "_":
                        self.bb.setdefault(value[:k], {})[value[k + 1 :]] = w
            elif family == "order" and value.count(">") == 1:
                x, _, y = value.partition(">")
                self.order[(x, y)] = w
            elif family in ("dist", "n_ents_between") and value.isdigit() and value == str(int(value)):
                (self.dist if family == "dist" else self.n_between)[int(value)] = w
            else:
                raise ValueError(f"relation feature {key!r}: unknown family {family!r}")

    def prob(self, lowers: list[str], ents: list[EntTuple], a: EntTuple, b: EntTuple, sent: tuple[int, int],
             masks: tuple[dict[int, str], list[int]] | None = None) -> float:
        """The model's probability for the ordered pair ``a`` before ``b`` in sentence ``sent``."""
        dist, between, left, right, n_between = _pair_parts(lowers, ents, a, b, sent, masks)
        ws: list[float] = []
        append = ws.append
        w = self.order.get((a[2], b[2]))
        if w:
            append(w)
        w = self.dist.get(dist)
        if w:
            append(w)
        get = self.b.get
        for x in between:
            w = get(x)
            if w:
                append(w)
        bb = self.bb
        for k in range(len(between) - 1):
            row = bb.get(between[k])
            if row is not None:
                w = row.get(between[k + 1])
                if w:
                    append(w)
        if len(between) <= 2:
            w = self.adjacent.get("_".join(between))
            if w:
                append(w)
        for get, words in ((self.l.get, left), (self.r.get, right)):
            for x in words:
                w = get(x)
                if w:
                    append(w)
        w = self.n_between.get(n_between)
        if w:
            append(w)
        z = self.bias + sum(ws)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def default_relation_models() -> dict[str, str]:
    """Shipped trained relation classifiers by relation type (those that exist)."""
    base = resources.files("ingest.text").joinpath("models")
    out = {}
    for rel, fname in (("CAUSES", "relations-cid-0.1.0.json"), ("INTERACTS_WITH", "relations-ddi-0.1.0.json")):
        p = base.joinpath(fname)
        if p.is_file():
            out[rel] = str(p)
    return out


class RelationExtractor:
    """Typed relations between linked mentions of one sentence.

    For each pair of linked mentions with different ids whose labels have allowed
    types (``relations.toml``), each candidate type gets a score: the trained
    classifier's probability where one is shipped (CAUSES from BC5CDR CID,
    INTERACTS_WITH from the DDI corpus), else a trigger score (0.55 + 0.1 per
    trigger, at most 0.85, decaying with distance). The best type above
    ``threshold`` is kept. Relations in the scope of a negation or speculation
    cue are kept but flagged.
    """

    #: read entities through the document cache (set by load_pipeline when that is safe)
    cached_ents = False

    def __init__(self, models: dict[str, LinearModel], threshold: float = 0.5, max_distance: int = 40, max_pairs_per_sentence: int = 60) -> None:
        rules = relation_rules()
        self.pairs: dict[tuple[str, str], tuple[str, list[str]]] = {}
        for p in rules["pairs"]:
            a, b = p["labels"]
            self.pairs[(a, b)] = (p["subject"], p["types"])
            self.pairs[(b, a)] = (p["subject"], p["types"])
        self.triggers = {k: tuple(v) for k, v in rules["triggers"].items()}
        self.models = models
        self.scorers: dict[str, PairScorer] = {}
        for rel, model in models.items():
            try:
                self.scorers[rel] = PairScorer(model)
            except ValueError:  # a model with features PairScorer does not know: the string path
                pass
        self.threshold = threshold
        self.max_distance = max_distance
        self.max_pairs = max_pairs_per_sentence
        self.version = f"{EXTRACTOR_VERSION}+rules{rules.get('version', '')}"

    def _trigger_score(self, rel: str, window: str) -> float:
        hits = sum(1 for stem in self.triggers.get(rel, ()) if stem in window)
        return 0.0 if hits == 0 else min(0.85, 0.55 + 0.1 * hits)

    def __call__(self, doc: Doc) -> Doc:
        out: list[RelationTuple] = []
        ents = fast_ents(doc, self.cached_ents)
        linked = [e for e in ents if e[3]]
        if len(linked) < 2:
            doc._.medkg_relations = out
            return doc
        bounds = sentence_bounds(doc)
        sid = sentence_index(bounds, len(doc))
        by_sent: dict[int, list[EntTuple]] = {}
        for e in linked:
            by_sent.setdefault(sid[e[0]], []).append(e)
        lowers: list[str] | None = None
        masks: tuple[dict[int, str], list[int]] | None = None
        # a cue's scope lies inside its sentence, so only that sentence's pairs can meet it
        cues_by_sent: dict[int, list[Cue]] = {}
        for c in doc_cues(doc):
            cues_by_sent.setdefault(sid[c.token], []).append(c)
        for s_no, group in by_sent.items():
            if len(group) < 2:
                continue
            lowers = lowers if lowers is not None else token_lowers(doc)
            masks = masks if masks is not None else entity_masks(ents)
            sent = bounds[s_no]
            n_pairs = 0
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    if a[3] == b[3] or b[0] - a[1] > self.max_distance:
                        continue
                    rule = self.pairs.get((a[2], b[2]))
                    if rule is None:
                        continue
                    n_pairs += 1
                    if n_pairs > self.max_pairs:
                        break
                    rel = self._classify(lowers, ents, a, b, sent, rule[1], masks)
                    if rel is None:
                        continue
                    best_type, best = rel
                    subj, obj = (a, b) if a[2] == rule[0] else (b, a)
                    lo, hi = a[0], b[1]
                    neg = spec = False
                    for c in cues_by_sent.get(s_no, ()):
                        if c.scope_start < hi and lo < c.scope_end and c.token < hi:
                            if c.kind == "negation":
                                neg = True
                            else:
                                spec = True
                    out.append((best_type, subj[0], subj[1], obj[0], obj[1], round(best, 4), neg, spec, subj[3], obj[3], subj[2], obj[2]))
        doc._.medkg_relations = out
        return doc

    def _classify(
        self,
        lowers: list[str],
        ents: list[EntTuple],
        a: EntTuple,
        b: EntTuple,
        sent: tuple[int, int],
        types: list[str],
        masks: tuple[dict[int, str], list[int]] | None = None,
    ) -> tuple[str, float] | None:
        window = None
        feats: list[str] | None = None
        best_type, best = None, 0.0
        for rel in types:
            model = self.models.get(rel)
            if model is not None:
                scorer = self.scorers.get(rel)
                if scorer is not None:
                    score = scorer.prob(lowers, ents, a, b, sent, masks)
                else:
                    feats = feats if feats is not None else _pair_features(lowers, ents, a, b, sent, masks)
                    score = model.prob(feats)
                if score < model.threshold:
                    score = min(score, self.threshold - 1e-3)
            else:
                if window is None:
                    window = " " + " ".join(lowers[a[1] : b[0]]) + " " + (lowers[b[1]] if b[1] < sent[1] else "")
                score = self._trigger_score(rel, window)
                score *= 1.0 - min(0.3, (b[0] - a[1]) / 100)
            if score > best:
                best_type, best = rel, score
        if best_type is None or best < self.threshold:
            return None
        return best_type, best


@Language.factory("medkg_relations_v1", default_config={"models": "default", "threshold": 0.5, "max_distance": 40})
def make_relations(nlp: Language, name: str, models: str, threshold: float, max_distance: int) -> RelationExtractor:
    """Relation extractor; ``models`` is ``"default"`` (shipped classifiers), ``"none"`` (triggers only) or ``TYPE=path,...``."""
    if models == "default":
        paths = default_relation_models()
    elif models in {"", "none"}:
        paths = {}
    else:
        paths = dict(part.split("=", 1) for part in models.split(",") if "=" in part)
    return RelationExtractor({k: LinearModel.load(v) for k, v in paths.items()}, threshold, max_distance)
