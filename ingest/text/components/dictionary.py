"""``medkg_dictionary_v1``: longest-match dictionary recogniser over the vocabulary (names + synonyms).

Sets ``doc.ents`` with the entity id in ``kb_id_``.
"""

from __future__ import annotations

from typing import Iterable

from spacy.language import Language
from spacy.tokens import Doc

from graph_engine.errors import ModelError
from ingest.text.components import cache as _cache
from ingest.text.components.cache import (
    EntTuple, fast_ents, filter_ents, load_vocabulary, set_ents, span_info, span_key, token_texts, write_ents,
)
from ingest.text.vocabulary import SKIP_TOKENS, Vocabulary, norm_token


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
            if len(cache) > _cache.CACHE_LIMIT:
                cache.clear()
            cache[text] = v
        return v

    def matches(self, doc: Doc) -> list[tuple[int, int, int, bool, bool]]:
        """``(start, end, entry index, preferred-name flag, cased)`` of the longest matches."""
        texts = token_texts(doc)
        cache = self._norm_cache
        if len(cache) > _cache.CACHE_LIMIT:
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
            set_ents(doc, spans + fast_ents(doc))
        else:
            existing = fast_ents(doc)
            set_ents(doc, existing + [s for s in spans if not any(s[0] < x[1] and x[0] < s[1] for x in existing)])
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
