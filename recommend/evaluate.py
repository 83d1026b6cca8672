"""Honest evaluation of recommenders: leakage-safe splits, ranking metrics, one table.

For each split kind (``random-edge``, ``held-out-disease``) and seed, every
method is fitted on the split's training graph and scores all drugs for the
test diseases. Candidates for a test disease are all drugs except those still
known to treat / palliate it in training; positives are the held-out pairs.

Metrics (positives vs. all other candidates of the test diseases):
    AUROC, AUPRC: pooled over all candidate pairs of the split.
    MRR, Hits@10: per held-out pair, its filtered rank among the disease's
        candidates with the other held-out positives removed (ties count half).

Example:
    >>> rows = evaluate(tables, methods=["popularity", "hybrid"], seeds=[0, 1, 2])
    >>> print(to_markdown(summarize(rows)))
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from graph_engine.errors import RecommendError
from graph_engine.export import GraphTables

from recommend.base import get_recommender
from recommend.data import IndicationData
from recommend.split import Split, make_split

log = logging.getLogger(__name__)

DEFAULT_METHODS: tuple[str, ...] = (
    "random", "popularity", "cf", "cf-svd", "content", "imc", "ppr", "metapath", "gnn", "hybrid")
DEFAULT_SPLITS: tuple[str, ...] = ("random-edge", "held-out-disease")
METRICS: tuple[str, ...] = ("auroc", "auprc", "mrr", "hits@10")


@dataclass
class EvalRow:
    """One (method, split, seed) result; ``status`` is ``ok`` or ``skipped: <reason>``."""

    method: str
    split: str
    seed: int
    metrics: dict[str, float] = field(default_factory=dict)
    n_test_pairs: int = 0
    n_test_diseases: int = 0
    fit_seconds: float = 0.0
    status: str = "ok"


def ranking_metrics(scores: np.ndarray, positives: np.ndarray, candidates: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC, MRR and Hits@10 for a block of test diseases.

    Args:
        scores: ``(B, C)`` scores.
        positives: ``(B, C)`` bool, held-out pairs.
        candidates: ``(B, C)`` bool, pairs that are ranked (positives included).
    """
    pos = positives & candidates
    y = pos[candidates]
    s = scores[candidates].astype(np.float64)
    out = {"auroc": float("nan"), "auprc": float("nan")}
    if 0 < y.sum() < len(y):
        out["auroc"] = float(roc_auc_score(y, s))
        out["auprc"] = float(average_precision_score(y, s))
    ranks = []
    for b in range(scores.shape[0]):
        neg = scores[b][candidates[b] & ~pos[b]]
        for c in np.flatnonzero(pos[b]):
            v = scores[b, c]
            ranks.append(1.0 + np.sum(neg > v) + 0.5 * np.sum(neg == v))
    r = np.asarray(ranks)
    out["mrr"] = float(np.mean(1.0 / r)) if len(r) else float("nan")
    out["hits@10"] = float(np.mean(r <= 10)) if len(r) else float("nan")
    return out


def evaluate_split(split: Split, method: str, params: Mapping[str, Any] | None = None) -> EvalRow:
    """Fit ``method`` on ``split.train`` and score its held-out pairs."""
    row = EvalRow(method, split.kind, split.seed, n_test_pairs=len(split.test_pairs),
                  n_test_diseases=len(split.test_diseases))
    t0 = time.perf_counter()
    try:
        rec = get_recommender(method, seed=split.seed, **dict(params or {})).fit(split.train)
    except RecommendError as e:
        if method == "gnn":
            row.status = f"skipped: {e}"
            return row
        raise
    row.fit_seconds = time.perf_counter() - t0
    data: IndicationData = rec._data()
    rows = split.test_diseases
    scores = np.asarray(rec._score_rows(rows), dtype=np.float32)
    known = data.indications[rows].toarray() > 0
    positives = np.zeros_like(known)
    where = {int(d): i for i, d in enumerate(rows)}
    for d, c in split.test_pairs:
        positives[where[int(d)], c] = True
    if (known & positives).any():  # a leak would make the evaluation meaningless
        raise RecommendError(f"split leak: {int((known & positives).sum())} test pairs are still in training")
    row.metrics = ranking_metrics(scores, positives, ~known)
    return row


