"""Biomedical tokenizer and sentence splitter.

The English defaults keep ``5-fluorouracil``, ``IL-2/IL-4``, ``[3H]-naloxone``
or ``TNF-alpha-induced`` as single tokens, so entity boundaries that fall inside
them (the annotated corpora put them there) cannot be represented. The
tokenizer registered here additionally splits on hyphens, slashes, brackets,
plus signs and similar inner punctuation, and keeps numbers with their units
apart from the words around them. Training and inference use the same tokenizer
(it is named in both configs), so token boundaries always agree.

Sentence segmentation is rule based: punctuation followed by a capital letter,
a digit or an opening bracket, except after the common abbreviations of
biomedical prose (``e.g.``, ``i.v.``, ``vs.``, ``et al.``, ``Fig.``).
"""

from __future__ import annotations

import bisect
import re
# the stdlib regex parser (re._parser / re._constants since Python 3.11), to read what a suffix piece can match
from re import _constants as _sre_constants  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any, Callable

import numpy

from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.attrs import IDX, IS_SPACE, ORTH, SENT_START, SPACY
from spacy.strings import hash_string  # type: ignore[attr-defined]
from spacy.tokens import Doc
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex, registry

TOKENIZER_NAME = "medkg.bio_tokenizer.v1"
SENTENCIZER_FACTORY = "medkg_sentences_v1"
#: ``doc.user_data`` key: character offset where the title ends (a sentence starts after it)
TITLE_END_KEY = "medkg.title_end"

# Split between any two characters when one side is inner punctuation typical of
# chemical, gene and dosage notation.
_BIO_INFIXES = [
    r"[\-\u2010-\u2015/\\+\[\]\(\)\{\}:;=~<>\u00b1\u00d7%,\*\"'\u2018\u2019\u201c\u201d]",
    r"(?<=[a-z])\.(?=[A-Z])",  # "cells.The"
]
_BIO_PREFIXES = [r"[\u2010-\u2015]", r"[\u00b1\u2264\u2265]", r"-(?=[A-Za-z])"]
# A period after a capital ends the word ("vitamin D.", "AmB.", "hepatitis C."): the
# English suffixes split it only after a lower-case letter or two capitals. Dotted
# abbreviations in the exceptions ("U.S.") match whole before any suffix is tried, and
# a species abbreviation ("E. coli") only loses its period to a token of its own; the
# sentence splitter does not end a sentence before a lower-case word.
_BIO_SUFFIXES = [r"[\u2010-\u2015]", r"(?<=[0-9])[\u00b0%]", r"(?<=[A-Z])(?<!\.[A-Z])\."]


#: Whitespace-delimited chunks whose tokenization the tokenizer remembers. spaCy's
#: default (10,000) fills up within a few hundred abstracts and is never evicted, so
#: every later chunk outside it was split by the prefix/suffix/infix regexes again
#: (4 us/word instead of 0.6 on repeated vocabulary). Measured: 250,000 distinct
#: chunks cost 47 MB more than 10,000; the tokens it returns are exactly those of a fresh split.
CACHE_SIZE = 250_000


def make_bio_tokenizer(nlp: Language, cache_size: int = CACHE_SIZE) -> Tokenizer:
    """Build the biomedical tokenizer for ``nlp`` (English defaults plus the rules above)."""
    defaults = nlp.Defaults
    prefixes = list(defaults.prefixes or []) + _BIO_PREFIXES
    suffixes = list(defaults.suffixes or []) + _BIO_SUFFIXES
    infixes = list(defaults.infixes or []) + _BIO_INFIXES
    # Tokenizer exceptions such as "e.g." stay; those that would glue biomedical
    # punctuation back together (emoticons like ":-)") are dropped.
    # Single capitals with a period ("D.", "B.") are dropped too: in abstracts they end
    # sentences ("vitamin D.") far more often than they abbreviate a name.
    rules = {
        k: v
        for k, v in (defaults.tokenizer_exceptions or {}).items()
        if not re.search(r"[()\[\]/\-:;=]", k) and not re.fullmatch(r"[A-Za-z]\.", k)
    }
    return Tokenizer(
        nlp.vocab,
        rules=rules,
        prefix_search=compile_prefix_regex(prefixes).search,
        # spaCy types the affix lists as str | Pattern; the English ones are all str
        suffix_search=SuffixSearch(suffixes).search,  # type: ignore[arg-type]
        infix_finditer=InfixFinder(compile_infix_regex(infixes)).finditer,
        token_match=None,
        url_match=UrlMatch(defaults.url_match).match,  # type: ignore[arg-type]
        max_cache_size=cache_size,
    )


