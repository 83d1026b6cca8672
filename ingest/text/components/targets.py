"""The trained chemical–gene classifier behind ``TARGETS {action}`` (ChemProt groups).

One multinomial logistic regression over sparse pair features: classes ``none`` and the
five ChemProt actions (``activator`` CPR:3, ``inhibitor`` CPR:4, ``agonist`` CPR:5,
``antagonist`` CPR:6, ``substrate`` CPR:9). A pair is a relation when
``P(not none)`` (after Platt calibration on validation data) reaches the model's
threshold; its action is the most probable group. Trained by
``python -m ingest.text.chemprot_training`` (weights only in
``ingest/text/models/relations-chemprot-*.json``, never the corpus).

The pair is a ``Drug`` and a ``Gene`` mention of one sentence, linked or not (most gene
mentions the NER finds have no vocabulary id; the relation is still read, and the graph
writer keeps only relations whose two ends are linked).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from graph_engine.errors import ModelError
from ingest.text.components.cache import EntTuple

TARGETS_MODEL_FILE = "relations-chemprot-0.1.0.json"

#: trigger stems of each action (lower-cased prefixes), as features
ACTION_STEMS: dict[str, tuple[str, ...]] = {
    "activator": ("activat", "upregulat", "up-regulat", "stimulat", "increas", "induc", "enhanc", "potentiat", "elevat"),
    "inhibitor": ("inhibit", "downregulat", "down-regulat", "suppress", "block", "decreas", "reduc", "attenuat", "abolish", "inactivat", "prevent"),
    "agonist": ("agonist", "agonism"),
    "antagonist": ("antagon", "blocker"),
    "substrate": ("substrate", "metaboli", "hydroxyl", "catalyz", "conver", "transport", "uptake", "oxidat", "glucuronid", "product"),
}


#: head nouns that make ``<chemical> ... <head>`` a protein name ("NMDA receptor", "dopamine transporter",
#: "nitric oxide synthase", "angiotensin II type 1 receptor"), read from ChemProt training, where such a span is
#: annotated as a gene with the chemical nested inside it
GENE_HEADS = frozenset(
    w + suffix for w in (
        "receptor", "transporter", "channel", "pump", "adrenoceptor", "synthase", "synthetase", "oxidase", "reductase",
        "kinase", "dehydrogenase", "carboxylase", "transferase", "acyltransferase", "hydroxylase", "esterase",
        "decarboxylase", "deaminase", "cyclase", "phosphatase", "protease", "isomerase", "desaturase", "hydrolase",
        "oxygenase", "monooxygenase", "dioxygenase", "transaminase", "aminotransferase", "peroxidase", "lyase",
    ) for suffix in ("", "s"))
#: heads of drug-class names that are named after their target ("ACE inhibitors", "5-HT3 antagonists")
CLASS_HEADS = frozenset(w + suffix for w in ("inhibitor", "antagonist", "agonist", "blocker", "activator") for suffix in ("", "s"))
#: subtype codes allowed between the chemical and the head ("D2", "type 1", "H3", "(1A)", "alpha 2")
_SUBTYPE_WORDS = frozenset({"type", "subtype", "alpha", "beta", "gamma", "delta", "α", "β", "γ", "δ", "(", ")", "-", "/"})


def _subtype_code(w: str) -> bool:
    if w in _SUBTYPE_WORDS:
        return True
    return 1 <= len(w) <= 4 and any(c.isdigit() for c in w) and w.replace("-", "").isalnum()


def _receptor_code(w: str) -> bool:
    """``1a``, ``2c``, ``1b``: the receptor subtypes of ``5-HT(1A)`` (a digit, then one or two letters)."""
    return 2 <= len(w) <= 3 and w[0].isdigit() and w[1:].isalpha()


def _symbol(text: str) -> bool:
    """``ACE``, ``MAO``, ``BSEP``, ``AT1R``, ``5-HT3``: a gene-symbol-like name (two capitals or more, no lower case)."""
    core = text.replace("-", "").replace("(", "").replace(")", "")
    return core.isalnum() and sum(c.isupper() for c in core) >= 2 and not any(c.islower() for c in core)


def _class_target(lowers: list[str], texts: list[str], e: EntTuple) -> int | None:
    """The end of the target inside a drug-class mention ``<target> <class head>`` (``ACE inhibitors`` -> after
    ``ACE``), or ``None``: the target is a protein name (its last word a :data:`GENE_HEADS` noun) or a symbol."""
    if e[1] - e[0] < 2 or lowers[e[1] - 1] not in CLASS_HEADS:
        return None
    end = e[1] - 1
    if lowers[end - 1] == "-":
        end -= 1
    if end <= e[0]:
        return None
    if lowers[end - 1] in GENE_HEADS or _symbol("".join(texts[e[0]:end])):
        return end
    return None


def nested_genes(lowers: list[str], ents: list[EntTuple], max_codes: int = 3, texts: list[str] | None = None) -> list[EntTuple]:
    """``ents`` with every Drug mention that opens a protein name replaced by a Gene mention over the
    whole name (unlinked): ``NMDA`` in ``NMDA receptors`` or ``angiotensin II`` in ``angiotensin II type
    1 receptor`` (a head of :data:`GENE_HEADS` after at most ``max_codes`` subtype codes), ``5-HT`` in
    ``5-HT(1A)`` (a receptor subtype in brackets). ChemProt annotates the chemical nested in the gene;
    the pipeline's entities do not nest, so only the TARGETS step (which pairs chemicals with genes)
    sees the gene, and the graph's Drug mention stays as it is. A one-token mention inside the name
    that is only a subtype code (``1A`` taken for a drug) is absorbed. A drug class named after its
    target (``ACE inhibitors``, ``5-HT3 antagonists``, ``calcium channel blockers``: a class head of
    :data:`CLASS_HEADS` after a protein name or a symbol) stands for that target."""
    by_start = {e[0]: e for e in ents}
    ends = {e[1] for e in ents}
    n = len(lowers)
    absorbed: set[int] = set()
    replaced: dict[int, EntTuple] = {}

    def free(j: int) -> bool:  # no mention starts at j, or only a one-token subtype code
        e = by_start.get(j)
        return e is None or (e[1] == j + 1 and e[2] == "Drug" and _subtype_code(lowers[j]))

    for e in ents:
        if e[2] != "Drug" or e[0] in absorbed:
            continue
        if texts is not None:  # the drug-class rules read the mention's case
            target = _class_target(lowers, texts, e)
            if (target is None and e[1] < n and lowers[e[1]] in CLASS_HEADS and e[1] not in by_start
                    and _symbol("".join(texts[e[0]:e[1]]))):
                target = e[1]  # "5-HT3 antagonist", "ACE inhibitors" with the class word outside the mention
            if target is not None:
                replaced[e[0]] = (e[0], target, "Gene", "")
                continue
        j = e[1]
        if (j + 2 < n and lowers[j] == "(" and lowers[j + 2] == ")" and _receptor_code(lowers[j + 1])
                and free(j + 1) and (j + 2) not in by_start):
            end = j + 3
        else:
            while j < n and j - e[1] < max_codes and free(j) and _subtype_code(lowers[j]):
                j += 1
            if not (j < n and j not in by_start and lowers[j] in GENE_HEADS and (j + 1) not in ends):
                continue
            end = j + 1
        replaced[e[0]] = (e[0], end, "Gene", "")
        absorbed.update(k for k in range(e[1], end) if k in by_start)
    if not replaced:
        return ents
    return [replaced.get(e[0], e) for e in ents if e[0] not in absorbed]


def _stem(w: str) -> str:
    return w[:5] if len(w) > 5 and w.isalpha() else w


def targets_features(lowers: list[str], masked: dict[int, str], chem: EntTuple, gene: EntTuple, sent: tuple[int, int]) -> list[str]:
    """Features of a chemical–gene pair in sentence ``sent``.

    ``masked``: token -> ``<Label>`` for every entity token (other mentions are masked by their
    label). Words between the two mentions (and their 5-letter stems, word pairs), three words
    either side, the gene mention's words and last word, the chemical's last word, the order,
    a distance bucket, the number of mentions between, and trigger-stem hits (per action:
    between / before / after the pair, and inside the gene mention).
    """
    a, b = (chem, gene) if chem[0] < gene[0] else (gene, chem)
    first = "c" if a is chem else "g"
    feats = [f"o={first}", f"d={min(8, (b[0] - a[1]).bit_length())}"]
    between: list[str] = []
    n_ents = 0
    for i in range(a[1], b[0]):
        w = masked.get(i)
        if w is not None:
            if not between or between[-1] != w:
                n_ents += 1
                between.append(w)
            continue
        between.append(lowers[i])
    feats.append(f"n={min(3, n_ents)}")
    for w in between:
        feats.append("b=" + w)
        feats.append("s=" + _stem(w))
    feats.extend(f"bb={x}_{y}" for x, y in zip(between, between[1:]))
    if len(between) <= 3:
        feats.append(f"adj{first}=" + "_".join(between))
    left = [masked.get(i) or lowers[i] for i in range(max(sent[0], a[0] - 3), a[0])]
    right = [masked.get(i) or lowers[i] for i in range(b[1], min(sent[1], b[1] + 3))]
    feats.extend("l=" + w for w in left)
    feats.extend("r=" + w for w in right)
    if left:
        feats.append("l1=" + left[-1])
    if right:
        feats.append("r1=" + right[0])
    gene_words = lowers[gene[0] : gene[1]]
    feats.extend("gw=" + w for w in gene_words)
    feats.append("gh=" + gene_words[-1])
    feats.append("ch=" + _stem(lowers[chem[1] - 1]))
    windows = (("B", " ".join(between)), ("L", " ".join(left)), ("R", " ".join(right)), ("G", " ".join(gene_words)))
    for action, stems in ACTION_STEMS.items():
        for where, text in windows:
            if any(s in text for s in stems):
                feats.append(f"t{where}={action}")
    return feats


class TargetsModel:
    """Multinomial logistic regression ``classes`` x sparse features, with Platt calibration of P(relation)."""

    def __init__(self, classes: list[str], weights: dict[str, list[float]], bias: list[float], *,
                 threshold: float = 0.5, calibration: tuple[float, float] = (1.0, 0.0), meta: dict[str, Any] | None = None) -> None:
        if not classes or classes[0] != "none":
            raise ModelError(f"TARGETS model classes {classes!r}: the first must be 'none'")
        if len(bias) != len(classes) or any(len(w) != len(classes) for w in weights.values()):
            raise ModelError("TARGETS model: every weight row and the bias need one value per class")
        self.classes = classes
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.calibration = calibration
        self.meta = meta or {}

    def probs(self, feats: list[str]) -> list[float]:
        z = list(self.bias)
        get = self.weights.get
        for f in feats:
            row = get(f)
            if row is not None:
                for k, w in enumerate(row):
                    z[k] += w
        top = max(z)
        e = [math.exp(v - top) for v in z]
        s = sum(e)
        return [v / s for v in e]

    def confidence(self, p_relation: float) -> float:
        """Calibrated probability that the pair is a relation (Platt on the logit of P(not none))."""
        p = min(1 - 1e-9, max(1e-9, p_relation))
        a, b = self.calibration
        z = a * math.log(p / (1 - p)) + b
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def predict(self, feats: list[str]) -> tuple[str, float] | None:
        """``(action, calibrated confidence)`` when the pair is a relation at the model's threshold, else ``None``."""
        p = self.probs(feats)
        conf = self.confidence(1.0 - p[0])
        if conf < self.threshold:
            return None
        k = max(range(1, len(p)), key=p.__getitem__)
        return self.classes[k], conf

    def to_json(self) -> dict[str, Any]:
        return {"classes": self.classes, "bias": self.bias, "threshold": self.threshold,
                "calibration": list(self.calibration), "meta": self.meta, "weights": self.weights}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")))

    @classmethod
    def load(cls, path: str | Path) -> "TargetsModel":
        try:
            data = json.loads(Path(path).read_text())
            a, b = data.get("calibration", (1.0, 0.0))
            return cls(data["classes"], data["weights"], data["bias"], threshold=data.get("threshold", 0.5),
                       calibration=(float(a), float(b)), meta=data.get("meta", {}))
        except (OSError, KeyError, TypeError, ValueError) as err:
            raise ModelError(f"cannot load TARGETS model {path}: {err}; retrain with python -m ingest.text.chemprot_training") from err


