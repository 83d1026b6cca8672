"""Side effects for new drugs: Drug-CAUSES-SideEffect from structure plus graph context.

Views of a drug (each a drug-drug similarity):

* ``fp``     Morgan (r=2, 2048 bits) Tanimoto — structure;
* ``admet``  cosine of the standardised admet-ai (Chemprop) classification outputs — predicted properties;
* ``target`` Jaccard of its Hetionet targets (BINDS genes);
* ``class``  Jaccard of its pharmacologic classes (Hetionet PCiC).

``MultiViewKNN`` scores side effect ``s`` for drug ``d`` as the similarity-weighted rate of ``s``
among the ``k`` training drugs most similar to ``d`` under ``sum_v w_v * S_v`` (views missing
for ``d`` — no targets, no class — drop out and the weights renormalise per pair), blended with
the training frequency of ``s``. The view weights, ``k`` and the blend are chosen on a
validation split of the training drugs only.

Evaluated cold start (:func:`cold_start_evaluation`): test drugs are held out with all their
side effects; baselines in the same run are the frequency prior and a fingerprint kNN.
SIDER 4.1 labels are read at run time and never shipped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from graph_engine.chem import morgan_matrix, tanimoto_matrix
from graph_engine.errors import ModelError

VIEWS = ("fp", "admet", "target", "class")
MODEL_NAME = "se-multiview-knn"
MODEL_VERSION = "1.0.0"


@dataclass
class DrugTable:
    """Drugs (rows) with their views; ``Y`` is the (drugs x side effects) 0/1 label matrix when known."""

    ids: list[str]
    fp: np.ndarray
    admet: np.ndarray
    targets: list[set[str]]
    classes: list[set[str]]
    Y: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint8))  # empty: unlabelled
    side_effects: list[str] = field(default_factory=list)

    def take(self, idx: np.ndarray) -> "DrugTable":
        return DrugTable([self.ids[i] for i in idx], self.fp[idx], self.admet[idx],
                         [self.targets[i] for i in idx], [self.classes[i] for i in idx],
                         self.Y[idx] if self.Y.size else self.Y, self.side_effects)


def _jaccard(a: Sequence[set[str]], b: Sequence[set[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(similarity, defined-mask): defined where both drugs have at least one member."""
    vocab = {x: i for i, x in enumerate(sorted(set().union(*a, *b)))} if (a or b) else {}
    A = np.zeros((len(a), max(len(vocab), 1)), np.float32)
    B = np.zeros((len(b), max(len(vocab), 1)), np.float32)
    for M, sets in ((A, a), (B, b)):
        for i, s in enumerate(sets):
            M[i, [vocab[x] for x in s]] = 1
    inter = A @ B.T
    union = A.sum(1)[:, None] + B.sum(1)[None, :] - inter
    defined = (A.sum(1)[:, None] > 0) & (B.sum(1)[None, :] > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0), defined


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-9)
    return np.clip(an @ bn.T, 0, 1).astype(np.float32)


