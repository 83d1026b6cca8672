"""``medkg_abbreviations_v1``: Schwartz-Hearst ``long form (SF)`` detection.

Every later ``SF`` gets the long form's label and id.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from ingest.text.components.cache import (
    EntTuple, char_offsets, doc_text, fast_ents, load_vocabulary, scored_ent, sentence_bounds, sentence_index,
    set_ents, span_info, span_origin, token_spaces, token_texts,
)
from ingest.text.vocabulary import Vocabulary


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
                    new_long.append(scored_ent(doc, l_start, l_end, entry.label, entry.id, conf, "dictionary"))
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
                        spans.append(scored_ent(doc, i, j + 1, label, kb, round(score * 0.95, 4), "abbreviation"))
        # abbreviation spans replace whatever overlapped them (e.g. a wrong NER label)
        covered = bytearray(len(doc))
        for sp in spans:
            covered[sp[0] : sp[1]] = b"\x01" * (sp[1] - sp[0])
        kept = [e for e in ents + new_long if not any(covered[e[0] : e[1]])]
        set_ents(doc, kept + spans)
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