def default_targets_model() -> str | None:
    """Path of the shipped TARGETS model, or ``None``."""
    p = resources.files("ingest.text").joinpath("models").joinpath(TARGETS_MODEL_FILE)
    return str(p) if p.is_file() else None


def mixed_probs(linear: Any, neural: Any, weight: float) -> Any:
    """``(1 - weight) * linear + weight * neural``: the average of two models' class-probability rows
    (NumPy arrays of one shape), the decision of a linear model with its neural companion."""
    return (1.0 - weight) * linear + weight * neural


def targets_relations(model: TargetsModel, lowers: list[str], ents: list[EntTuple], masked: dict[int, str],
                      group: list[EntTuple], sent: tuple[int, int], max_distance: int, neural: Any = None,
                      texts: list[str] | None = None) -> list[tuple[EntTuple, EntTuple, str, float]]:
    """Every (chemical, gene, action, confidence) the model accepts among the mentions ``group`` of one sentence.

    ``neural``: a :class:`~ingest.text.components.pair_cnn.PairCnnModel` trained as the linear model's
    companion (``python -m ingest.text.chemprot_cnn_training``; ``texts``: the document's token texts).
    Then the two models' class probabilities are averaged with the companion's ``mix_weight``, and the
    companion's calibration and threshold decide (they were fitted on that average)."""
    chems = [e for e in group if e[2] == "Drug"]
    genes = [e for e in group if e[2] == "Gene"]
    cands = [(c, g) for c in chems for g in genes if (g[0] - c[1] if c[0] < g[0] else c[0] - g[1]) <= max_distance]
    out = []
    if neural is None or not cands:
        for c, g in cands:
            hit = model.predict(targets_features(lowers, masked, c, g, sent))
            if hit is not None:
                out.append((c, g, hit[0], hit[1]))
        return out
    import numpy

    from ingest.text.components.pair_cnn import calibrate

    if texts is None:
        raise ValueError("targets_relations: the neural companion needs the token texts")
    lin = numpy.asarray([model.probs(targets_features(lowers, masked, c, g, sent)) for c, g in cands])
    p = mixed_probs(lin, neural.probs([neural.encode(texts, ents, c, g, sent) for c, g in cands]), neural.config.mix_weight)
    conf = calibrate(1.0 - p[:, 0], neural.config.calibration)
    for (c, g), row, q in zip(cands, p, conf):
        if q >= neural.threshold:
            out.append((c, g, model.classes[1 + int(numpy.argmax(row[1:]))], float(q)))
    return out