def evaluate(
    tables: GraphTables,
    methods: Sequence[str] = DEFAULT_METHODS,
    splits: Sequence[str] = DEFAULT_SPLITS,
    seeds: Sequence[int] = (0, 1, 2),
    test_frac: float = 0.2,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[EvalRow], None] | None = None,
) -> list[EvalRow]:
    """Every method on every split kind and seed.

    Args:
        tables: the graph (from ``client.export`` or :func:`recommend.hetionet_tables.read_hetionet`).
        methods: registered recommender names.
        splits: split kinds.
        seeds: one split per seed (and the methods get the same seed).
        test_frac: fraction of pairs / diseases held out.
        params: per-method constructor parameters (e.g. ``{"gnn": {"embeddings": path}}``).
        progress: called after each row.

    Raises:
        RecommendError: an unknown method or split, or too few indications to split.
    """
    if len(seeds) < 1:
        raise RecommendError("give at least one seed")
    out = []
    for kind in splits:
        for seed in seeds:
            split = make_split(kind, tables, test_frac=test_frac, seed=int(seed))
            for m in methods:
                row = evaluate_split(split, m, (params or {}).get(m))
                out.append(row)
                if progress:
                    progress(row)
    return out


def summarize(rows: Iterable[EvalRow]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds per (split, method), in input order."""
    groups: dict[tuple[str, str], list[EvalRow]] = {}
    for r in rows:
        groups.setdefault((r.split, r.method), []).append(r)
    out = []
    for (split, method), rs in groups.items():
        ok = [r for r in rs if r.status == "ok"]
        entry: dict[str, Any] = {"split": split, "method": method, "seeds": len(ok),
                                 "status": "ok" if ok else rs[0].status}
        for m in METRICS:
            v = np.array([r.metrics[m] for r in ok], dtype=float)
            entry[m] = (float(np.nanmean(v)), float(np.nanstd(v))) if len(v) else None
        entry["fit_s"] = float(np.mean([r.fit_seconds for r in ok])) if ok else None
        entry["test_pairs"] = float(np.mean([r.n_test_pairs for r in rs]))
        out.append(entry)
    return out


def to_markdown(summary: Sequence[Mapping[str, Any]]) -> str:
    """The summary as one Markdown table (mean ± std over seeds)."""
    head = "| split | method | seeds | AUROC | AUPRC | MRR | Hits@10 | fit s |"
    lines = [head, "|" + "---|" * 8]
    for e in summary:
        if e["status"] != "ok":
            reason = str(e["status"]).split(";")[0]
            lines.append(f"| {e['split']} | {e['method']} | 0 | {reason} | | | | |")
            continue
        cells = [f"{e[m][0]:.3f} ± {e[m][1]:.3f}" for m in METRICS]
        lines.append(f"| {e['split']} | {e['method']} | {e['seeds']} | " + " | ".join(cells) + f" | {e['fit_s']:.1f} |")
    return "\n".join(lines)


def rows_as_dicts(rows: Iterable[EvalRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def paired_differences(rows: Mapping[str, Sequence[EvalRow]], base: str,
                       metrics: Sequence[str] = METRICS) -> list[dict[str, Any]]:
    """Each variant against ``base`` on the same split draws: mean paired difference per metric.

    With few diseases a split draw moves AUROC by far more than most method changes,
    so variants are compared seed by seed (same split, same seed) instead of by their
    means. Only seeds where both rows are ``ok`` are paired.

    Args:
        rows: variant name -> its rows (one per seed; the same split kind for all).
        base: the variant the others are compared with.

    Returns:
        one dict per variant other than ``base``: ``variant``, ``seeds`` (paired count) and per
        metric ``{metric: mean, metric + "_diff": mean difference, metric + "_se": its standard
        error, metric + "_wins": seeds where the variant is higher}``.

    Raises:
        RecommendError: ``base`` missing, or the rows mix split kinds.
    """
    if base not in rows:
        raise RecommendError(f"no rows for the base variant {base!r}; variants: {sorted(rows)}")
    kinds = {r.split for rs in rows.values() for r in rs}
    if len(kinds) > 1:
        raise RecommendError(f"rows mix split kinds {sorted(kinds)}: compare one kind at a time")
    ref = {r.seed: r for r in rows[base] if r.status == "ok"}
    out = []
    for name, rs in rows.items():
        if name == base:
            continue
        pairs = [(r, ref[r.seed]) for r in rs if r.status == "ok" and r.seed in ref]
        entry: dict[str, Any] = {"variant": name, "seeds": len(pairs)}
        for m in metrics:
            d = np.array([a.metrics[m] - b.metrics[m] for a, b in pairs], dtype=float)
            entry[m] = float(np.mean([a.metrics[m] for a, _ in pairs])) if pairs else float("nan")
            entry[m + "_diff"] = float(d.mean()) if len(d) else float("nan")
            entry[m + "_se"] = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
            entry[m + "_wins"] = int((d > 0).sum())
        out.append(entry)
    return out