def view_similarities(q: DrugTable, t: DrugTable, mu: np.ndarray, sd: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per view: (similarity of each query drug to each training drug, mask where the view is defined)."""
    full = np.ones((len(q.ids), len(t.ids)), bool)
    za, zt = (q.admet - mu) / sd, (t.admet - mu) / sd
    return {
        "fp": (tanimoto_matrix(q.fp, t.fp), full),
        "admet": (_cosine(za, zt), full),
        "target": _jaccard(q.targets, t.targets),
        "class": _jaccard(q.classes, t.classes),
    }


def combine(sims: dict[str, tuple[np.ndarray, np.ndarray]], weights: dict[str, float]) -> np.ndarray:
    num = np.zeros_like(sims["fp"][0])
    den = np.zeros_like(num)
    for v, w in weights.items():
        if w <= 0:
            continue
        s, m = sims[v]
        num += w * s * m
        den += w * m
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def knn_scores(S: np.ndarray, Y: np.ndarray, k: int, exclude_self: np.ndarray | None = None) -> np.ndarray:
    """Similarity-weighted label rate over the k most similar training drugs (per query row)."""
    S = S.copy()
    if exclude_self is not None:
        S[exclude_self] = -1.0
    k = min(k, S.shape[1])
    idx = np.argpartition(-S, k - 1, axis=1)[:, :k]
    w = np.clip(np.take_along_axis(S, idx, 1), 0, None)
    num = np.einsum("qk,qks->qs", w, Y[idx].astype(np.float32))
    return num / np.maximum(w.sum(1, keepdims=True), 1e-9)


@dataclass
class MultiViewKNN:
    weights: dict[str, float]
    k: int
    prior_blend: float
    train: DrugTable | None = None
    mu: np.ndarray | None = None
    sd: np.ndarray | None = None
    freq: np.ndarray | None = None

    def fit(self, train: DrugTable) -> "MultiViewKNN":
        if not train.Y.size or not len(train.ids):
            raise ModelError("side-effect model needs labelled training drugs")
        self.train = train
        self.mu = train.admet.mean(0)
        self.sd = train.admet.std(0) + 1e-6
        self.freq = train.Y.mean(0)
        return self

    def predict(self, q: DrugTable, exclude_self: bool = False) -> np.ndarray:
        assert self.train is not None and self.freq is not None and self.mu is not None and self.sd is not None
        S = combine(view_similarities(q, self.train, self.mu, self.sd), self.weights)
        mask = None
        if exclude_self:
            pos = {d: i for i, d in enumerate(self.train.ids)}
            mask = np.zeros_like(S, bool)
            for r, d in enumerate(q.ids):
                if d in pos:
                    mask[r, pos[d]] = True
        knn = knn_scores(S, self.train.Y, self.k, mask)
        return (1 - self.prior_blend) * knn + self.prior_blend * self.freq[None, :]


# ---------------------------------------------------------------------- metrics
def fast_column_auroc_ap(Y: np.ndarray, P: np.ndarray, cols: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised per-column AUROC (rank statistic, ties averaged) and average precision
    (ties broken by order; used only for tuning, checked against sklearn in the tests)."""
    from scipy.stats import rankdata

    Yc, Pc = Y[:, cols].astype(np.float64), P[:, cols]
    npos = Yc.sum(0)
    nneg = Yc.shape[0] - npos
    ranks = rankdata(Pc, axis=0)
    auroc = ((ranks * Yc).sum(0) - npos * (npos + 1) / 2) / np.maximum(npos * nneg, 1)
    order = np.argsort(-Pc, axis=0, kind="stable")
    Ys = np.take_along_axis(Yc, order, 0)
    hits = np.cumsum(Ys, 0)
    prec = hits / np.arange(1, Yc.shape[0] + 1)[:, None]
    ap = (prec * Ys).sum(0) / np.maximum(npos, 1)
    return auroc, ap


def fast_metrics(Y: np.ndarray, P: np.ndarray, min_pos: int = 3) -> dict[str, float]:
    cols = [j for j in range(Y.shape[1]) if min_pos <= Y[:, j].sum() < Y.shape[0]]
    rows = [i for i in range(Y.shape[0]) if 0 < Y[i].sum() < Y.shape[1]]
    a, p = fast_column_auroc_ap(Y, P, cols)
    ad, pd_ = fast_column_auroc_ap(Y.T, P.T, rows)
    return {"macro_auroc_se": float(a.mean()), "macro_auprc_se": float(p.mean()),
            "macro_auroc_drug": float(ad.mean()), "macro_auprc_drug": float(pd_.mean())}


def macro_metrics(Y: np.ndarray, P: np.ndarray, min_pos: int = 3) -> dict[str, float]:
    """Macro AUROC / AUPRC over side effects (columns with >= min_pos positives and a negative) and over drugs."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    cols = [j for j in range(Y.shape[1]) if min_pos <= Y[:, j].sum() < Y.shape[0]]
    rows = [i for i in range(Y.shape[0]) if 0 < Y[i].sum() < Y.shape[1]]
    if not cols:
        raise ModelError(f"no side effect has >= {min_pos} positives among the {Y.shape[0]} test drugs")
    return {
        "macro_auroc_se": float(np.mean([roc_auc_score(Y[:, j], P[:, j]) for j in cols])),
        "macro_auprc_se": float(np.mean([average_precision_score(Y[:, j], P[:, j]) for j in cols])),
        "macro_auroc_drug": float(np.mean([roc_auc_score(Y[i], P[i]) for i in rows])),
        "macro_auprc_drug": float(np.mean([average_precision_score(Y[i], P[i]) for i in rows])),
        "side_effects_scored": len(cols), "drugs_scored": len(rows),
    }


# ---------------------------------------------------------------------- data
def build_table(ids: Sequence[str], smiles: Sequence[str], admet: np.ndarray, knowledge: Any,
                side_effects: Sequence[str] | None = None) -> DrugTable:
    """Views for ``ids`` from structures, admet outputs and the knowledge's targets / classes / labels."""
    t = DrugTable(list(ids), morgan_matrix(smiles), np.asarray(admet, np.float32),
                  [set(knowledge.targets.get(d, ())) for d in ids], [set(knowledge.classes.get(d, ())) for d in ids])
    if side_effects is not None:
        col = {s: j for j, s in enumerate(side_effects)}
        Y = np.zeros((len(ids), len(side_effects)), np.uint8)
        for i, d in enumerate(ids):
            for s in knowledge.side_effects.get(d, ()):
                if s in col:
                    Y[i, col[s]] = 1
        t.Y, t.side_effects = Y, list(side_effects)
    return t


def reference_table(knowledge: Any, min_drugs: int = 20) -> DrugTable:
    """Every DrugBank-reference drug with side effects in ``knowledge``; side effects of >= ``min_drugs`` drugs.

    admet views are admet-ai's precomputed classification outputs (identical to models.toxicity's)."""
    import pandas as pd

    from models.toxicity import drugbank_reference_path, load_toxicity_model

    ref = pd.read_csv(drugbank_reference_path())
    ref["curie"] = "DRUGBANK:" + ref["id"]
    ref = ref[ref["curie"].isin(set(knowledge.side_effects))].drop_duplicates("curie").sort_values("curie")
    tasks = [t for t in load_toxicity_model(knowledge=False).tasks if t in ref.columns]
    counts: dict[str, int] = {}
    for d in ref["curie"]:
        for s in knowledge.side_effects[d]:
            counts[s] = counts.get(s, 0) + 1
    ses = sorted(s for s, n in counts.items() if n >= min_drugs)
    return build_table(ref["curie"].tolist(), ref["smiles"].tolist(), ref[tasks].to_numpy(np.float32), knowledge, ses)


GRID_WEIGHTS = [dict(zip(VIEWS, w)) for w in itertools.product((1.0,), (0.0, 0.5, 1.0), (0.0, 0.5, 1.0), (0.0, 0.5, 1.0))]
GRID_K = (10, 25, 50)
GRID_BLEND = (0.0, 0.1, 0.3)  # changes only the per-drug ranking (a per-side-effect constant)


def tune(train: DrugTable, seed: int, val_frac: float = 0.2) -> tuple[MultiViewKNN, dict[str, Any]]:
    """Pick weights / k / blend on a drug-cold validation split of ``train`` (macro AUROC + AUPRC over side effects)."""
    rng = np.random.default_rng(seed + 1000)
    perm = rng.permutation(len(train.ids))
    n_val = max(1, int(len(perm) * val_frac))
    tr, va = train.take(np.sort(perm[n_val:])), train.take(np.sort(perm[:n_val]))
    base = MultiViewKNN(GRID_WEIGHTS[0], GRID_K[0], 0.0).fit(tr)
    assert base.mu is not None and base.sd is not None and base.freq is not None
    sims = view_similarities(va, tr, base.mu, base.sd)
    best: tuple[float, dict[str, Any], np.ndarray] | None = None
    for w in GRID_WEIGHTS:
        S = combine(sims, w)
        for k in GRID_K:
            knn = knn_scores(S, tr.Y, k)
            m = fast_metrics(va.Y, knn)
            score = m["macro_auroc_se"] + m["macro_auprc_se"]
            if best is None or score > best[0]:
                best = (score, {"weights": w, "k": k, "validation": m}, knn)
    assert best is not None
    cfg, knn = best[1], best[2]
    blends = {b: fast_metrics(va.Y, (1 - b) * knn + b * base.freq[None, :])["macro_auprc_drug"] for b in GRID_BLEND}
    cfg["prior_blend"] = max(blends, key=lambda b: blends[b])
    return MultiViewKNN(cfg["weights"], cfg["k"], cfg["prior_blend"]).fit(train), cfg


def cold_start_evaluation(table: DrugTable, seed: int = 0, test_frac: float = 0.2, min_pos: int = 3) -> dict[str, Any]:
    """Hold out ``test_frac`` of the drugs entirely (seeded); tune on the rest; score all methods on the test drugs."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(table.ids))
    n_test = int(len(perm) * test_frac)
    test, train = table.take(np.sort(perm[:n_test])), table.take(np.sort(perm[n_test:]))
    keep = train.Y.sum(0) > 0
    train.Y, test.Y = train.Y[:, keep], test.Y[:, keep]
    model, cfg = tune(train, seed)
    freq = np.broadcast_to(train.Y.mean(0), test.Y.shape)
    fp = MultiViewKNN({"fp": 1.0}, 25, 0.0).fit(train)
    out = {
        "seed": seed, "train_drugs": len(train.ids), "test_drugs": len(test.ids),
        "side_effects": int(keep.sum()), "chosen": {k: v for k, v in cfg.items() if k != "validation"},
        "frequency baseline": macro_metrics(test.Y, freq, min_pos),
        "fingerprint kNN baseline (k=25)": macro_metrics(test.Y, fp.predict(test), min_pos),
        "multi-view kNN (medkg)": macro_metrics(test.Y, model.predict(test), min_pos),
    }
    out["structure-only multi-view (fp + admet, no graph context)"] = macro_metrics(
        test.Y, MultiViewKNN({"fp": cfg["weights"]["fp"] or 1.0, "admet": cfg["weights"]["admet"]}, cfg["k"],
                             cfg["prior_blend"]).fit(train).predict(test), min_pos)
    return out


def fit_and_rank(knowledge: Any, queries: Sequence[tuple[str, str]], allowed: set[str] | None = None,
                 top_k: int = 10, seed: int = 0, min_drugs: int = 20,
                 toxicity_model: Any = None) -> tuple[dict[str, list[tuple[str, float]]], dict[str, Any]]:
    """Tune + fit on every labelled reference drug, then rank side effects for ``queries`` ``(drug id, smiles)``.

    A query that is itself a training drug is scored without its own labels (leave-self-out); side
    effects already recorded for a drug are not proposed again. ``allowed`` restricts the proposals
    (e.g. to SideEffect nodes present in the graph).
    Returns ``({drug id: [(side effect id, score), …]}, config)``.
    """
    table = reference_table(knowledge, min_drugs=min_drugs)
    model, cfg = tune(table, seed)
    ids = [q[0] for q in queries]
    smiles = [q[1] for q in queries]
    if model.weights.get("admet", 0) > 0:
        from models.toxicity import load_toxicity_model

        tm = toxicity_model or load_toxicity_model(knowledge=False)
        admet = tm.predict_smiles(smiles)[:, : table.admet.shape[1]]
    else:
        admet = np.zeros((len(ids), table.admet.shape[1]), np.float32)
    q = build_table(ids, smiles, admet, knowledge)
    P = model.predict(q, exclude_self=True)
    out: dict[str, list[tuple[str, float]]] = {}
    for r, d in enumerate(ids):
        known = knowledge.side_effects.get(d, set())
        order = np.argsort(-P[r], kind="stable")
        picks = []
        for j in order:
            s = table.side_effects[j]
            if s in known or (allowed is not None and s not in allowed):
                continue
            picks.append((s, round(float(P[r, j]), 6)))
            if len(picks) == top_k:
                break
        out[d] = picks
    cfg = {**{k: v for k, v in cfg.items() if k != "validation"}, "validation": cfg["validation"],
           "train_drugs": len(table.ids), "side_effects": len(table.side_effects)}
    return out, cfg
