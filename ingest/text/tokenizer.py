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

import re
from typing import Callable

from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex, registry

TOKENIZER_NAME = "medkg.bio_tokenizer.v1"
SENTENCIZER_FACTORY = "medkg_sentences_v1"

# Split between any two characters when one side is inner punctuation typical of
# chemical, gene and dosage notation.
_BIO_INFIXES = [
    r"[\-\u2010-\u2015/\\+\[\]\(\)\{\}:;=~<>\u00b1\u00d7%,\*\"'\u2018\u2019\u201c\u201d]",
    r"(?<=[a-z])\.(?=[A-Z])",  # "cells.The"
]
_BIO_PREFIXES = [r"[\u2010-\u2015]", r"[\u00b1\u2264\u2265]", r"-(?=[A-Za-z])"]
_BIO_SUFFIXES = [r"[\u2010-\u2015]", r"(?<=[0-9])[\u00b0%]"]


def make_bio_tokenizer(nlp: Language) -> Tokenizer:
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
        suffix_search=compile_suffix_regex(suffixes).search,
        infix_finditer=compile_infix_regex(infixes).finditer,
        token_match=None,
        url_match=defaults.url_match,
    )


@registry.tokenizers(TOKENIZER_NAME)
def create_bio_tokenizer() -> Callable[[Language], Tokenizer]:
    """spaCy registry entry: ``[nlp.tokenizer] @tokenizers = "medkg.bio_tokenizer.v1"``."""
    return make_bio_tokenizer


_ABBREVIATIONS = frozenset(
    """e.g i.e vs v etc al fig figs ref refs approx ca cf dr mr mrs ms prof vol pp
    i.v i.p i.m s.c p.o b.i.d t.i.d q.i.d q.d sp spp inc ltd co st jan feb mar apr jun jul aug sep sept oct
    nov dec resp""".split()
)
_END_PUNCT = frozenset({".", "!", "?"})
_CLOSERS = frozenset({")", "]", '"', "'", "\u201d", "\u2019"})


@Language.factory(SENTENCIZER_FACTORY)
def make_sentence_splitter(nlp: Language, name: str) -> Callable[[Doc], Doc]:
    """Rule-based sentence boundaries tuned for abstracts (see module docstring)."""
    return BioSentenceSplitter()


class BioSentenceSplitter:
    """Mark ``is_sent_start`` on every token; fast, stateless, no model."""

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        starts = [False] * n
        starts[0] = True
        i = 0
        while i < n:
            tok = doc[i]
            text = tok.text
            if text in _END_PUNCT or "\n\n" in tok.whitespace_ or (tok.is_space and "\n" in text):
                j = i + 1
                while j < n and (doc[j].text in _CLOSERS or doc[j].is_space):
                    j += 1
                if j < n and self._is_boundary(doc, i, j):
                    starts[j] = True
                i = j
                continue
            i += 1
        for k in range(1, n):
            doc[k].is_sent_start = starts[k]
        return doc

    @staticmethod
    def _is_boundary(doc: Doc, i: int, j: int) -> bool:
        tok = doc[i]
        if tok.is_space:
            return True
        if tok.text == ".":
            # the word before the period: "al." in "Smith et al. Found ..."
            if i > 0 and doc[i - 1].lower_.rstrip(".") in _ABBREVIATIONS and not doc[i - 1].whitespace_:
                return False
            if j == i + 1 and not tok.whitespace_:
                return False  # "2.5", "p.o" are not boundaries
        nxt = doc[j].text[:1]
        return nxt.isupper() or nxt.isdigit() or nxt in "([\"'\u201c" or not nxt.isalpha()
