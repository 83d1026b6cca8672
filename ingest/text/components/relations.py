"""``medkg_relations_v1``: sentence-level typed relations between linked mentions (``doc._.medkg_relations``).

Pair features, the sparse linear models over them (:class:`LinearModel`, and
:class:`PairScorer`, the same probability without feature strings) and the
extractor.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy
from spacy.language import Language
from spacy.tokens import Doc, Span

from graph_engine.errors import ModelError
from ingest.text.components import cache as _cache
from ingest.text.components.cache import EntTuple, fast_ents, sentence_bounds, sentence_index, token_lowers, token_texts
from ingest.text.components.pair_cnn import PairCnnModel, same_name
from ingest.text.components.negation import Cue, doc_cues
from ingest.text.components.targets import TARGETS_MODEL_FILE, TargetsModel, nested_genes, targets_relations
from ingest.text.records import HEDGED_TYPES  # relation types stated as advice: prohibitions there are no negation

EXTRACTOR = "medkg.relations"
EXTRACTOR_VERSION = "0.1.0"

if not Doc.has_extension("medkg_relations"):
    Doc.set_extension("medkg_relations", default=None)


@lru_cache(maxsize=1)
def relation_rules() -> dict[str, Any]:
    """Pair types, subjects and trigger stems (``ingest/text/data/relations.toml``)."""
    return tomllib.loads(resources.files("ingest.text").joinpath("data/relations.toml").read_text(encoding="utf-8"))


#: type, subject start/end, object start/end (tokens), score, negated, speculative,
#: subject id, object id (``""``: an unlinked mention), subject label, object label,
#: kind: the relation's sub-type (``Relation.kind``): the interaction type of ``INTERACTS_WITH``
#: (with a type model), the action of ``TARGETS``, else ``None``
RelationTuple = tuple[str, int, int, int, int, float, bool, bool, str, str, str, str, str | None]

#: the pair types the neural pair model decides (Drug-Drug pairs)
NEURAL_TYPES = ["INTERACTS_WITH"]

#: prefix of the pairing key of a mention without an id (its lower-cased tokens follow)
TEXT_KEY = "text:"


def pairing_keys(ents: list[EntTuple], lowers: list[str] | None) -> list[str]:
    """The key that says which mentions stand for the same entity: the linked id, else
    ``text:`` + the mention's lower-cased tokens (``lowers`` is needed only for unlinked mentions).

    Two mentions with the same key are never paired; the aggregation of document-level
    relations groups mention pairs by these keys.
    """
    return [e[3] or (TEXT_KEY + " ".join(lowers[e[0] : e[1]]) if lowers is not None else "") for e in ents]


_FEAT_B: dict[str, str] = {}


def entity_masks(ents: list[EntTuple]) -> tuple[dict[int, str], list[int]]:
    """Token index -> ``<Label>`` for every entity token, and the sorted entity starts."""
    masked = {i: f"<{e[2]}>" for e in ents for i in range(e[0], e[1])}
    return masked, sorted(e[0] for e in ents)


def _pair_parts(
    lowers: list[str],
    ents: list[EntTuple],
    a: EntTuple,
    b: EntTuple,
    sent: tuple[int, int],
    masks: tuple[dict[int, str], list[int]] | None = None,
) -> tuple[int, list[str], list[str], list[str], int]:
    """What the features of the ordered pair ``a`` before ``b`` are made of (one definition
    for :func:`_pair_features` and :class:`PairScorer`).

    Returns:
        ``(distance bucket, words between, left words, right words, mentions-between bucket)``:
        the words between are lower-cased, entity tokens masked as ``<Label>``, consecutive
        repeats dropped; left / right are up to two words before ``a`` / after ``b`` within
        the sentence.
    """
    # entities never overlap, so every entity token strictly between a and b belongs
    # to an entity that lies wholly between them
    masked, starts = masks if masks is not None else entity_masks(ents)
    between: list[str] = []
    for i in range(a[1], b[0]):
        w = masked.get(i) or lowers[i]
        if between and between[-1] == w:
            continue
        between.append(w)
    n_between = bisect.bisect_left(starts, b[0]) - bisect.bisect_left(starts, a[1])
    return (min(8, (b[0] - a[1]).bit_length()), between, lowers[max(sent[0], a[0] - 2) : a[0]],
            lowers[b[1] : min(sent[1], b[1] + 2)], min(3, n_between))


def _pair_features(
    lowers: list[str],
    ents: list[EntTuple],
    a: EntTuple,
    b: EntTuple,
    sent: tuple[int, int],
    masks: tuple[dict[int, str], list[int]] | None = None,
) -> list[str]:
    dist, between, left, right, n_between = _pair_parts(lowers, ents, a, b, sent, masks)
    feats = [f"order={a[2]}>{b[2]}", f"dist={dist}"]
    fb = _FEAT_B
    if len(fb) > _cache.CACHE_LIMIT:
        fb.clear()
    for w in between:
        f = fb.get(w)
        if f is None:
            f = fb[w] = "b=" + w
        feats.append(f)
    feats.extend(f"bb={x}_{y}" for x, y in zip(between, between[1:]))
    if len(between) <= 2:
        feats.append("adjacent=" + "_".join(between))
    feats.extend("l=" + w for w in left)
    feats.extend("r=" + w for w in right)
    feats.append(f"n_ents_between={n_between}")
    return feats


def pair_features(doc: Doc, a: Span, b: Span) -> list[str]:
    """Features of an ordered mention pair in one sentence (used by the trained models).

    Words between the mentions (entity mentions masked by their label), two words
    either side within the sentence, the pair's label order, a token-distance
    bucket, and the number of other mentions between them.
    """
    ents = [(e.start, e.end, e.label_, e.kb_id_) for e in doc.ents]
    sent = a.sent
    return _pair_features(token_lowers(doc), ents, (a.start, a.end, a.label_, a.kb_id_), (b.start, b.end, b.label_, b.kb_id_), (sent.start, sent.end))


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


class LinearModel:
    """A sparse logistic-regression model over string features (weights in JSON)."""

    def __init__(self, weights: dict[str, float], bias: float, threshold: float = 0.5, meta: dict[str, Any] | None = None) -> None:
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.meta = meta or {}

    def logit(self, feats: Iterable[str]) -> float:
        # map/filter run in C: unknown features give None and are dropped (a 0.0 weight too)
        return self.bias + sum(filter(None, map(self.weights.get, feats)))

    def prob(self, feats: Iterable[str]) -> float:
        return sigmoid(self.logit(feats))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"bias": self.bias, "threshold": self.threshold, "meta": self.meta, "weights": self.weights}, sort_keys=True))

    def prob_values(self, values: dict[str, float]) -> float:
        """The probability for named numeric features (the document-level model's input)."""
        get = self.weights.get
        return sigmoid(self.bias + sum(get(k, 0.0) * v for k, v in values.items()))

    @classmethod
    def load(cls, path: str | Path) -> "LinearModel":
        try:
            data = json.loads(Path(path).read_text())
            return cls(data["weights"], data["bias"], data.get("threshold", 0.5), data.get("meta", {}))
        except (OSError, KeyError, json.JSONDecodeError) as err:
            raise ModelError(f"cannot load relation model {path}: {err}; retrain with benchmarks/train_relations.py") from err


def _hits(tables: Any, parts: tuple[int, list[str], list[str], list[str], int], a_label: str, b_label: str) -> list[Any]:
    """The non-zero weights (floats, or tuples of per-class floats) a pair meets in ``tables``
    (a :class:`PairScorer` or :class:`_VectorScorer`), in the order :meth:`LinearModel.prob` adds
    them over :func:`_pair_features`."""
    dist, between, left, right, n_between = parts
    ws: list[Any] = []
    append = ws.append
    w = tables.order.get((a_label, b_label))
    if w:
        append(w)
    w = tables.dist.get(dist)
    if w:
        append(w)
    get = tables.b.get
    for x in between:
        w = get(x)
        if w:
            append(w)
    bb = tables.bb
    for k in range(len(between) - 1):
        row = bb.get(between[k])
        if row is not None:
            w = row.get(between[k + 1])
            if w:
                append(w)
    if len(between) <= 2:
        w = tables.adjacent.get("_".join(between))
        if w:
            append(w)
    for get, words in ((tables.l.get, left), (tables.r.get, right)):
        for x in words:
            w = get(x)
            if w:
                append(w)
    w = tables.n_between.get(n_between)
    if w:
        append(w)
    return ws


class PairScorer:
    """``LinearModel.prob(_pair_features(...))`` without building the feature strings.

    The model's weights are regrouped once by feature family (``b=`` word, ``bb=``
    word pair, ``l=`` / ``r=`` context word, ``adjacent=``, ``order=``, ``dist=``,
    ``n_ents_between=``) and looked up by the raw words, so a pair costs dictionary
    lookups instead of f-strings. The same non-zero weights are added in the same
    order as :meth:`LinearModel.prob` over :func:`_pair_features`, so the probability
    is bit-identical (tested). A model with a feature family this class does not know
    is refused (``ValueError``); the caller then keeps the string path.
    """

    def __init__(self, model: LinearModel) -> None:
        self.bias = model.bias
        self.b: dict[str, float] = {}
        self.l: dict[str, float] = {}
        self.r: dict[str, float] = {}
        self.bb: dict[str, dict[str, float]] = {}
        self.adjacent: dict[str, float] = {}
        self.order: dict[tuple[str, str], float] = {}
        self.dist: dict[int, float] = {}
        self.n_between: dict[int, float] = {}
        words = {"b": self.b, "l": self.l, "r": self.r, "adjacent": self.adjacent}
        for key, w in model.weights.items():
            if not w:  # LinearModel.prob drops zero weights too
                continue
            family, sep, value = key.partition("=")
            if not sep:
                raise ValueError(f"relation feature {key!r} has no family")
            if family in words:
                words[family][value] = w
            elif family == "bb":
                # "bb=x_y" with words that may hold "_": every split is a word pair whose
                # feature string is exactly this key
                for k, ch in enumerate(value):
                    if ch == "_":
                        self.bb.setdefault(value[:k], {})[value[k + 1 :]] = w
            elif family == "order" and value.count(">") == 1:
                x, _, y = value.partition(">")
                self.order[(x, y)] = w
            elif family in ("dist", "n_ents_between") and value.isdigit() and value == str(int(value)):
                (self.dist if family == "dist" else self.n_between)[int(value)] = w
            else:
                raise ValueError(f"relation feature {key!r}: unknown family {family!r}")

    def prob(self, lowers: list[str], ents: list[EntTuple], a: EntTuple, b: EntTuple, sent: tuple[int, int],
             masks: tuple[dict[int, str], list[int]] | None = None) -> float:
        """The model's probability for the ordered pair ``a`` before ``b`` in sentence ``sent``."""
        return sigmoid(self.logit(lowers, ents, a, b, sent, masks))

    def logit(self, lowers: list[str], ents: list[EntTuple], a: EntTuple, b: EntTuple, sent: tuple[int, int],
              masks: tuple[dict[int, str], list[int]] | None = None) -> float:
        """The model's log-odds for the ordered pair ``a`` before ``b`` in sentence ``sent``."""
        return self.logit_parts(_pair_parts(lowers, ents, a, b, sent, masks), a[2], b[2])

    def logit_parts(self, parts: tuple[int, list[str], list[str], list[str], int], a_label: str, b_label: str) -> float:
        """:meth:`logit` from the pair's :func:`_pair_parts` (shared by several models of one pair)."""
        return self.bias + sum(_hits(self, parts, a_label, b_label))


class _VectorScorer:
    """Several :class:`PairScorer` tables merged: one lookup per word gives every class's weight,
    and each class's log-odds is its bias plus the same non-zero weights in the same order as its
    own :meth:`PairScorer.logit_parts` (zeros added in between change no float), so the
    log-odds are bit-identical."""

    def __init__(self, scorers: list[PairScorer]) -> None:
        k = len(scorers)

        def merge(tables: list[dict[Any, float]]) -> dict[Any, tuple[float, ...]]:
            out: dict[Any, list[float]] = {}
            for i, table in enumerate(tables):
                for key, w in table.items():
                    out.setdefault(key, [0.0] * k)[i] = w
            return {key: tuple(v) for key, v in out.items()}

        self.bias = [s.bias for s in scorers]
        self.b = merge([s.b for s in scorers])
        self.l = merge([s.l for s in scorers])
        self.r = merge([s.r for s in scorers])
        self.adjacent = merge([s.adjacent for s in scorers])
        self.order = merge([s.order for s in scorers])
        self.dist = merge([s.dist for s in scorers])
        self.n_between = merge([s.n_between for s in scorers])
        firsts = {x for s in scorers for x in s.bb}
        self.bb = {x: merge([s.bb.get(x, {}) for s in scorers]) for x in firsts}

    def logits(self, parts: tuple[int, list[str], list[str], list[str], int], a_label: str, b_label: str) -> list[float]:
        hits: list[tuple[float, ...]] = _hits(self, parts, a_label, b_label)
        if not hits:
            return list(self.bias)
        return [b + sum(col) for b, col in zip(self.bias, zip(*hits))]


class TypeModel:
    """Multinomial logistic regression over :func:`pair_features`: one weight table per class.

    ``classes[0]`` is the "no relation" class; :meth:`best` returns the most likely of the
    others (the detection model decides *whether* there is a relation, this one *which*).
    Saved as JSON ``{"classes", "models": {class: {"bias", "weights"}}, "meta"}``.
    """

    def __init__(self, classes: list[str], models: dict[str, LinearModel], meta: dict[str, Any] | None = None) -> None:
        if len(classes) < 2 or set(classes) != set(models):
            raise ModelError(f"type model: classes {classes} do not match its weight tables {sorted(models)}")
        self.classes = classes
        self.models = models
        self.meta = meta or {}
        self.scorers: dict[str, PairScorer] = {}
        self.vector: _VectorScorer | None = None
        try:
            self.scorers = {c: PairScorer(m) for c, m in models.items()}
            self.vector = _VectorScorer([self.scorers[c] for c in classes[1:]])
        except ValueError:  # unknown feature family: the string path
            self.scorers = {}

    def best(self, lowers: list[str], ents: list[EntTuple], a: EntTuple, b: EntTuple, sent: tuple[int, int],
             masks: tuple[dict[int, str], list[int]] | None = None) -> str:
        """The most likely class other than ``classes[0]`` for the ordered pair ``a`` before ``b``."""
        if self.vector is not None:
            z = self.vector.logits(_pair_parts(lowers, ents, a, b, sent, masks), a[2], b[2])
            scores = list(zip(z, self.classes[1:]))
        else:
            feats = _pair_features(lowers, ents, a, b, sent, masks)
            scores = [(self.models[c].logit(feats), c) for c in self.classes[1:]]
        return max(scores)[1]

    def save(self, path: str | Path) -> None:
        models = {c: {"bias": m.bias, "weights": m.weights} for c, m in self.models.items()}
        Path(path).write_text(json.dumps({"classes": self.classes, "models": models, "meta": self.meta}, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> "TypeModel":
        try:
            data = json.loads(Path(path).read_text())
            models = {c: LinearModel(m["weights"], m["bias"]) for c, m in data["models"].items()}
            return cls(list(data["classes"]), models, data.get("meta", {}))
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as err:
            raise ModelError(f"cannot load relation type model {path}: {err}; retrain with python -m ingest.text.relation_training") from err


#: keys of the extra models in a ``models`` mapping: the DDI interaction-type model, the CID document-level model,
#: the ChemProt TARGETS {action} classifier (a :class:`~ingest.text.components.targets.TargetsModel`)
TYPE_MODEL = "INTERACTS_WITH.type"
DOC_MODEL = "CAUSES.doc"
TARGETS_MODEL = "TARGETS"
#: shipped model files by key (relation type, or one of the keys above)
MODEL_FILES = {
    "CAUSES": "relations-cid-0.1.0.json",
    "TREATS": "relations-treats-0.1.0.json",
    "ASSOCIATES": "relations-associates-0.1.0.json",
    "INTERACTS_WITH": "relations-ddi-0.1.0.json",
    TYPE_MODEL: "relations-ddi-type-0.2.0.json",
    DOC_MODEL: "relations-cid-doc-0.2.0.json",
    TARGETS_MODEL: TARGETS_MODEL_FILE,
}


def default_relation_models() -> dict[str, str]:
    """Shipped trained relation models by key (those that exist; see :data:`MODEL_FILES`)."""
    base = resources.files("ingest.text").joinpath("models")
    out = {}
    for rel, fname in MODEL_FILES.items():
        p = base.joinpath(fname)
        if p.is_file():
            out[rel] = str(p)
    return out


def load_relation_models(paths: dict[str, str]) -> dict[str, Any]:
    """Load each model of ``paths`` (key -> file) with its class: :class:`TypeModel` for :data:`TYPE_MODEL`,
    :class:`~ingest.text.components.targets.TargetsModel` for :data:`TARGETS_MODEL`."""
    loaders = {TYPE_MODEL: TypeModel.load, TARGETS_MODEL: TargetsModel.load}
    return {k: loaders.get(k, LinearModel.load)(v) for k, v in paths.items()}


#: token distance cap of a TARGETS pair (the model was trained on every pair of a sentence)
TARGETS_MAX_DISTANCE = 120


def doc_pair_features(
    subj_sents: list[int],
    obj_sents: list[int],
    logits: list[float],
    subj_top: bool,
    obj_top: bool,
    n_subj_keys: int,
    n_obj_keys: int,
    last_sentence: int = -1,
) -> dict[str, float]:
    """Document-level features of one (subject entity, object entity) pair (the CID aggregation).

    Args:
        subj_sents, obj_sents: the sentence number of every mention of each entity (0 = the title).
        logits: the sentence-level model's log-odds of every scored mention pair of the two.
        subj_top, obj_top: whether the entity is (one of) the most mentioned of its label.
        n_subj_keys, n_obj_keys: how many distinct entities of each label the document has.
        last_sentence: the number of the document's last sentence (its conclusion, where a CID
            is often stated), ``-1`` if unknown.

    The pair's mention-pair scores are pooled (max and log-sum-exp of the log-odds, the
    number of positive mention pairs); pairs that never share a scored sentence get their
    sentence distance instead. Title and salience features apply to both.
    """
    f: dict[str, float] = {}
    shared = set(subj_sents).intersection(obj_sents)
    if logits:
        zmax = max(logits)
        f["max_p"] = sigmoid(zmax)
        f["lse"] = max(-10.0, min(10.0, zmax + math.log(sum(math.exp(z - zmax) for z in logits))))
        f["n_pos"] = math.log1p(sum(1 for z in logits if z > 0))
        f["n_sent"] = math.log1p(len(shared))
    elif shared:
        f["shared_unscored"] = 1.0
    else:
        dist = min(abs(i - j) for i in set(subj_sents) for j in set(obj_sents))
        f["cross=1" if dist == 1 else "cross=2" if dist == 2 else "cross=3+"] = 1.0
    s_title, o_title = 0 in subj_sents, 0 in obj_sents
    f["s_title"] = float(s_title)
    f["o_title"] = float(o_title)
    f["both_title"] = float(s_title and o_title)
    f["s_count"] = math.log1p(len(subj_sents))
    f["o_count"] = math.log1p(len(obj_sents))
    f["s_top"] = float(subj_top)
    f["o_top"] = float(obj_top)
    f["both_top"] = float(subj_top and obj_top)
    f["n_s_keys"] = math.log1p(n_subj_keys)
    f["n_o_keys"] = math.log1p(n_obj_keys)
    if last_sentence > 0:
        s_last, o_last = last_sentence in subj_sents, last_sentence in obj_sents
        f["s_last"] = float(s_last)
        f["o_last"] = float(o_last)
        f["both_last"] = float(s_last and o_last)
    return f


#: a mention pair scored by the sentence model: log-odds, subject entity, object entity, sentence number
ScoredPair = tuple[float, EntTuple, EntTuple, int]


class _Entity:
    """One entity of a document for the document-level step: its mentions' sentences and flags."""

    __slots__ = ("key", "sents", "uniq", "title", "last", "top", "salient")

    def __init__(self, key: str, sents: list[int], top_count: int, last: int) -> None:
        self.key = key
        self.sents = sents
        self.uniq = frozenset(sents)
        self.title = 0 in self.uniq
        self.last = last > 0 and last in self.uniq
        self.top = len(sents) == top_count
        # salient: in the title, or the most mentioned of its label (and mentioned more than once)
        self.salient = self.title or (self.top and top_count > 1)


def _doc_entities(mentions: list[tuple[EntTuple, str, int]], subject_label: str, object_label: str,
                  last_sentence: int | None) -> tuple[list[_Entity], list[_Entity], int] | None:
    sents: dict[str, list[int]] = {}
    label_of: dict[str, str] = {}
    for e, key, s_no in mentions:
        if e[2] in (subject_label, object_label):
            sents.setdefault(key, []).append(s_no)
            label_of[key] = e[2]
    subj = [k for k in sents if label_of[k] == subject_label]
    obj = [k for k in sents if label_of[k] == object_label]
    if not subj or not obj:
        return None
    last = max(s_no for _, _, s_no in mentions) if last_sentence is None else last_sentence
    top_s = max(len(sents[k]) for k in subj)
    top_o = max(len(sents[k]) for k in obj)
    return [_Entity(k, sents[k], top_s, last) for k in subj], [_Entity(k, sents[k], top_o, last) for k in obj], last


def _candidate_pairs(subj: list[_Entity], obj: list[_Entity], scored: dict[tuple[str, str], list[ScoredPair]]
                     ) -> Iterator[tuple[_Entity, _Entity, list[ScoredPair] | None]]:
    for s in subj:
        for o in obj:
            pairs = scored.get((s.key, o.key))
            if not pairs and not s.salient and not o.salient and s.uniq.isdisjoint(o.uniq):
                continue
            yield s, o, pairs


def doc_pair_candidates(
    mentions: list[tuple[EntTuple, str, int]],
    scored: dict[tuple[str, str], list[ScoredPair]],
    subject_label: str,
    object_label: str,
    last_sentence: int | None = None,
) -> Iterator[tuple[str, str, dict[str, float], tuple[EntTuple, EntTuple] | None]]:
    """Every (subject key, object key) pair of a document worth a document-level decision, with its features.

    ``mentions``: ``(entity, pairing key, sentence number)`` of every mention;
    ``last_sentence``: the document's last sentence number (default: the last one with a
    mention). A pair is a candidate when it has scored mention pairs, shares a sentence, or
    one of its entities is salient (in the title, or the most mentioned of its label and
    mentioned more than once): cross-sentence relations are nearly always about the
    document's main chemical or disease. Besides :func:`doc_pair_features`, each pair has
    the indicator features ``s_id=<subject key>`` and ``o_id=<object key>`` (entity priors
    learned from the training corpus). The last item is the evidence mention pair: the
    best-scored one, else ``None`` (the caller picks the nearest mentions).
    :class:`DocScorer` gives the same probabilities without building the features.
    """
    found = _doc_entities(mentions, subject_label, object_label, last_sentence)
    if found is None:
        return
    subj, obj, last = found
    for s, o, pairs in _candidate_pairs(subj, obj, scored):
        logits = [p[0] for p in pairs] if pairs else []
        feats = doc_pair_features(s.sents, o.sents, logits, s.top, o.top, len(subj), len(obj), last)
        # the two entities themselves: a learned prior (some diseases are mostly drug-induced ones)
        feats["s_id=" + s.key] = 1.0
        feats["o_id=" + o.key] = 1.0
        best = max(pairs, key=lambda p: p[0]) if pairs else None
        yield s.key, o.key, feats, (best[1], best[2]) if best else None


_LOG1P_1 = math.log1p(1)


class DocScorer:
    """``model.prob_values(features)`` of every :func:`doc_pair_candidates` pair, without building
    the features: each entity's own terms are summed once per document, and only the pair terms
    per pair (the same probabilities up to float rounding, tested). Yields only the pairs at or
    above the model's threshold."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self.w = model.weights
        get = model.weights.get
        self.w_own = {pre: tuple(get(pre + n, 0.0) for n in ("title", "count", "top", "last")) for pre in ("s_", "o_")}
        self.w_keys = (get("n_s_keys", 0.0), get("n_o_keys", 0.0))
        self.w_both = (get("both_title", 0.0), get("both_top", 0.0), get("both_last", 0.0))
        self.w_pool = (get("max_p", 0.0), get("lse", 0.0), get("n_pos", 0.0), get("n_sent", 0.0))
        self.w_unscored = get("shared_unscored", 0.0)
        self.w_cross = {1: get("cross=1", 0.0), 2: get("cross=2", 0.0), 3: get("cross=3+", 0.0)}

    def accepted(self, mentions: list[tuple[EntTuple, str, int]], scored: dict[tuple[str, str], list[ScoredPair]],
                 subject_label: str, object_label: str, last_sentence: int | None = None
                 ) -> Iterator[tuple[str, str, float, tuple[EntTuple, EntTuple] | None]]:
        found = _doc_entities(mentions, subject_label, object_label, last_sentence)
        if found is None:
            return
        subj, obj, last = found
        t = min(max(self.model.threshold, 1e-9), 1 - 1e-9)
        z_threshold = math.log(t / (1 - t)) - 1e-9
        get = self.w.get
        base = self.model.bias + self.w_keys[0] * math.log1p(len(subj)) + self.w_keys[1] * math.log1p(len(obj))
        own: dict[int, float] = {}
        for ents, pre in ((subj, "s_"), (obj, "o_")):
            w_title, w_count, w_top, w_last = self.w_own[pre]
            id_pre = pre + "id="
            for e in ents:
                z = w_title * e.title + w_count * math.log1p(len(e.sents)) + w_top * e.top + get(id_pre + e.key, 0.0)
                if last > 0:
                    z += w_last * e.last
                own[id(e)] = z
        w_both, w_pool, w_unscored, w_cross = self.w_both, self.w_pool, self.w_unscored, self.w_cross
        for s, o, pairs in _candidate_pairs(subj, obj, scored):
            z = base + own[id(s)] + own[id(o)] + w_both[0] * (s.title and o.title) + w_both[1] * (s.top and o.top)
            if last > 0:
                z += w_both[2] * (s.last and o.last)
            if pairs:
                if len(pairs) == 1:  # the common case: log-sum-exp of one value is the value
                    zmax = pairs[0][0]
                    lse = max(-10.0, min(10.0, zmax))
                    n_pos = _LOG1P_1 if zmax > 0 else 0.0
                else:
                    logits = [p[0] for p in pairs]
                    zmax = max(logits)
                    lse = max(-10.0, min(10.0, zmax + math.log(sum(math.exp(x - zmax) for x in logits))))
                    n_pos = math.log1p(sum(1 for x in logits if x > 0))
                z += (w_pool[0] * sigmoid(zmax) + w_pool[1] * lse + w_pool[2] * n_pos
                      + w_pool[3] * math.log1p(len(s.uniq & o.uniq)))
            elif not s.uniq.isdisjoint(o.uniq):
                z += w_unscored
            else:
                z += w_cross[min(3, min(abs(i - j) for i in s.uniq for j in o.uniq))]
            if z < z_threshold:
                continue
            best = max(pairs, key=lambda p: p[0]) if pairs else None
            yield s.key, o.key, sigmoid(z), (best[1], best[2]) if best else None


#: words before "not" that make it a prohibition, and words after it that make it advice ("is not recommended")
PROHIBITIVE_BEFORE = frozenset({"should", "must", "do", "does", "need", "shall"})
PROHIBITIVE_AFTER = frozenset({"recommended", "advised", "advisable", "exceed", "coadminister", "coadministered", "combine", "combined"})


def prohibition(lowers: list[str], cue: Cue) -> bool:
    """Whether a negation cue is a prohibition or a warning ("should not", "do not use", "is not
    recommended"): for drug interactions that is the advice itself, not a negated statement."""
    if cue.kind != "negation" or lowers[cue.token] not in ("not", "n't"):
        return False
    before = lowers[cue.token - 1] if cue.token > 0 else ""
    after = lowers[cue.token + 1] if cue.token + 1 < len(lowers) else ""
    return before in PROHIBITIVE_BEFORE or before == "ca" or after in PROHIBITIVE_AFTER


_IND_BE = r"(?:(?:is|are|was|were|has been|have been|had been|can be|may be|could be|being|be) )?"
_IND_ADV = r"(?:(?:also|commonly|widely|successfully|effectively|currently|frequently|often|mainly|primarily|now|safely|first) )?"
_IND_GOAL = r"(?: the (?:treatment|management) of)?"
#: what may stand between the verb phrase and the disease mention: "... of patients with", "type 2", "acute"
_IND_TAIL = (r"(?: (?:patients|children|adults|women|men|subjects) (?:with|who have|suffering from))?"
             r"(?: (?:(?:type|stage|grade|class) [0-9ivx]+|acute|chronic|severe|mild|moderate|advanced|metastatic|early"
             r"|recurrent|refractory|primary|secondary|essential|idiopathic|juvenile|adult|childhood|persistent))*")
#: drug ... disease: "X treats Y", "X, which is used to treat Y", "X in the treatment of Y", "X therapy for Y"
_IND_FORWARD = re.compile(
    r"^(?:, )?(?:(?:which|that) )?" + _IND_BE + _IND_ADV
    + r"(?:treats|treating|used to treat|(?:used|prescribed|given|administered) (?:for|in)" + _IND_GOAL
    + r"|indicated (?:for|in)" + _IND_GOAL + r"|approved for" + _IND_GOAL + r"|effective (?:in|for|against)" + _IND_GOAL
    + r"|(?:useful|beneficial) (?:in|for)" + _IND_GOAL + r"|for the (?:treatment|management) of|in the (?:treatment|management) of"
    + r"|(?:therapy|treatment) (?:for|of))" + _IND_TAIL + "$")
#: drug ... disease, the drug being the subject of a verb that prevents or relieves: "X prevents Y", "X reduces the risk
#: of Y", "X protects against Y", "X reversed / attenuated / alleviated Y" (the old TREATS trigger stems said the same)
_IND_RELIEF = re.compile(
    r"^(?:(?:can|may|could|might|did|does|do|also|significantly|effectively|completely|partially|markedly|dose-dependently) )*"
    r"(?:prevents|prevented|prevent|(?:reduces|reduced|reduce|lowers|lowered|lower) the risk of|protects against"
    r"|protected against|protect against|attenuates|attenuated|reverses|reversed|ameliorates|ameliorated|alleviates"
    r"|alleviated|relieves|relieved)(?: the)?" + _IND_TAIL + "$")
#: words before a drug mention that make it no subject ("injections of haloperidol attenuated the catalepsy")
_NOT_SUBJECT = frozenset({"of", "with", "by", "after", "to", "from", "following", "and", "or", "than", "plus", "without"})
#: disease ... drug: "Y was (successfully) treated with X", "Y managed with X"
_IND_BACKWARD = re.compile(r"^" + _IND_BE + _IND_ADV + r"(?:treated|managed|controlled) (?:with|by)$")
#: the confidence of a Drug - Disease pair the indication patterns link (read by hand, their 53 matches on BC5CDR
#: train + development with gold mentions are all treatments; none of them is a gold CID pair)
INDICATION_CONFIDENCE = 0.9


def indication(lowers: list[str], drug: EntTuple, disease: EntTuple) -> bool:
    """Whether the words between a Drug and a Disease mention of one sentence state that the drug treats the
    disease, in one of a few unambiguous forms: ``X treats Y``, ``X is used to treat Y``, ``X in the treatment
    of Y``, ``X therapy for Y``, ``Y was treated with X``, ``treatment of Y with X``, and with the drug as the
    subject ``X prevents Y``, ``X reduces the risk of Y``, ``X reversed Y`` (see ``_IND_FORWARD``, ``_IND_RELIEF``,
    ``_IND_BACKWARD``). Such a pair is a ``TREATS``, never a ``CAUSES`` of that sentence."""
    if drug[1] <= disease[0]:
        if disease[0] - drug[1] > 12:
            return False
        between = " ".join(lowers[drug[1]:disease[0]])
        if _IND_FORWARD.match(between) is not None:
            return True
        return (_IND_RELIEF.match(between) is not None
                and (drug[0] == 0 or lowers[drug[0] - 1] not in _NOT_SUBJECT))
    if disease[1] <= drug[0] <= disease[1] + 12:
        between = " ".join(lowers[disease[1]:drug[0]])
        if _IND_BACKWARD.match(between) is not None:
            return True
        return between == "with" and disease[0] >= 2 and lowers[disease[0] - 1] == "of" and lowers[disease[0] - 2] in (
            "treatment", "management", "therapy")
    return False


#: what :meth:`RelationExtractor.sentence_pass` hands the document-level step: the mentions, their pairing keys,
#: the sentence number per token, the scored CAUSES mention pairs, the cues by sentence, and the best TREATS score
#: of each (drug key, disease key) pair that got one (``inf`` where a sentence states it as an indication,
#: :func:`indication`): a document-level CAUSES of no higher probability is not emitted
DocState = tuple[list[EntTuple], list[str], list[int], dict[tuple[str, str], list[ScoredPair]], dict[int, list[Cue]],
                 dict[tuple[str, str], float]]


class RelationExtractor:
    """Typed relations between the mentions of a document.

    For each pair of mentions of one sentence that stand for different entities
    (linked id, or the mention's text when it has none: :func:`pairing_keys`) and
    whose labels have allowed types (``relations.toml``), each candidate type gets a
    score: the trained classifier's probability where one is shipped (CAUSES from
    BC5CDR CID, INTERACTS_WITH from the DDI corpus), else a trigger score (0.55 +
    0.1 per trigger, at most 0.85, decaying with distance). The best type above
    ``threshold`` is kept. An ``INTERACTS_WITH`` relation gets its
    ``interaction_type`` from the type model (:data:`TYPE_MODEL`) when one is loaded.

    With a document-level CID model (:data:`DOC_MODEL`), ``CAUSES`` is decided per
    (drug, disease) pair of the whole document instead: the sentence scores of all
    its mention pairs are pooled with title / salience / distance features
    (:func:`doc_pair_candidates`), so a relation stated across sentences is found
    too; one relation per pair is emitted, with the best mention pair (or the
    nearest mentions) as evidence.

    With a TARGETS classifier (:data:`TARGETS_MODEL`, ChemProt), it replaces the
    TARGETS trigger rule: every Drug-Gene mention pair of a sentence, linked or
    not, gets a relation when the model accepts it, with its action as ``kind``.
    Relations in the scope of a negation or speculation cue are kept but flagged.
    """

    #: read entities through the document cache (set by load_pipeline when that is safe)
    cached_ents = False

    def __init__(self, models: dict[str, Any], threshold: float = 0.5, max_distance: int = 40, max_pairs_per_sentence: int = 60,
                 pair_unlinked: bool = True) -> None:
        rules = relation_rules()
        self.pairs: dict[tuple[str, str], tuple[str, list[str]]] = {}
        for p in rules["pairs"]:
            a, b = p["labels"]
            self.pairs[(a, b)] = (p["subject"], p["types"])
            self.pairs[(b, a)] = (p["subject"], p["types"])
        self.triggers = {k: tuple(v) for k, v in rules["triggers"].items()}
        models = dict(models)
        type_model = models.pop(TYPE_MODEL, None)
        doc_model = models.pop(DOC_MODEL, None)
        #: the trained TARGETS {action} classifier (ChemProt); it replaces the TARGETS trigger rule
        self.targets: TargetsModel | None = models.pop(TARGETS_MODEL) if isinstance(models.get(TARGETS_MODEL), TargetsModel) else None
        if type_model is not None and not isinstance(type_model, TypeModel):
            raise ModelError(f"{TYPE_MODEL}: expected a TypeModel, got {type(type_model).__name__}")
        if doc_model is not None and not isinstance(doc_model, LinearModel):
            raise ModelError(f"{DOC_MODEL}: expected a LinearModel, got {type(doc_model).__name__}")
        self.type_model: TypeModel | None = type_model
        self.doc_model: LinearModel | None = doc_model if "CAUSES" in models else None
        self.doc_scorer: DocScorer | None = DocScorer(self.doc_model) if self.doc_model is not None else None
        self.models: dict[str, LinearModel] = {}
        self.scorers: dict[str, PairScorer] = {}
        for rel, model in models.items():
            self.set_model(rel, model)
        #: merged scorers of pair types scored together (:meth:`_shared_logits`), with the scorers they merge
        self._vectors: dict[tuple[str, ...], tuple[tuple[int, ...], _VectorScorer]] = {}
        self.threshold = threshold
        self.max_distance = max_distance
        self.max_pairs = max_pairs_per_sentence
        self.pair_unlinked = pair_unlinked
        #: score CAUSES mention pairs for a document-level step even without its model (training it)
        self.collect_scores = False
        #: TARGETS pairs a chemical with the protein named after a nested chemical ("NMDA receptor"),
        #: see :func:`~ingest.text.components.targets.nested_genes`
        self.nested_genes = True
        #: Drug - Disease pairs in an indication pattern (:func:`indication`) are TREATS and no CAUSES
        self.indication_rule = True
        #: the neural pair model deciding INTERACTS_WITH (:meth:`use_neural`); ``None``: the linear model
        self.neural: PairCnnModel | None = None
        #: the neural companion of the TARGETS model (:meth:`use_neural_targets`); ``None``: the linear model alone
        self.targets_neural: PairCnnModel | None = None
        #: whether the neural model's type replaces the type model's
        self.neural_types = True
        self.neural_max_distance = max_distance
        self.version = f"{EXTRACTOR_VERSION}+rules{rules.get('version', '')}"

    def set_model(self, rel: str, model: LinearModel | None) -> None:
        """Let the linear ``model`` decide ``rel`` (``None``: the type's trigger rule); merged scorers that held
        the old model are rebuilt at their next use (:meth:`_shared_logits`)."""
        self.models.pop(rel, None)
        self.scorers.pop(rel, None)
        if model is not None:
            self.models[rel] = model
            try:
                self.scorers[rel] = PairScorer(model)
            except ValueError:  # a model with features PairScorer does not know: the string path
                pass

    def use_neural_targets(self, model: PairCnnModel | None) -> None:
        """Let ``model`` (trained by ``python -m ingest.text.chemprot_cnn_training`` as the companion of this
        extractor's TARGETS model) share the TARGETS decisions; ``None``: the linear model alone."""
        if model is not None and self.targets is None:
            raise ModelError("a neural TARGETS companion needs the linear TARGETS model")
        self.targets_neural = model

    def use_neural(self, model: PairCnnModel | None, types: bool = True, max_distance: int | None = None) -> None:
        """Let ``model`` (a :class:`~ingest.text.components.pair_cnn.PairCnnModel` trained on DDI) decide
        ``INTERACTS_WITH`` instead of the linear model, at its own threshold; ``types``: its most probable
        type is the ``interaction_type`` (else the type model's); ``max_distance``: the token gap cap of
        its pairs (default: the extractor's)."""
        self.neural = model
        self.neural_types = types
        self.neural_max_distance = self.max_distance if max_distance is None else max_distance

    def _trigger_score(self, rel: str, window: str) -> float:
        hits = sum(1 for stem in self.triggers.get(rel, ()) if stem in window)
        return 0.0 if hits == 0 else min(0.85, 0.55 + 0.1 * hits)

    def __call__(self, doc: Doc) -> Doc:
        out: list[RelationTuple] = []
        state = self.sentence_pass(doc, out)
        if state is not None and self.doc_model is not None:
            self._doc_relations(out, *state)
        if self.targets is not None:
            self._add_targets(doc, out, state)
        doc._.medkg_relations = out
        return doc

    def sentence_pass(self, doc: Doc, out: list[RelationTuple]) -> DocState | None:
        """The sentence-level relations of ``doc`` (appended to ``out``) and what the document-level
        step needs: ``(mentions, pairing keys, sentence number per token, scored CAUSES mention pairs,
        cues by sentence)``; ``None`` when there are fewer than two mentions."""
        ents = fast_ents(doc, self.cached_ents)
        cand = ents if self.pair_unlinked else [e for e in ents if e[3]]
        if len(cand) < 2:
            return None
        lowers: list[str] | None = None
        if any(not e[3] for e in cand):
            lowers = token_lowers(doc)
        keys = pairing_keys(cand, lowers)
        bounds = sentence_bounds(doc)
        sid = sentence_index(bounds, len(doc))
        by_sent: dict[int, list[tuple[EntTuple, str]]] = {}
        for e, k in zip(cand, keys):
            by_sent.setdefault(sid[e[0]], []).append((e, k))
        masks: tuple[dict[int, str], list[int]] | None = None
        # a cue's scope lies inside its sentence, so only that sentence's pairs can meet it
        cues_by_sent: dict[int, list[Cue]] = {}
        for c in doc_cues(doc):
            cues_by_sent.setdefault(sid[c.token], []).append(c)
        doc_level = self.doc_model is not None or self.collect_scores
        scored: dict[tuple[str, str], list[ScoredPair]] = {}
        treated: dict[tuple[str, str], float] = {}
        neural = self.neural
        pending: list[tuple[EntTuple, EntTuple, EntTuple, EntTuple, int]] = []
        for s_no, group in by_sent.items():
            if len(group) < 2:
                continue
            lowers = lowers if lowers is not None else token_lowers(doc)
            masks = masks if masks is not None else entity_masks(ents)
            sent = bounds[s_no]
            n_pairs = 0
            for i, (a, ka) in enumerate(group):
                for b, kb in group[i + 1 :]:
                    if ka == kb:
                        continue
                    rule = self.pairs.get((a[2], b[2]))
                    if rule is None or (self.targets is not None and rule[1] == ["TARGETS"]):
                        continue
                    is_neural = neural is not None and rule[1] == NEURAL_TYPES
                    if b[0] - a[1] > (self.neural_max_distance if is_neural else self.max_distance):
                        continue
                    n_pairs += 1
                    if n_pairs > self.max_pairs:
                        break
                    subj_first = a[2] == rule[0]
                    subj, obj = (a, b) if subj_first else (b, a)
                    if is_neural:  # scored in one batch below
                        pending.append((a, b, subj, obj, s_no))
                        continue
                    pair_key = (ka, kb) if subj_first else (kb, ka)  # (subject key, object key)
                    causes_z = None
                    known = self._shared_logits(rule[1], lowers, ents, a, b, sent, masks)
                    if doc_level and "CAUSES" in rule[1]:
                        causes_z = known["CAUSES"] if "CAUSES" in known else self._logit("CAUSES", lowers, ents, a, b, sent, masks)
                        scored.setdefault(pair_key, []).append((causes_z, subj, obj, s_no))
                    if self.indication_rule and "TREATS" in rule[1] and indication(lowers, subj, obj):
                        treated[pair_key] = math.inf
                        score = INDICATION_CONFIDENCE
                        if "TREATS" in known or "TREATS" in self.models:  # the model's own score when higher
                            z = known["TREATS"] if "TREATS" in known else self._logit("TREATS", lowers, ents, a, b, sent, masks)
                            score = max(score, sigmoid(z))
                        self._emit(out, "TREATS", a, b, subj, obj, score, None, cues_by_sent.get(s_no, ()), lowers)
                        continue
                    rel = self._classify(lowers, ents, a, b, sent, rule[1], masks, causes_z, known)
                    if rel is None:
                        continue
                    best_type, best = rel
                    if best_type == "TREATS":
                        treated[pair_key] = max(treated.get(pair_key, 0.0), best)
                    kind = None
                    if best_type == "INTERACTS_WITH" and self.type_model is not None:
                        kind = self.type_model.best(lowers, ents, a, b, sent, masks)
                    self._emit(out, best_type, a, b, subj, obj, best, kind, cues_by_sent.get(s_no, ()), lowers)
        if pending:
            assert lowers is not None
            self._neural_relations(doc, out, pending, ents, bounds, cues_by_sent, lowers)
        return cand, keys, sid, scored, cues_by_sent, treated

    def _neural_relations(self, doc: Doc, out: list[RelationTuple], pending: list[tuple[EntTuple, EntTuple, EntTuple, EntTuple, int]],
                          ents: list[EntTuple], bounds: list[tuple[int, int]], cues_by_sent: dict[int, list[Cue]], lowers: list[str]) -> None:
        """``INTERACTS_WITH`` from the neural pair model for the Drug-Drug mention pairs ``pending``
        (``(first, second, subject, object, sentence)``), scored in one batch; a pair of one name
        (case-insensitive) is never an interaction."""
        model = self.neural
        assert model is not None
        texts = token_texts(doc)
        drugs = [e for e in ents if e[2] == "Drug"]
        todo = [p for p in pending if not same_name(texts, p[0], p[1])]
        if not todo:
            return
        linear = None
        if model.config.mix_weight < 1.0:  # with the linear model's P(relation), computed as in training (Drug masks)
            masks = entity_masks(drugs)
            linear = numpy.asarray([sigmoid(self._logit("INTERACTS_WITH", lowers, drugs, a, b, bounds[s_no], masks))
                                    for a, b, _, _, s_no in todo])
        decided = model.decide([model.encode(texts, drugs, a, b, bounds[s_no]) for a, b, _, _, s_no in todo], linear)
        for (a, b, subj, obj, s_no), (p, kind) in zip(todo, decided):
            if p < model.threshold:
                continue
            if not (self.neural_types or self.type_model is None):
                kind = self.type_model.best(lowers, ents, a, b, bounds[s_no])
            self._emit(out, "INTERACTS_WITH", a, b, subj, obj, p, kind, cues_by_sent.get(s_no, ()), lowers)

    def _emit(self, out: list[RelationTuple], rel_type: str, a: EntTuple, b: EntTuple, subj: EntTuple, obj: EntTuple,
              score: float, kind: str | None, cues: Sequence[Cue], lowers: list[str]) -> None:
        """Append one sentence relation: negation / speculation from the sentence's cues over ``a``..``b``
        (a prohibition is no negation of a hedged type, :func:`prohibition`)."""
        if rel_type in HEDGED_TYPES and cues:
            cues = [c for c in cues if not prohibition(lowers, c)]
        neg, spec = self._flags(cues, a[0], b[1])
        out.append((rel_type, subj[0], subj[1], obj[0], obj[1], round(score, 4), neg, spec, subj[3], obj[3], subj[2], obj[2], kind))

    @staticmethod
    def _flags(cues: Iterable[Cue], lo: int, hi: int) -> tuple[bool, bool]:
        """(negated, speculative): a cue before ``hi`` whose scope meets the tokens ``lo:hi``."""
        neg = spec = False
        for c in cues:
            if c.scope_start < hi and lo < c.scope_end and c.token < hi:
                if c.kind == "negation":
                    neg = True
                else:
                    spec = True
        return neg, spec

    def _doc_relations(self, out: list[RelationTuple], cand: list[EntTuple], keys: list[str], sid: list[int],
                       scored: dict[tuple[str, str], list[ScoredPair]], cues_by_sent: dict[int, list[Cue]],
                       treated: Mapping[tuple[str, str], float]) -> None:
        """Append one ``CAUSES`` per (drug, disease) pair the document-level model accepts, unless the pair got a
        ``TREATS`` in the document at least as probable (``treated``: the best ``TREATS`` score per pair; ``inf``:
        a sentence states the drug as a treatment of the disease): one pair is not both in one abstract."""
        model = self.doc_model
        assert model is not None
        if self.doc_scorer is None or self.doc_scorer.model is not model:  # the model was swapped
            self.doc_scorer = DocScorer(model)
        mentions = [(e, k, sid[e[0]]) for e, k in zip(cand, keys)]
        for ks, ko, p, best in self.doc_scorer.accepted(mentions, scored, "Drug", "Disease", sid[-1]):
            if p < model.threshold or treated.get((ks, ko), -1.0) >= p:  # the scorer's log-odds test, up to rounding
                continue
            if best is None:  # the nearest mentions (earliest on ties) stand as evidence
                subj, obj = min(((s, o) for s, k1, _ in mentions if k1 == ks for o, k2, _ in mentions if k2 == ko),
                                key=lambda so: (abs(sid[so[0][0]] - sid[so[1][0]]), so[0][0], so[1][0]))
            else:
                subj, obj = best
            lo, hi = min(subj[0], obj[0]), max(subj[1], obj[1])
            if sid[subj[0]] == sid[obj[0]]:
                neg, spec = self._flags(cues_by_sent.get(sid[subj[0]], ()), lo, hi)
            else:  # across sentences: the flags of either mention's own sentence
                neg = spec = False
                for m in (subj, obj):
                    n, s = self._flags(cues_by_sent.get(sid[m[0]], ()), m[0], m[1])
                    neg, spec = neg or n, spec or s
            out.append(("CAUSES", subj[0], subj[1], obj[0], obj[1], round(p, 4), neg, spec, subj[3], obj[3], subj[2], obj[2], None))

    def _shared_logits(self, types: list[str], lowers: list[str], ents: list[EntTuple], a: EntTuple, b: EntTuple,
                       sent: tuple[int, int], masks: tuple[dict[int, str], list[int]] | None) -> dict[str, float]:
        """The log-odds of every type of ``types`` with a fast scorer, from one pass over the pair's features
        (:class:`_VectorScorer`, bit-identical to each scorer alone) when two or more have one (Drug - Disease:
        CAUSES and TREATS); ``{}`` otherwise (each type is then scored on its own)."""
        have = tuple(t for t in types if t in self.scorers)
        if len(have) < 2:
            return {}
        ids = tuple(id(self.scorers[t]) for t in have)
        cached = self._vectors.get(have)
        if cached is None or cached[0] != ids:  # built once; rebuilt when a model was swapped
            cached = (ids, _VectorScorer([self.scorers[t] for t in have]))
            self._vectors[have] = cached
        z = cached[1].logits(_pair_parts(lowers, ents, a, b, sent, masks), a[2], b[2])
        return dict(zip(have, z))

    def _logit(self, rel: str, lowers: list[str], ents: list[EntTuple], a: EntTuple, b: EntTuple, sent: tuple[int, int],
               masks: tuple[dict[int, str], list[int]] | None) -> float:
        scorer = self.scorers.get(rel)
        if scorer is not None:
            return scorer.logit(lowers, ents, a, b, sent, masks)
        return self.models[rel].logit(_pair_features(lowers, ents, a, b, sent, masks))

    def _add_targets(self, doc: Doc, out: list[RelationTuple], state: DocState | None) -> None:
        """TARGETS {action} from the trained classifier, over Drug and Gene mentions, linked or not
        (``state``: the sentence pass's, whose sentence numbers and cues are reused; ``None`` when it
        had too few candidates, e.g. unlinked mentions left out by ``pair_unlinked=False``)."""
        assert self.targets is not None
        ents = fast_ents(doc, self.cached_ents)
        if len(ents) < 2:
            return
        bounds = sentence_bounds(doc)
        if state is not None:
            sid, cues_by_sent = state[2], state[4]
        else:
            sid = sentence_index(bounds, len(doc))
            cues_by_sent = {}
            for cue in doc_cues(doc):
                cues_by_sent.setdefault(sid[cue.token], []).append(cue)
        lowers: list[str] | None = None
        texts: list[str] | None = None
        if self.nested_genes and any(e[2] == "Drug" for e in ents):  # only a Drug mention can open a protein name
            lowers, texts = token_lowers(doc), token_texts(doc)
            ents = nested_genes(lowers, ents, texts=texts)
        by_sent: dict[int, list[EntTuple]] = {}
        for e in ents:
            if e[2] in ("Drug", "Gene"):
                by_sent.setdefault(sid[e[0]], []).append(e)
        masked: dict[int, str] | None = None
        for s_no, group in by_sent.items():
            if len(group) < 2 or len({e[2] for e in group}) < 2:
                continue
            lowers = lowers if lowers is not None else token_lowers(doc)
            masked = masked if masked is not None else entity_masks(ents)[0]
            if self.targets_neural is not None and texts is None:
                texts = token_texts(doc)
            for c, g, action, conf in targets_relations(self.targets, lowers, ents, masked, group, bounds[s_no], TARGETS_MAX_DISTANCE,
                                                        self.targets_neural, texts):
                lo, hi = min(c[0], g[0]), max(c[1], g[1])
                neg, spec = self._flags(cues_by_sent.get(s_no, ()), lo, hi)
                out.append(("TARGETS", c[0], c[1], g[0], g[1], round(conf, 4), neg, spec, c[3], g[3], c[2], g[2], action))

    def _classify(
        self,
        lowers: list[str],
        ents: list[EntTuple],
        a: EntTuple,
        b: EntTuple,
        sent: tuple[int, int],
        types: list[str],
        masks: tuple[dict[int, str], list[int]] | None = None,
        causes_logit: float | None = None,
        known: dict[str, float] | None = None,
    ) -> tuple[str, float] | None:
        """The best type of the pair above the threshold. With ``causes_logit`` (document-level CID),
        ``CAUSES`` is decided later and here only competes: its score keeps another type out, as it did."""
        window = None
        best_type, best = None, 0.0
        for rel in types:
            model = self.models.get(rel)
            if model is not None:
                if rel == "CAUSES" and causes_logit is not None:
                    score = sigmoid(causes_logit)
                elif known and rel in known:
                    score = sigmoid(known[rel])
                else:
                    score = sigmoid(self._logit(rel, lowers, ents, a, b, sent, masks))
                if score < model.threshold:
                    score = min(score, self.threshold - 1e-3)
            else:
                if window is None:
                    window = " " + " ".join(lowers[a[1] : b[0]]) + " " + (lowers[b[1]] if b[1] < sent[1] else "")
                score = self._trigger_score(rel, window)
                score *= 1.0 - min(0.3, (b[0] - a[1]) / 100)
            if score > best:
                best_type, best = rel, score
        if best_type is None or best < self.threshold or (best_type == "CAUSES" and causes_logit is not None):
            return None
        return best_type, best


@Language.factory("medkg_relations_v1", default_config={"models": "default", "threshold": 0.5, "max_distance": 40, "pair_unlinked": True})
def make_relations(nlp: Language, name: str, models: str, threshold: float, max_distance: int, pair_unlinked: bool) -> RelationExtractor:
    """Relation extractor; ``models`` is ``"default"`` (shipped models), ``"none"`` (triggers only) or ``KEY=path,...``
    (keys: relation types, ``INTERACTS_WITH.type``, ``CAUSES.doc``; ``TARGETS``: a
    :class:`~ingest.text.components.targets.TargetsModel`)."""
    if models == "default":
        paths = default_relation_models()
    elif models in {"", "none"}:
        paths = {}
    else:
        paths = dict(part.split("=", 1) for part in models.split(",") if "=" in part)
    return RelationExtractor(load_relation_models(paths), threshold, max_distance, pair_unlinked=pair_unlinked)
