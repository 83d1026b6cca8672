"""``medkg_relations_v1``: sentence-level typed relations between linked mentions (``doc._.medkg_relations``).

Pair features, the sparse linear models over them (:class:`LinearModel`, and
:class:`PairScorer`, the same probability without feature strings) and the
extractor.
"""

from __future__ import annotations

import bisect
import json
import math
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from spacy.language import Language
from spacy.tokens import Doc, Span

from graph_engine.errors import ModelError
from ingest.text.components import cache as _cache
from ingest.text.components.cache import EntTuple, fast_ents, sentence_bounds, sentence_index, token_lowers
from ingest.text.components.negation import Cue, doc_cues
from ingest.text.components.targets import TargetsModel, default_targets_model, targets_relations

EXTRACTOR = "medkg.relations"
EXTRACTOR_VERSION = "0.1.0"

if not Doc.has_extension("medkg_relations"):
    Doc.set_extension("medkg_relations", default=None)
#: extra properties of a relation, keyed by (type, subject start, subject end, object start, object end)
#: in tokens, e.g. ``{"action": "inhibitor"}`` for TARGETS
if not Doc.has_extension("medkg_relation_attrs"):
    Doc.set_extension("medkg_relation_attrs", default=None)


@lru_cache(maxsize=1)
def relation_rules() -> dict[str, Any]:
    """Pair types, subjects and trigger stems (``ingest/text/data/relations.toml``)."""
    return tomllib.loads(resources.files("ingest.text").joinpath("data/relations.toml").read_text(encoding="utf-8"))


#: type, subject start/end, object start/end (tokens), score, negated, speculative,
#: subject id, object id, subject label, object label
RelationTuple = tuple[str, int, int, int, int, float, bool, bool, str, str, str, str]


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


class LinearModel:
    """A sparse logistic-regression model over string features (weights in JSON)."""

    def __init__(self, weights: dict[str, float], bias: float, threshold: float = 0.5, meta: dict[str, Any] | None = None) -> None:
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.meta = meta or {}

    def prob(self, feats: Iterable[str]) -> float:
        # map/filter run in C: unknown features give None and are dropped (a 0.0 weight too)
        z = self.bias + sum(filter(None, map(self.weights.get, feats)))
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
        dist, between, left, right, n_between = _pair_parts(lowers, ents, a, b, sent, masks)
        ws: list[float] = []
        append = ws.append
        w = self.order.get((a[2], b[2]))
        if w:
            append(w)
        w = self.dist.get(dist)
        if w:
            append(w)
        get = self.b.get
        for x in between:
            w = get(x)
            if w:
                append(w)
        bb = self.bb
        for k in range(len(between) - 1):
            row = bb.get(between[k])
            if row is not None:
                w = row.get(between[k + 1])
                if w:
                    append(w)
        if len(between) <= 2:
            w = self.adjacent.get("_".join(between))
            if w:
                append(w)
        for get, words in ((self.l.get, left), (self.r.get, right)):
            for x in words:
                w = get(x)
                if w:
                    append(w)
        w = self.n_between.get(n_between)
        if w:
            append(w)
        z = self.bias + sum(ws)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def default_relation_models() -> dict[str, str]:
    """Shipped trained relation classifiers by relation type (those that exist)."""
    base = resources.files("ingest.text").joinpath("models")
    out = {}
    for rel, fname in (("CAUSES", "relations-cid-0.1.0.json"), ("INTERACTS_WITH", "relations-ddi-0.1.0.json")):
        p = base.joinpath(fname)
        if p.is_file():
            out[rel] = str(p)
    return out


