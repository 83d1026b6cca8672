"""The biomedical tokenizer's fast paths give exactly spaCy's plain-regex tokenization."""

from __future__ import annotations

import random
import sys

import pytest
import spacy
from spacy.lang.char_classes import CURRENCY, UNITS
from spacy.tokenizer import Tokenizer
from spacy.util import compile_infix_regex, compile_suffix_regex

from ingest.text.tokenizer import _BIO_INFIXES, _BIO_SUFFIXES, InfixFinder, SuffixSearch, UrlMatch, make_bio_tokenizer

ALPHABET = "aZ9ß5µ.-–—/()[],;:'\"+%°±~<>=*…’s "  # punctuation-heavy, so every affix rule fires


@pytest.fixture(scope="module")
def nlp() -> spacy.Language:
    return spacy.blank("en")


def _random_strings(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 14))) for _ in range(n)]


def test_suffix_search_finds_the_same_span_as_the_full_alternation(nlp: spacy.Language) -> None:
    pieces = list(nlp.Defaults.suffixes) + _BIO_SUFFIXES
    full = compile_suffix_regex(pieces)
    fast = SuffixSearch(pieces)
    assert fast.pattern == full.pattern  # what spaCy serialises
    words = _random_strings(20000, 0) + ["10mg", "5-HT", "Parkinson's", "cells.", "a......", "pain)...", "x" * 30 + "..", "2°C.", "3%", "40km/h", "3US$", "1.5kcal", "a\u2026"]
    # every unit and currency after a number, the longest alternatives ("اكواب") included
    words += ["12" + u.replace("\\", "") + tail for u in (UNITS + "|" + CURRENCY).split("|") for tail in ("", ".", ")")]
    # every character of the Basic Multilingual Plane as the last one (or before a final ".")
    words += [w for c in map(chr, range(0xD800)) for w in ("a1" + c, "A" + c + ".")]
    for w in words:
        a, b = full.search(w), fast.search(w)
        assert (a.span() if a else None) == (b.span() if b else None), w


def test_infix_finder_skips_only_strings_without_any_infix(nlp: spacy.Language) -> None:
    regex = compile_infix_regex(list(nlp.Defaults.infixes) + _BIO_INFIXES)
    finder = InfixFinder(regex)
    assert finder.pattern == regex.pattern
    for w in _random_strings(20000, 1) + ["IL-2/IL-4", "cells.The", "1+2", "TNFalpha", "αβ"]:
        assert [m.span() for m in finder.finditer(w)] == [m.span() for m in regex.finditer(w)], w
    # the premise of the shortcut: no infix alternative consumes a letter or a digit,
    # whatever letters or digits stand around it
    # (each string below is alphanumeric throughout, so one search covers every code point)
    alnum = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isalnum()]
    for left in ["a", "A", "1"]:
        for right in ["a", "A", "1"]:
            text = "".join(left + c + right for c in alnum)
            assert text.isalnum() and regex.search(text) is None, (left, right)


def test_url_match_answers_as_spacy_and_no_url_lacks_a_dot(nlp: spacy.Language) -> None:
    full = nlp.Defaults.url_match
    guarded = UrlMatch(full)
    assert guarded.pattern == full.__self__.pattern  # what spaCy serialises
    rng = random.Random(4)
    url_chars = "abcXYZ019.-_:/@?#=%~+αж"
    parts = ["http://", "https://", "ftp://", "www.", "user:pw@", "localhost", "example", ".com", ".org", ".co.uk",
             "192.168.0.1", "8.8.8.8", "10.0.0.1", ":8080", "/path", "?q=1", "#frag", "ru", "рф", ".", "a"]
    strings = ["".join(rng.choice(url_chars) for _ in range(rng.randint(1, 20))) for _ in range(20000)]
    strings += ["".join(rng.choice(parts) for _ in range(rng.randint(1, 6))) for _ in range(20000)]
    strings += _random_strings(5000, 5)
    matched = 0
    for w in strings:
        want = full(w)
        assert bool(guarded.match(w)) == bool(want), w
        if want:
            matched += 1
            assert "." in w, w  # the premise of the shortcut
    assert matched > 1000  # the generator does produce URLs


