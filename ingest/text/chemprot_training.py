"""Train the ``TARGETS {action}`` classifier on ChemProt (``ingest/text/components/targets.py``).

Data and protocol (choices on validation data only):

* training: every chemical–gene pair of one sentence in the ChemProt **training** split, twice:
  with the gold mentions (the pipeline's tokenizer and sentence splitter), labelled by its gold
  group (CPR:3/4/5/6/9) or ``none``; and with the shipped pipeline's own Drug / Gene mentions,
  labelled through the gold mentions they overlap (so the model meets the spans it will see);
* selection: the ChemProt **development** split is cut by document,
  ``sha256(pmid) % 2 == 0`` -> *select* (the regularisation ``C``, the Platt calibration and
  the threshold are fitted there, on the pipeline-mention pairs, end-to-end F1 of the five
  groups), the other half *held* (scored once, at the end);
* the shipped model is the one fitted on training with the chosen ``C``.

Only the weights are written, never the corpus. ``python -m ingest.text.chemprot_training --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any, Iterable

from spacy.language import Language

from ingest.text.chemprot import CHEMPROT_GROUPS, ChemprotDoc, read_chemprot
from ingest.text.components.cache import EntTuple, filter_ents, sentence_bounds, sentence_index, token_lowers, token_texts
from ingest.text.components.relations import entity_masks
from ingest.text.components.targets import TARGETS_MODEL_FILE, TargetsModel, targets_features
from ingest.text.corpora import blank_pipeline

CLASSES = ["none", *CHEMPROT_GROUPS.values()]
#: (features, class index, pmid)
Example = tuple[list[str], int, str]


def is_select(pmid: str) -> bool:
    """The development documents model choices are made on (the others are held out)."""
    return int(hashlib.sha256(pmid.encode()).hexdigest(), 16) % 2 == 0


def _blank() -> Language:
    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    return nlp


#: where an example's pair is: token texts, the sentence's mentions (all of the document's), chemical, gene, sentence span
PairRef = tuple[list[str], list[EntTuple], EntTuple, EntTuple, tuple[int, int]]


def examples(docs: Iterable[ChemprotDoc], nlp: Language | None = None, max_distance: int = 1000,
             pairs: list[PairRef] | None = None) -> list[Example]:
    """Chemical–gene pairs of one sentence with the gold mentions (overlapping mentions: the longest kept).
    ``pairs``: when given, each example's :data:`PairRef` is appended to it, in the same order."""
    nlp = nlp or _blank()
    out: list[Example] = []
    for d in docs:
        doc = nlp(d.doc.text)
        ents = []
        for m in d.mentions:
            s = doc.char_span(m.start, m.end, alignment_mode="expand")
            if s is not None and len(s):
                ents.append((s.start, s.end, m.label, m.ids[0]))
        ents = filter_ents(ents)
        gold = {(c, g): CLASSES.index(CHEMPROT_GROUPS[grp]) for _, grp, c, g in sorted(d.pairs)}
        lowers = token_lowers(doc)
        texts = token_texts(doc) if pairs is not None else []
        masked, _ = entity_masks(ents)
        bounds = sentence_bounds(doc)
        sid = sentence_index(bounds, len(doc))
        for c in (e for e in ents if e[2] == "Drug"):
            for g in (e for e in ents if e[2] == "Gene"):
                if sid[c[0]] != sid[g[0]]:
                    continue
                if (g[0] - c[1] if c[0] < g[0] else c[0] - g[1]) > max_distance:
                    continue
                out.append((targets_features(lowers, masked, c, g, bounds[sid[c[0]]]), gold.get((c[3], g[3]), 0), d.doc.id))
                if pairs is not None:
                    pairs.append((texts, ents, c, g, bounds[sid[c[0]]]))
    return out


