"""``medkg_span_repair_v1``: entity boundary repair (unbalanced brackets, split compound codes)."""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from ingest.text.components.cache import EntTuple, fast_ents, scored_ent, set_ents, span_info, span_origin, token_texts


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
                out.append(scored_ent(doc, s2, e2, label, kb, score, source))
        set_ents(doc, out)
        return doc


def _is_code_head(t: str) -> bool:
    """``PG``, ``MK``, ``ACC``, ``WR``: 1-5 letters, starting with a capital, mostly capitals."""
    return 1 <= len(t) <= 5 and t.isalpha() and t[0].isupper() and sum(c.isupper() for c in t) * 2 >= len(t)


@Language.factory("medkg_span_repair_v1")
def make_span_repair(nlp: Language, name: str) -> SpanRepair:
    """Entity boundary repair: unbalanced brackets, split compound codes (``PG-9``)."""
    return SpanRepair()
