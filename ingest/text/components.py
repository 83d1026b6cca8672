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

Scores live in span extensions (``span._.medkg_score``, ``span._.medkg_source``)
so they survive ``nlp.pipe(..., n_process=2)``.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from graph_engine.errors import ModelError
from ingest.text.vocabulary import SKIP_TOKENS, Vocabulary, default_vocabulary_path, norm_token

EXTRACTOR = "medkg.relations"
EXTRACTOR_VERSION = "0.1.0"

for _name, _default in (("medkg_score", None), ("medkg_source", None)):
    if not Span.has_extension(_name):
        Span.set_extension(_name, default=_default)
for _name in ("medkg_cues", "medkg_relations"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


@lru_cache(maxsize=4)
def load_vocabulary(path: str = "default") -> Vocabulary:
    """Load (once per process) a vocabulary file; ``"default"`` is the shipped one."""
    return Vocabulary.load(default_vocabulary_path() if path in {"", "default"} else path)


def _span(doc: Doc, start: int, end: int, label: str, kb_id: str, score: float, source: str) -> Span:
    span = Span(doc, start, end, label=label, kb_id=kb_id)
    span._.medkg_score = score
    span._.medkg_source = source
    return span


def _set_ents(doc: Doc, spans: Iterable[Span]) -> None:
    # spans lose their extension values when re-created, so keep them keyed by offsets
    doc.ents = filter_spans(list(spans))


# --------------------------------------------------------------------------- dictionary


class DictionaryRecognizer:
    """Longest-match recogniser over normalised token keys (see :mod:`ingest.text.vocabulary`).

    Scans left to right; at each token it extends the key while it is a prefix
    of some name, remembers the longest full name, and jumps past it. Cost is
    about one dict lookup per token, so it runs at hundreds of thousands of
    words per second.
    """

    def __init__(self, vocab: Vocabulary, labels: Iterable[str] | None = None, overwrite: bool = False, max_tokens: int = 16) -> None:
        self.vocab = vocab
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
        self._norm_cache: dict[str, str] = {}

    def _norm(self, text: str) -> str:
        cache = self._norm_cache
        v = cache.get(text)
        if v is None:
            v = "" if text.lower() in SKIP_TOKENS else norm_token(text)
            if len(cache) > 500_000:
                cache.clear()
            cache[text] = v
        return v

    def matches(self, doc: Doc) -> list[tuple[int, int, int, bool, bool]]:
        """``(start, end, entry index, preferred-name flag, cased)`` of the longest matches."""
        texts = [t.text for t in doc]
        norms = [self._norm(t) for t in texts]
        n = len(texts)
        keys, cased, prefixes, cprefixes = self.vocab.keys, self.vocab.cased, self.prefixes, self.cased_prefixes
        out = []
        i = 0
        while i < n:
            best: tuple[int, tuple[int, bool], bool] | None = None
            if norms[i] and (norms[i],) in prefixes:
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
            if (texts[i],) in cprefixes:
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
                i += 1
                continue
            end, (idx, preferred), was_cased = best
            # never end a match on skipped punctuation ("Parkinson's" -> keep "Parkinson's")
            out.append((i, end, idx, preferred, was_cased))
            i = end
        return out

    def __call__(self, doc: Doc) -> Doc:
        spans = []
        entries = self.vocab.entries
        for start, end, idx, preferred, was_cased in self.matches(doc):
            e = entries[idx]
            if self.labels is not None and e.label not in self.labels:
                continue
            text = doc[start:end].text
            exact = text.lower() in (e.name.lower(),) if preferred else any(text.lower() == s.lower() for s in e.synonyms)
            score = (1.0 if preferred else 0.95) if exact else 0.9
            spans.append(_span(doc, start, end, e.label, e.id, score, "dictionary"))
        if self.overwrite or not doc.ents:
            _set_ents(doc, spans)
        else:
            _set_ents(doc, list(doc.ents) + [s for s in spans if not any(s.start < x.end and x.start < s.end for x in doc.ents)])
        return doc


@Language.factory(
    "medkg_dictionary_v1",
    default_config={"vocabulary": "default", "labels": ["Disease", "Drug", "Gene"], "overwrite": False},
)
def make_dictionary(nlp: Language, name: str, vocabulary: str, labels: list[str], overwrite: bool) -> DictionaryRecognizer:
    """Dictionary recogniser over a vocabulary TSV (``"default"``: the shipped one)."""
    return DictionaryRecognizer(load_vocabulary(vocabulary), labels, overwrite)


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


def find_abbreviations(doc: Doc) -> list[tuple[Span, Span]]:
    """``(long form span, short form span)`` pairs for ``long form (SF)`` patterns."""
    out: list[tuple[Span, Span]] = []
    if "(" not in doc.text:
        return out
    n = len(doc)
    for k, tok in enumerate(doc):
        if tok.text != "(":
            continue
        close = next((j for j in range(k + 1, min(n, k + 6)) if doc[j].text == ")"), None)
        if close is None or close == k + 1:
            continue
        short = doc[k + 1 : close]
        sf = short.text
        if not (2 <= len(sf) <= 10) or len(short) > 3 or not sf[0].isalnum() or not any(c.isalpha() for c in sf):
            continue
        sent_start = tok.sent.start if doc.has_annotation("SENT_START") else 0
        max_words = min(len(sf) + 5, len(sf) * 2)
        lo = k
        words = 0
        while lo > sent_start and words < max_words:
            lo -= 1
            if not doc[lo].is_punct:
                words += 1
        cand = [t for t in doc[lo:k]]
        if not cand:
            continue
        w = _sh_long_form(sf, [t.text for t in cand])
        if w is None:
            continue
        long = doc[cand[w].i : k]
        if len(long.text) <= len(sf):
            continue
        out.append((long, short))
    return out


class AbbreviationResolver:
    """Give every occurrence of a short form the label and id of its long form.

    The long form's label/id comes from the entity that ends where it ends (found
    by the dictionary or the NER), else from a vocabulary lookup of the long form.
    """

    def __init__(self, vocab: Vocabulary | None) -> None:
        self.vocab = vocab

    def __call__(self, doc: Doc) -> Doc:
        pairs = find_abbreviations(doc)
        if not pairs:
            return doc
        ents = list(doc.ents)
        by_end = {e.end: e for e in ents}
        defs: dict[str, tuple[str, str, float]] = {}
        new_long: list[Span] = []
        for long, short in pairs:
            ent = by_end.get(long.end)
            if ent is not None and ent.start >= long.start:
                defs.setdefault(short.text, (ent.label_, ent.kb_id_, float(ent._.medkg_score or 0.8)))
            elif self.vocab is not None:
                hit = self.vocab.lookup(long.text)
                if hit is not None:
                    entry, conf = hit
                    defs.setdefault(short.text, (entry.label, entry.id, conf))
                    new_long.append(_span(doc, long.start, long.end, entry.label, entry.id, conf, "dictionary"))
        if not defs:
            return doc
        first_words = {sf.split()[0] if " " in sf else sf for sf in defs}
        spans: list[Span] = []
        for tok in doc:
            if tok.text not in first_words:
                continue
            for sf, (label, kb, score) in defs.items():
                end_char = tok.idx + len(sf)
                if doc.text[tok.idx : end_char] == sf:
                    span = doc.char_span(tok.idx, end_char)
                    if span is not None:
                        spans.append(_span(doc, span.start, span.end, label, kb, round(score * 0.95, 4), "abbreviation"))
        # abbreviation spans replace whatever overlapped them (e.g. a wrong NER label)
        kept = [e for e in ents + new_long if not any(e.start < s.end and s.start < e.end for s in spans)]
        _set_ents(doc, kept + spans)
        return doc


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

    def __init__(self, vocab: Vocabulary, ner_score: float = 0.9, unlinked_score: float = 0.5) -> None:
        self.vocab = vocab
        self.ner_score = ner_score
        self.unlinked_score = unlinked_score

    def __call__(self, doc: Doc) -> Doc:
        changed = False
        spans = []
        for ent in doc.ents:
            if ent.kb_id_:
                if ent._.medkg_score is None:
                    ent._.medkg_score, ent._.medkg_source = 1.0, "dictionary"
                spans.append(ent)
                continue
            changed = True
            hit = self.vocab.lookup(ent.text, ent.label_)
            if hit is not None and hit[0].label == ent.label_:
                spans.append(_span(doc, ent.start, ent.end, ent.label_, hit[0].id, round(self.ner_score * hit[1], 4), ent._.medkg_source or "ner"))
            else:
                spans.append(_span(doc, ent.start, ent.end, ent.label_, "", self.unlinked_score, ent._.medkg_source or "ner"))
        if changed:
            doc.ents = spans
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
        has_sents = doc.has_annotation("SENT_START")
        for sent in doc.sents if has_sents else [doc[:]]:
            toks = [t.lower_ for t in sent]
            base = sent.start
            for k, w in enumerate(toks):
                kind = "negation" if w in NEGATION_CUES else "speculation" if w in SPECULATION_CUES else None
                if kind is None:
                    continue
                if w in BACKWARD_CUES:
                    lo = k
                    while lo > 0 and toks[lo - 1] not in SCOPE_BREAKS and toks[lo - 1] != ",":
                        lo -= 1
                    cues.append((kind, base + k, base + lo, base + k))
                    continue
                hi = k + 1
                while hi < len(toks) and toks[hi] not in SCOPE_BREAKS:
                    hi += 1
                cues.append((kind, base + k, base + k + 1, base + hi))
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


@Language.factory("medkg_negation_v1")
def make_negation(nlp: Language, name: str) -> CueDetector:
    """Negation and speculation cue detector."""
    return CueDetector()


# --------------------------------------------------------------------------- relations


@lru_cache(maxsize=1)
def relation_rules() -> dict[str, Any]:
    """Pair types, subjects and trigger stems (``ingest/text/data/relations.toml``)."""
    return tomllib.loads(resources.files("ingest.text").joinpath("data/relations.toml").read_text(encoding="utf-8"))


_TOKEN_RE = re.compile(r"[a-z][a-z\-]+")


def pair_features(doc: Doc, a: Span, b: Span) -> list[str]:
    """Features of an ordered mention pair in one sentence (used by the trained models).

    Words between the mentions (entity mentions masked by their label), two words
    either side, the pair's label order, token distance bucket, and whether a
    third entity or a negation cue sits between them.
    """
    feats = [f"order={a.label_}>{b.label_}", f"dist={min(8, (b.start - a.end).bit_length())}"]
    ents_between = [e for e in doc.ents if e.start >= a.end and e.end <= b.start]
    masked = {t.i: f"<{e.label_}>" for e in ents_between for t in e}
    between = []
    for t in doc[a.end : b.start]:
        w = masked.get(t.i) or t.lower_
        if between and between[-1] == w:
            continue
        between.append(w)
    for w in between:
        feats.append(f"b={w}")
    for x, y in zip(between, between[1:]):
        feats.append(f"bb={x}_{y}")
    if len(between) <= 2:
        feats.append("adjacent=" + "_".join(between))
    lo = max(a.sent.start, a.start - 2)
    for t in doc[lo : a.start]:
        feats.append(f"l={t.lower_}")
    for t in doc[b.end : min(b.sent.end, b.end + 2)]:
        feats.append(f"r={t.lower_}")
    feats.append(f"n_ents_between={min(3, len(ents_between))}")
    return feats


class LinearModel:
    """A sparse logistic-regression model over string features (weights in JSON)."""

    def __init__(self, weights: dict[str, float], bias: float, threshold: float = 0.5, meta: dict[str, Any] | None = None) -> None:
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.meta = meta or {}

    def prob(self, feats: Iterable[str]) -> float:
        w = self.weights
        z = self.bias + sum(w.get(f, 0.0) for f in feats)
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

    def __init__(self, models: dict[str, LinearModel], threshold: float = 0.5, max_distance: int = 40, max_pairs_per_sentence: int = 60) -> None:
        rules = relation_rules()
        self.pairs: dict[tuple[str, str], tuple[str, list[str]]] = {}
        for p in rules["pairs"]:
            a, b = p["labels"]
            self.pairs[(a, b)] = (p["subject"], p["types"])
            self.pairs[(b, a)] = (p["subject"], p["types"])
        self.triggers = {k: tuple(v) for k, v in rules["triggers"].items()}
        self.models = models
        self.threshold = threshold
        self.max_distance = max_distance
        self.max_pairs = max_pairs_per_sentence
        self.version = f"{EXTRACTOR_VERSION}+rules{rules.get('version', '')}"

    def _trigger_score(self, rel: str, window: str) -> float:
        hits = sum(1 for stem in self.triggers.get(rel, ()) if stem in window)
        return 0.0 if hits == 0 else min(0.85, 0.55 + 0.1 * hits)

    def candidates(self, doc: Doc) -> Iterable[tuple[Span, Span, str, list[str]]]:
        """Ordered pairs ``(first, second, subject label, types)`` in each sentence."""
        ents = [e for e in doc.ents if e.kb_id_]
        if len(ents) < 2:
            return
        by_sent: dict[int, list[Span]] = {}
        for e in ents:
            by_sent.setdefault(e.sent.start, []).append(e)
        for group in by_sent.values():
            n = 0
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    if a.kb_id_ == b.kb_id_ or b.start - a.end > self.max_distance:
                        continue
                    rule = self.pairs.get((a.label_, b.label_))
                    if rule is None:
                        continue
                    n += 1
                    if n > self.max_pairs:
                        break
                    yield a, b, rule[0], rule[1]

    def __call__(self, doc: Doc) -> Doc:
        out = []
        cues = doc_cues(doc)
        for a, b, subject_label, types in self.candidates(doc):
            window_toks = doc[a.end : b.start]
            window = " " + window_toks.text.lower() + " " + (doc[b.end : b.end + 1].text.lower() if b.end < len(doc) else "")
            feats: list[str] | None = None
            best_type, best = None, 0.0
            for rel in types:
                model = self.models.get(rel)
                if model is not None:
                    feats = feats if feats is not None else pair_features(doc, a, b)
                    score = model.prob(feats)
                    if score < model.threshold:
                        score = min(score, self.threshold - 1e-3)
                else:
                    score = self._trigger_score(rel, window)
                    score *= 1.0 - min(0.3, len(window_toks) / 100)
                if score > best:
                    best_type, best = rel, score
            if best_type is None or best < self.threshold:
                continue
            subj, obj = (a, b) if a.label_ == subject_label else (b, a)
            lo, hi = min(a.start, b.start), max(a.end, b.end)
            neg = spec = False
            for c in cues:
                if c.scope_start < hi and lo < c.scope_end and c.token < hi:
                    if c.kind == "negation":
                        neg = True
                    else:
                        spec = True
            out.append((best_type, subj.start, subj.end, obj.start, obj.end, round(best, 4), neg, spec))
        doc._.medkg_relations = out
        return doc


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