def test_bio_tokenizer_equals_a_plain_regex_tokenizer_cold_and_cached(nlp: spacy.Language) -> None:
    fast = make_bio_tokenizer(nlp)
    pieces = make_bio_tokenizer(spacy.blank("en"))
    plain = Tokenizer(
        nlp.vocab,
        rules=pieces.rules,
        prefix_search=pieces.prefix_search,
        suffix_search=compile_suffix_regex(list(nlp.Defaults.suffixes) + _BIO_SUFFIXES).search,
        infix_finditer=compile_infix_regex(list(nlp.Defaults.infixes) + _BIO_INFIXES).finditer,
        url_match=nlp.Defaults.url_match,
        max_cache_size=0,  # never cached: every chunk is split afresh
    )
    rng = random.Random(2)
    words = _random_strings(300, 3)
    texts = [" ".join(rng.choice(words) for _ in range(40)) for _ in range(200)]
    texts += ["5-fluorouracil (5-FU)-induced cardiotoxicity in IL-2/IL-4 cells, e.g. 10mg/kg i.v. vs. placebo.",
              "See https://www.ncbi.nlm.nih.gov/pubmed/?term=x, ftp://10.1.2.3:21/a and me@mail.example.org."]
    for _ in range(2):  # the second pass reads the chunks from the tokenizer's cache
        for t in texts:
            assert [x.text for x in fast(t)] == [x.text for x in plain(t)], t
    assert fast.max_cache_size > 10000


def test_sentence_splitter_boundaries_and_blank_lines_with_and_without_is_space() -> None:
    from spacy.attrs import IS_SPACE

    from ingest.text.tokenizer import BioSentenceSplitter

    text = ("Patients received 2.5 mg/kg i.v. daily (n = 3). Results were good, e.g. in rats.\n\n"
            "BACKGROUND: aspirin was given\n\nthen stopped. Was it safe? It was.\n \n\nNo title. "
            'Was it safe? "Yes." (It was.) We call " autosomal hemophilia. " We conclude.')
    want = ["Patients received 2.5 mg/kg i.v. daily (n = 3).", "Results were good, e.g. in rats.\n\n",
            "BACKGROUND: aspirin was given\n\n", "then stopped.", "Was it safe?", "It was.\n \n\n", "No title.",
            # a quote after a space opens the next sentence unless this one has an unclosed quote
            "Was it safe?", '"Yes."', "(It was.)", 'We call " autosomal hemophilia. "', "We conclude."]
    got = []
    for keep_is_space in (True, False):
        nlp = spacy.blank("en")  # a fresh vocabulary: no lexeme made before the getters change
        if not keep_is_space:  # blank lines are then found by looking at every token's text
            nlp.vocab.lex_attr_getters = {k: f for k, f in nlp.vocab.lex_attr_getters.items() if k != IS_SPACE}
        nlp.tokenizer = make_bio_tokenizer(nlp)
        doc = BioSentenceSplitter()(nlp.make_doc(text))
        assert any(t.is_space for t in doc) == keep_is_space
        got.append([s.text for s in doc.sents])
    assert got[0] == want and got[1] == want


def test_a_period_after_a_capital_ends_the_word_but_dotted_abbreviations_stay() -> None:
    from ingest.text.tokenizer import BioSentenceSplitter

    nlp = spacy.blank("en")
    nlp.tokenizer = make_bio_tokenizer(nlp)
    text = ("Rats lacked vitamin D. The toxicity of AmB. Chronic hepatitis C. Strains of E. coli were "
            "grown in the U.S. Food and Drug Administration study.")
    doc = BioSentenceSplitter()(nlp.make_doc(text))
    words = [t.text for t in doc]
    # the entity ends where the annotated corpora end it, before the period
    for name in ("D", "AmB", "C"):
        assert words[words.index(name) + 1] == "."
    assert "U.S." in words and "E" in words and "coli" in words
    assert [s.text for s in doc.sents] == [
        "Rats lacked vitamin D.", "The toxicity of AmB.", "Chronic hepatitis C.",
        "Strains of E. coli were grown in the U.S. Food and Drug Administration study."]
