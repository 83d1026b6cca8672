"""``medkg_linker_v1``: links mentions without an id by normalised exact / synonym match.

Unlinked mentions keep ``kb_id_ == ""``.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from ingest.text.components.cache import (
    EntTuple, char_offsets, doc_text, fast_ents, load_vocabulary, scored_ent, span_info, span_key, write_ents,
)
from ingest.text.vocabulary import Vocabulary


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
                spans.append(scored_ent(doc, start, end, label, hit[0].id, round(self.ner_score * hit[1], 4), source))
            else:
                spans.append(scored_ent(doc, start, end, label, "", self.unlinked_score, source))
        write_ents(doc, spans)
        return doc


@Language.factory("medkg_linker_v1", default_config={"vocabulary": "default", "ner_score": 0.9, "unlinked_score": 0.5})
def make_linker(nlp: Language, name: str, vocabulary: str, ner_score: float, unlinked_score: float) -> Linker:
    """Normalised exact/synonym linker over a vocabulary TSV."""
    return Linker(load_vocabulary(vocabulary), ner_score, unlinked_score)