def pipeline_examples(docs: list[ChemprotDoc], nlp: Language, pairs: list[PairRef] | None = None) -> tuple[list[Example], dict[str, int]]:
    """Chemical–gene pairs of one sentence with the **pipeline's own** Drug / Gene mentions (linked or not), labelled
    through the gold mentions their spans overlap (the group of a gold pair they stand for, else ``none``).

    Returns the examples and, per document, the number of gold pairs no such pair stands for (false negatives
    of any model on these mentions, for end-to-end scores)."""
    out: list[Example] = []
    missed: dict[str, int] = {}
    for d, doc in zip(docs, nlp.pipe([d.doc.text for d in docs], batch_size=32)):
        ents = [(e.start, e.end, e.label_, e.kb_id_) for e in doc.ents]
        lowers = token_lowers(doc)
        texts = token_texts(doc) if pairs is not None else []
        masked, _ = entity_masks(ents)
        bounds = sentence_bounds(doc)
        sid = sentence_index(bounds, len(doc))
        gold: dict[tuple[str, str], str] = {}
        for _, grp, c_id, g_id in sorted(d.pairs):
            gold.setdefault((c_id, g_id), grp)
        covered: set[tuple[str, str]] = set()

        def ids(e: Any, label: str) -> set[str]:
            s, t = doc[e[0]].idx, doc[e[1] - 1].idx + len(doc[e[1] - 1])
            return {m.ids[0] for m in d.mentions if m.label == label and m.start < t and s < m.end}

        for c in (e for e in ents if e[2] == "Drug"):
            c_ids = ids(c, "Drug")
            for g in (e for e in ents if e[2] == "Gene"):
                if sid[c[0]] != sid[g[0]]:
                    continue
                hits = sorted((gold[(a, b)], (a, b)) for a in c_ids for b in ids(g, "Gene") if (a, b) in gold)
                covered.update(k for _, k in hits)
                label = CLASSES.index(CHEMPROT_GROUPS[hits[0][0]]) if hits else 0
                out.append((targets_features(lowers, masked, c, g, bounds[sid[c[0]]]), label, d.doc.id))
                if pairs is not None:
                    pairs.append((texts, ents, c, g, bounds[sid[c[0]]]))
        missed[d.doc.id] = len(set(gold) - covered)
    return out, missed


def fit(train: list[Example], c: float, min_count: int = 3, seed: int = 0) -> TargetsModel:
    """Multinomial logistic regression (scikit-learn, lbfgs) over features seen ``min_count`` times."""
    from collections import Counter

    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    counts = Counter(f for feats, _, _ in train for f in set(feats))
    vec = DictVectorizer()
    x = vec.fit_transform([{f: 1.0 for f in feats if counts[f] >= min_count} for feats, _, _ in train])
    y = [label for _, label, _ in train]
    clf = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    clf.fit(x, y)
    if list(clf.classes_) != list(range(len(CLASSES))):
        raise ValueError(f"training data lacks some classes: {clf.classes_}")
    weights = {}
    for name, col in zip(vec.get_feature_names_out(), clf.coef_.T):
        if max(abs(float(w)) for w in col) >= 3e-2:
            weights[str(name)] = [round(float(w), 3) for w in col]
    return TargetsModel(CLASSES, weights, [round(float(b), 4) for b in clf.intercept_])


def platt(scores: list[float], labels: list[int]) -> tuple[float, float]:
    """``(a, b)`` of ``sigmoid(a * logit(p) + b)`` fitted on validation pairs."""
    from sklearn.linear_model import LogisticRegression

    z = [[math.log(max(1e-9, p) / max(1e-9, 1 - p))] for p in scores]
    clf = LogisticRegression(C=1e4).fit(z, labels)
    return float(clf.coef_[0][0]), float(clf.intercept_[0])


#: one scored candidate pair: class probabilities, calibrated P(relation), gold class
ScoredRow = tuple[list[float], float, int]


def model_rows(model: TargetsModel, data: list[Example]) -> list[ScoredRow]:
    """The linear model's rows for :func:`row_scores` / :func:`row_reliability`."""
    out: list[ScoredRow] = []
    for feats, y, _ in data:
        p = model.probs(feats)
        out.append((p, model.confidence(1 - p[0]), y))
    return out


def pair_scores(model: TargetsModel, data: list[Example], threshold: float | None = None, missed: int = 0) -> dict[str, Any]:
    """Typed (5 groups, micro) and detection P/R/F1 over the candidate pairs; ``missed`` gold pairs no candidate
    stands for count as false negatives."""
    return row_scores(model_rows(model, data), model.threshold if threshold is None else threshold, missed)


def row_scores(rows: Iterable[ScoredRow], t: float, missed: int = 0) -> dict[str, Any]:
    """:func:`pair_scores` of scored rows at the (calibrated) threshold ``t``."""
    tp = fp = dtp = dfp = 0
    fn = dfn = missed
    for p, conf, y in rows:
        pred = max(range(1, len(p)), key=p.__getitem__) if conf >= t else 0
        tp += pred != 0 and pred == y
        fp += pred != 0 and pred != y
        fn += y != 0 and pred != y
        dtp += pred != 0 and y != 0
        dfp += pred != 0 and y == 0
        dfn += pred == 0 and y != 0

    def prf(a: int, b: int, c: int) -> dict[str, float]:
        p = a / (a + b) if a + b else 0.0
        r = a / (a + c) if a + c else 0.0
        return {"p": round(p, 4), "r": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}

    return {"groups": prf(tp, fp, fn), "detection": prf(dtp, dfp, dfn), "threshold": round(t, 3)}