#: token distance cap of a TARGETS pair (the model was trained on every pair of a sentence)
TARGETS_MAX_DISTANCE = 120


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

    #: read entities through the document cache (set by load_pipeline when that is safe)
    cached_ents = False

    def __init__(self, models: dict[str, LinearModel], threshold: float = 0.5, max_distance: int = 40, max_pairs_per_sentence: int = 60,
                 targets: TargetsModel | None = None) -> None:
        rules = relation_rules()
        self.pairs: dict[tuple[str, str], tuple[str, list[str]]] = {}
        for p in rules["pairs"]:
            a, b = p["labels"]
            self.pairs[(a, b)] = (p["subject"], p["types"])
            self.pairs[(b, a)] = (p["subject"], p["types"])
        self.triggers = {k: tuple(v) for k, v in rules["triggers"].items()}
        self.models = models
        self.scorers: dict[str, PairScorer] = {}
        for rel, model in models.items():
            try:
                self.scorers[rel] = PairScorer(model)
            except ValueError:  # a model with features PairScorer does not know: the string path
                pass
        self.threshold = threshold
        self.max_distance = max_distance
        self.max_pairs = max_pairs_per_sentence
        self.version = f"{EXTRACTOR_VERSION}+rules{rules.get('version', '')}"
        #: the trained TARGETS {action} classifier (ChemProt); it replaces the TARGETS trigger rule
        self.targets = targets

    def _trigger_score(self, rel: str, window: str) -> float:
        hits = sum(1 for stem in self.triggers.get(rel, ()) if stem in window)
        return 0.0 if hits == 0 else min(0.85, 0.55 + 0.1 * hits)

    def __call__(self, doc: Doc) -> Doc:
        out: list[RelationTuple] = []
        doc._.medkg_relation_attrs = None
        ents = fast_ents(doc, self.cached_ents)
        linked = [e for e in ents if e[3]]
        if len(linked) < 2 and (self.targets is None or len(ents) < 2):
            doc._.medkg_relations = out
            return doc
        bounds = sentence_bounds(doc)
        sid = sentence_index(bounds, len(doc))
        by_sent: dict[int, list[EntTuple]] = {}
        for e in linked:
            by_sent.setdefault(sid[e[0]], []).append(e)
        lowers: list[str] | None = None
        masks: tuple[dict[int, str], list[int]] | None = None
        # a cue's scope lies inside its sentence, so only that sentence's pairs can meet it
        cues_by_sent: dict[int, list[Cue]] = {}
        for c in doc_cues(doc):
            cues_by_sent.setdefault(sid[c.token], []).append(c)
        for s_no, group in by_sent.items():
            if len(group) < 2:
                continue
            lowers = lowers if lowers is not None else token_lowers(doc)
            masks = masks if masks is not None else entity_masks(ents)
            sent = bounds[s_no]
            n_pairs = 0
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    if a[3] == b[3] or b[0] - a[1] > self.max_distance:
                        continue
                    rule = self.pairs.get((a[2], b[2]))
                    if rule is None or (self.targets is not None and rule[1] == ["TARGETS"]):
                        continue
                    n_pairs += 1
                    if n_pairs > self.max_pairs:
                        break
                    rel = self._classify(lowers, ents, a, b, sent, rule[1], masks)
                    if rel is None:
                        continue
                    best_type, best = rel
                    subj, obj = (a, b) if a[2] == rule[0] else (b, a)
                    neg, spec = _cue_flags(cues_by_sent.get(s_no, ()), a[0], b[1])
                    out.append((best_type, subj[0], subj[1], obj[0], obj[1], round(best, 4), neg, spec, subj[3], obj[3], subj[2], obj[2]))
        if self.targets is not None:
            self._add_targets(doc, ents, bounds, sid, cues_by_sent, out)
        doc._.medkg_relations = out
        return doc

    def _add_targets(self, doc: Doc, ents: list[EntTuple], bounds: list[tuple[int, int]], sid: list[int],
                     cues_by_sent: dict[int, list[Cue]], out: list[RelationTuple]) -> None:
        """TARGETS {action} from the trained classifier, over Drug and Gene mentions, linked or not."""
        assert self.targets is not None
        by_sent: dict[int, list[EntTuple]] = {}
        for e in ents:
            if e[2] in ("Drug", "Gene"):
                by_sent.setdefault(sid[e[0]], []).append(e)
        attrs: dict[tuple[str, int, int, int, int], dict[str, str]] = doc._.medkg_relation_attrs or {}
        lowers: list[str] | None = None
        masked: dict[int, str] | None = None
        for s_no, group in by_sent.items():
            if len(group) < 2 or len({e[2] for e in group}) < 2:
                continue
            lowers = lowers if lowers is not None else token_lowers(doc)
            masked = masked if masked is not None else entity_masks(ents)[0]
            for c, g, action, conf in targets_relations(self.targets, lowers, ents, masked, group, bounds[s_no], TARGETS_MAX_DISTANCE):
                lo, hi = min(c[0], g[0]), max(c[1], g[1])
                neg, spec = _cue_flags(cues_by_sent.get(s_no, ()), lo, hi)
                out.append(("TARGETS", c[0], c[1], g[0], g[1], round(conf, 4), neg, spec, c[3], g[3], c[2], g[2]))
                attrs[("TARGETS", c[0], c[1], g[0], g[1])] = {"action": action}
        doc._.medkg_relation_attrs = attrs or None

    def _classify(
        self,
        lowers: list[str],
        ents: list[EntTuple],
        a: EntTuple,
        b: EntTuple,
        sent: tuple[int, int],
        types: list[str],
        masks: tuple[dict[int, str], list[int]] | None = None,
    ) -> tuple[str, float] | None:
        window = None
        feats: list[str] | None = None
        best_type, best = None, 0.0
        for rel in types:
            model = self.models.get(rel)
            if model is not None:
                scorer = self.scorers.get(rel)
                if scorer is not None:
                    score = scorer.prob(lowers, ents, a, b, sent, masks)
                else:
                    feats = feats if feats is not None else _pair_features(lowers, ents, a, b, sent, masks)
                    score = model.prob(feats)
                if score < model.threshold:
                    score = min(score, self.threshold - 1e-3)
            else:
                if window is None:
                    window = " " + " ".join(lowers[a[1] : b[0]]) + " " + (lowers[b[1]] if b[1] < sent[1] else "")
                score = self._trigger_score(rel, window)
                score *= 1.0 - min(0.3, (b[0] - a[1]) / 100)
            if score > best:
                best_type, best = rel, score
        if best_type is None or best < self.threshold:
            return None
        return best_type, best


