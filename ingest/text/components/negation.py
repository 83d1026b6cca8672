"""``medkg_negation_v1``: NegEx-style negation and speculation cues with their scope (``doc._.medkg_cues``)."""

from __future__ import annotations

from dataclasses import dataclass

from spacy.language import Language
from spacy.tokens import Doc

from ingest.text.components.cache import sentence_bounds, sentence_index, token_lowers

if not Doc.has_extension("medkg_cues"):
    Doc.set_extension("medkg_cues", default=None)


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