class SuffixSearch:
    """spaCy's suffix regex (``compile_suffix_regex(pieces).search``), only over the pieces that can match.

    spaCy joins every suffix as ``piece$`` into one alternation, and ``search`` tries
    its ~260 alternatives at every position of the string (~9 µs per word). Every
    alternative ends at ``$``, so only those whose last character can be the
    string's last character can match, and one consuming at most ``width``
    characters starts within the last ``width`` positions. Per last character the
    candidate pieces are compiled once (lazily); the bounded ones are searched
    from ``len - width`` (lookbehinds still see the whole string), the unbounded
    ones (``\\.\\.+``) over the whole string, and the leftmost match wins, as in the
    full alternation (matches at the same start have the same end, ``$``, so the
    span is the same). A string ending in a newline (where ``$`` also matches one
    character early) goes to the full alternation.

    ``pattern`` is the full alternation, which spaCy serialises with the tokenizer.
    """

    def __init__(self, pieces: list[str]) -> None:
        pieces = [x for x in pieces if x.strip()]
        full = compile_suffix_regex(pieces)
        self.pattern = full.pattern
        self._full = full.search
        self._info = []  # (piece, max width, possible last characters or None = any)
        for piece in pieces:
            parsed = _sre_parse.parse(piece)
            last, can_be_empty = _last_chars(list(parsed))
            self._info.append((piece, parsed.getwidth()[1], None if can_be_empty else last))
        self._groups: dict[str, tuple[Any, int, Any]] = {}

    def _group(self, last: str) -> tuple[Any, int, Any]:
        group = self._groups.get(last)
        if group is None:
            chosen = [(x, hi) for x, hi, chars in self._info if chars is None or last in chars]
            bounded = [x for x, hi in chosen if hi <= 64]
            unbounded = [x for x, hi in chosen if hi > 64]
            group = self._groups[last] = (
                compile_suffix_regex(bounded).search if bounded else None,
                max((hi for _, hi in chosen if hi <= 64), default=0),
                compile_suffix_regex(unbounded).search if unbounded else None,
            )
        return group

    def search(self, string: str) -> "re.Match[str] | None":
        if not string or string[-1] == "\n":
            return self._full(string)
        bounded, width, unbounded = self._group(string[-1])
        m = bounded(string, max(0, len(string) - width)) if bounded is not None else None
        if unbounded is not None:
            m2 = unbounded(string)
            if m2 is not None and (m is None or m2.start() < m.start()):
                return m2
        return m