def _cue_flags(cues: Iterable[Cue], lo: int, hi: int) -> tuple[bool, bool]:
    """(negated, speculative) of a pair spanning tokens ``[lo, hi)``: a cue before ``hi`` whose scope overlaps it."""
    neg = spec = False
    for c in cues:
        if c.scope_start < hi and lo < c.scope_end and c.token < hi:
            if c.kind == "negation":
                neg = True
            else:
                spec = True
    return neg, spec


@Language.factory("medkg_relations_v1", default_config={"models": "default", "threshold": 0.5, "max_distance": 40})
def make_relations(nlp: Language, name: str, models: str, threshold: float, max_distance: int) -> RelationExtractor:
    """Relation extractor; ``models`` is ``"default"`` (shipped classifiers), ``"none"`` (triggers only) or ``TYPE=path,...``
    (``TARGETS=path``: a :class:`~ingest.text.components.targets.TargetsModel`)."""
    if models == "default":
        paths = default_relation_models()
        targets_path = default_targets_model()
    elif models in {"", "none"}:
        paths, targets_path = {}, None
    else:
        paths = dict(part.split("=", 1) for part in models.split(",") if "=" in part)
        targets_path = paths.pop("TARGETS", None)
    targets = TargetsModel.load(targets_path) if targets_path else None
    return RelationExtractor({k: LinearModel.load(v) for k, v in paths.items()}, threshold, max_distance, targets=targets)
