"""``medkg_linker_v1``: links mentions without an id by normalised exact / synonym match.

Unlinked mentions keep ``kb_id_ == ""``.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from ingest.text.components.abbreviations import abbreviation_ranges
from ingest.text.components.cache import (
    EntTuple, char_offsets, doc_text, fast_ents, load_vocabulary, scored_ent, span_info, span_key, token_texts,
    write_ents,
)
from ingest.text.vocabulary import Vocabulary


class Linker:
    """Link every mention without an id to a vocabulary entry of the same label.

    Confidence is the lookup confidence (1.0 preferred name, 0.95 synonym, 0.9
    normalised match) times 0.9 for NER mentions; unlinked NER mentions keep an
    empty id and score ``unlinked_score``. A ``Gene`` mention the names do not
    link is tried with the loose gene keys and link-only HGNC names
    (:meth:`Vocabulary.link_gene`: 0.85, or 0.75 by a fallback rule).
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
            surface = text[idx[start] : idx[end - 1] + length[end - 1]]
            hit = self.vocab.lookup(surface, label)
            if (hit is None or hit[0].label != label) and label == "Gene":
                hit = self.vocab.link_gene(surface)
            if hit is not None and hit[0].label == label:
                spans.append(scored_ent(doc, start, end, label, hit[0].id, round(self.ner_score * hit[1], 4), source))
            else:
                spans.append(scored_ent(doc, start, end, label, "", self.unlinked_score, source))
        if any(e[2] == "Gene" and not e[3] for e in spans) and "(" in token_texts(doc):
            spans = self._long_forms(doc, spans)
        write_ents(doc, spans)
        return doc

    def _long_forms(self, doc: Doc, spans: list[EntTuple]) -> list[EntTuple]:
        """``cyclooxygenase-2 (COX-2)``: an unlinked Gene long form takes its linked short form's id,
        and so does every other unlinked Gene mention written like the long form (score 0.9 x the short form's)."""
        info = span_info(doc)
        by_end = {e[1]: e for e in spans}
        by_range = {(e[0], e[1]): e for e in spans}
        text = doc.text
        give: dict[str, tuple[str, float]] = {}
        for l_start, l_end, s_start, s_end in abbreviation_ranges(doc):
            lf, sf = by_end.get(l_end), by_range.get((s_start, s_end))
            if lf is None or sf is None or lf[0] < l_start or lf[2] != "Gene" or lf[3] or sf[2] != "Gene" or not sf[3]:
                continue
            score = info.get(span_key(sf[0], sf[1]), (self.unlinked_score, ""))[0]
            give.setdefault(text[doc[lf[0]].idx : doc[lf[1] - 1].idx + len(doc[lf[1] - 1])].lower(), (sf[3], round(0.9 * score, 4)))
        if not give:
            return spans
        out = []
        for e in spans:
            if e[2] == "Gene" and not e[3]:
                hit = give.get(text[doc[e[0]].idx : doc[e[1] - 1].idx + len(doc[e[1] - 1])].lower())
                if hit is not None:
                    source = info.get(span_key(e[0], e[1]), (0.0, "ner"))[1]
                    e = scored_ent(doc, e[0], e[1], e[2], hit[0], hit[1], source)
            out.append(e)
        return out


@Language.factory("medkg_linker_v1", default_config={"vocabulary": "default", "ner_score": 0.9, "unlinked_score": 0.5})
def make_linker(nlp: Language, name: str, vocabulary: str, ner_score: float, unlinked_score: float) -> Linker:
    """Normalised exact/synonym linker over a vocabulary TSV."""
    return Linker(load_vocabulary(vocabulary), ner_score, unlinked_score)