def _last_chars(seq: list[Any]) -> tuple[set[str] | None, bool]:
    """The characters a parsed regex sequence can end with (``None``: any), and whether it can match empty."""
    out: set[str] = set()
    for op, av in reversed(seq):
        if op in (_sre_constants.AT, _sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            continue  # zero width
        if op is _sre_constants.LITERAL:
            chars, empty = {chr(av)}, False
        elif op is _sre_constants.IN:
            chars, empty = set(), False
            for item_op, item in av:
                if item_op is _sre_constants.LITERAL:
                    chars.add(chr(item))
                elif item_op is _sre_constants.RANGE:
                    chars.update(map(chr, range(item[0], item[1] + 1)))
                else:  # NEGATE, CATEGORY ...: could be anything
                    return None, False
        elif op is _sre_constants.BRANCH:
            chars, empty = set(), False
            for branch in av[1]:
                c, e = _last_chars(list(branch))
                if c is None:
                    return None, False
                chars |= c
                empty = empty or e
        elif op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
            c, e = _last_chars(list(av[2]))
            if c is None:
                return None, False
            chars, empty = c, e or av[0] == 0
        elif op is _sre_constants.SUBPATTERN:
            c, e = _last_chars(list(av[3]))
            if c is None:
                return None, False
            chars, empty = c, e
        else:
            return None, False
        out |= chars
        if not empty:
            return out, False
    return out, True


class InfixFinder:
    """``regex.finditer`` that skips strings of letters and digits only.

    Every infix alternative (the English defaults and :data:`_BIO_INFIXES`)
    consumes punctuation or a symbol, never a letter or digit, so a string that
    ``str.isalnum()`` has no infix; most words are such strings, and the scan
    costs ~8 µs per word (``tests/unit/test_text_tokenizer.py`` checks the
    premise over every alphanumeric code point).
    """

    def __init__(self, regex: "re.Pattern[str]") -> None:
        self.pattern = regex.pattern  # serialised by spaCy with the tokenizer
        self._finditer = regex.finditer

    def finditer(self, string: str) -> Any:
        if string.isalnum():
            return ()
        return self._finditer(string)


class UrlMatch:
    """spaCy's ``url_match`` that answers "no" at once for a string without a ".".

    The tokenizer tries the URL pattern on every chunk it has not cached (2 µs a
    call: the pattern backtracks through ``\\S+@`` and a long character class).
    Both of its host forms contain a literal dot -- an IPv4 address (``d.d.d.d``) or
    one or more ``label.`` before the top-level domain -- so no string without one
    can match (``tests/unit/test_text_tokenizer.py`` checks this on random strings
    and on URL-like ones).
    """

    def __init__(self, match: Callable[[str], Any]) -> None:
        self.pattern = match.__self__.pattern  # type: ignore[attr-defined]  # serialised with the tokenizer
        self._match = match

    def match(self, string: str) -> Any:
        if "." not in string:
            return None
        return self._match(string)


@registry.tokenizers(TOKENIZER_NAME)
def create_bio_tokenizer(cache_size: int = CACHE_SIZE) -> Callable[[Language], Tokenizer]:
    """spaCy registry entry: ``[nlp.tokenizer] @tokenizers = "medkg.bio_tokenizer.v1"``.

    ``cache_size``: how many distinct whitespace-delimited chunks to remember (see :data:`CACHE_SIZE`).
    """
    return lambda nlp: make_bio_tokenizer(nlp, cache_size)


_ABBREVIATIONS = frozenset(
    """e.g i.e vs v etc al fig figs ref refs approx ca cf dr mr mrs ms prof vol pp
    i.v i.p i.m s.c p.o b.i.d t.i.d q.i.d q.d sp spp inc ltd co st jan feb mar apr jun jul aug sep sept oct
    nov dec resp""".split()
)
_END_PUNCT = frozenset({".", "!", "?"})
_CLOSERS = frozenset({")", "]", '"', "'", "\u201d", "\u2019"})
# their ORTH hashes (a string's hash does not depend on the vocabulary), computed once
_END_HASHES = tuple(hash_string(x) for x in sorted(_END_PUNCT))
_CLOSER_HASHES = frozenset(hash_string(x) for x in _CLOSERS)
_STRAIGHT_QUOTE_HASHES = frozenset(hash_string(x) for x in ('"', "'"))


@Language.factory(SENTENCIZER_FACTORY)
def make_sentence_splitter(nlp: Language, name: str) -> Callable[[Doc], Doc]:
    """Rule-based sentence boundaries tuned for abstracts (see module docstring)."""
    return BioSentenceSplitter()


class BioSentenceSplitter:
    """Set sentence starts from token arrays (no per-token Python objects): fast and stateless."""

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        strings = doc.vocab.strings
        # IS_SPACE marks the whitespace tokens, the only ones that can be blank lines
        # (a blank line is whitespace: its text isspace()); without that lexical
        # attribute every token is looked at
        spaces_known = IS_SPACE in (doc.vocab.lex_attr_getters or {})  # type: ignore[attr-defined]
        arr = doc.to_array([ORTH, SPACY, IS_SPACE] if spaces_known else [ORTH, SPACY])
        orth = arr[:, 0]
        orth_list = orth.tolist()
        trailing = arr[:, 1]  # whitespace after the token
        starts = numpy.full(n, -1, dtype="int64")
        starts[0] = 1
        e1, e2, e3 = _END_HASHES
        closers, straight = _CLOSER_HASHES, _STRAIGHT_QUOTE_HASHES
        sent_start = 0
        for i in numpy.flatnonzero((orth == e1) | (orth == e2) | (orth == e3)).tolist():
            j = i + 1
            # closing brackets and quotes after the punctuation stay in the sentence; a straight
            # quote after a space may open the next one ('safe? "Yes."'), so it closes only if the
            # sentence has an unclosed one ('we call " autosomal hemophilia. " We ...')
            while j < n and orth_list[j] in closers and (
                not trailing[j - 1] or orth_list[j] not in straight
                or orth_list[sent_start:j].count(orth_list[j]) % 2 == 1
            ):
                j += 1
            if j < n and self._is_boundary(trailing, orth_list, strings, i, j):
                starts[j] = 1
                sent_start = j
        # a blank line always ends a sentence
        for i in (numpy.flatnonzero(arr[:, 2]).tolist() if spaces_known else range(n)):
            if i + 1 < n:
                text = strings[orth_list[i]]
                if "\n\n" in text and not text.strip():
                    starts[i + 1] = 1
        # the title ends a sentence even without punctuation (set by ingest.text.pipeline)
        title_end = doc.user_data.get(TITLE_END_KEY)
        if title_end:
            idx = doc.to_array(IDX).tolist()
            k = bisect.bisect_left(idx, title_end)
            if 0 < k < n:
                starts[k] = 1
        doc.from_array([SENT_START], starts.view("uint64").reshape(-1, 1))  # type: ignore[arg-type]
        first = numpy.flatnonzero(starts == 1).tolist()
        # shared with the medkg components (see ingest.text.components.cache.doc_cache)
        doc.user_data[CACHE_KEY] = {"orth": orth_list, "bounds": list(zip(first, first[1:] + [n]))}
        return doc

    @staticmethod
    def _is_boundary(trailing: Any, orth: list[int], strings: Any, i: int, j: int) -> bool:
        tok_text = strings[orth[i]]
        if tok_text == ".":
            if i > 0 and not trailing[i - 1] and strings[orth[i - 1]].lower().rstrip(".") in _ABBREVIATIONS:
                return False
            if j == i + 1 and not trailing[i]:
                return False  # "2.5", "p.o" are not boundaries
        nxt = strings[orth[j]][:1]
        return nxt.isupper() or nxt.isdigit() or nxt in "([\"'\u201c" or not nxt.isalpha()


#: ``doc.user_data`` key of the per-document cache shared by the medkg components
CACHE_KEY = "medkg.cache"