def reliability(model: TargetsModel, data: list[Example], bins: int = 10) -> list[dict[str, Any]]:
    """Calibrated P(relation) in ``bins`` equal-width bins: pairs, mean confidence, observed rate."""
    return row_reliability(model_rows(model, data), bins)


def row_reliability(rows: Iterable[ScoredRow], bins: int = 10) -> list[dict[str, Any]]:
    """:func:`reliability` of scored rows."""
    acc: list[list[float]] = [[0, 0.0, 0] for _ in range(bins)]
    for _, conf, y in rows:
        k = min(bins - 1, int(conf * bins))
        acc[k][0] += 1
        acc[k][1] += conf
        acc[k][2] += y != 0
    return [{"bin": f"{k / bins:.1f}-{(k + 1) / bins:.1f}", "pairs": int(n), "mean_confidence": round(s / n, 3) if n else None,
             "observed": round(o / n, 3) if n else None} for k, (n, s, o) in enumerate(acc)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="ChemProt training folder")
    ap.add_argument("--dev", required=True, help="ChemProt development folder (cut into select / held halves)")
    ap.add_argument("--output", required=True, help=f"folder for {TARGETS_MODEL_FILE} and its report")
    ap.add_argument("--c", type=float, nargs="+", default=[0.1, 0.3, 1.0], help="C values tried (chosen on the select half)")
    args = ap.parse_args(argv)
    from ingest.text.pipeline import load_pipeline

    t0 = time.time()
    nlp = _blank()
    full = load_pipeline(relation_models="none")
    train_docs, dev_docs = read_chemprot(args.train), read_chemprot(args.dev)
    train = examples(train_docs, nlp)
    p_train, _ = pipeline_examples(train_docs, full)
    dev = examples(dev_docs, nlp)
    p_dev, missed = pipeline_examples(dev_docs, full)
    select = [e for e in dev if is_select(e[2])]
    held = [e for e in dev if not is_select(e[2])]
    p_select = [e for e in p_dev if is_select(e[2])]
    p_held = [e for e in p_dev if not is_select(e[2])]
    miss_select = sum(v for k, v in missed.items() if is_select(k))
    miss_held = sum(v for k, v in missed.items() if not is_select(k))
    report: dict[str, Any] = {"train_pairs_gold_mentions": len(train), "train_positive": sum(1 for e in train if e[1]),
                              "train_pairs_pipeline_mentions": len(p_train), "train_positive_pipeline": sum(1 for e in p_train if e[1]),
                              "select_pairs": len(p_select), "select_positive": sum(1 for e in p_select if e[1]), "select_missed": miss_select,
                              "held_pairs": len(p_held), "held_positive": sum(1 for e in p_held if e[1]), "held_missed": miss_held, "tried": {}}
    best: tuple[float, float, TargetsModel] | None = None
    for c in args.c:
        model = fit(train + p_train, c)
        raw = [1 - model.probs(f)[0] for f, _, _ in p_select]
        model.calibration = platt(raw, [int(y != 0) for _, y, _ in p_select])
        grid = [pair_scores(model, p_select, t / 100, miss_select) for t in range(5, 81, 5)]
        top = max(grid, key=lambda s: s["groups"]["f1"])
        report["tried"][str(c)] = top
        if best is None or top["groups"]["f1"] > best[0]:
            model.threshold = top["threshold"]
            best = (top["groups"]["f1"], c, model)
    assert best is not None
    _, c, model = best
    model.meta = {"type": "TARGETS", "trained_on": "ChemProt training split: chemical-gene pairs of one sentence, gold mentions "
                  "and the shipped pipeline's mentions",
                  "classes": "none + CPR:3 activator, CPR:4 inhibitor, CPR:5 agonist, CPR:6 antagonist, CPR:9 substrate",
                  "c": c, "selection": "C, Platt calibration and threshold on the sha256(pmid) % 2 == 0 half of ChemProt development",
                  "features": len(model.weights)}
    report["chosen_c"] = c
    report["threshold"] = model.threshold
    report["calibration"] = list(model.calibration)
    report["select_end_to_end"] = pair_scores(model, p_select, None, miss_select)
    report["held_end_to_end"] = pair_scores(model, p_held, None, miss_held)
    report["select_gold_mentions"] = pair_scores(model, select)
    report["held_gold_mentions"] = pair_scores(model, held)
    report["reliability_held_end_to_end"] = reliability(model, p_held)
    report["seconds"] = round(time.time() - t0, 1)
    model.meta["held_out"] = {"end_to_end": report["held_end_to_end"], "gold_mentions": report["held_gold_mentions"]}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / TARGETS_MODEL_FILE)
    (out / "relations-chemprot-report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
