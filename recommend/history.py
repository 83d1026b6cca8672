"""Drug recommendations for one patient and one condition, learnt from real prescribing histories.

Fitted on prescriptions ``(patient, ingredient, reason code)`` (Synthea ``REASONCODE``; in the graph
``(:Patient)-[:TAKES {reason_codes}]->(:Drug)``) and each patient's past codes. For a patient ``u``
and a condition ``c`` an ingredient ``i`` scores

.. math:: s(i) = \\tfrac12 P(i \\mid c) + \\tfrac12 \\mathrm{CF}_u(i \\mid c) + 0.05\\,[i \\text{ TREATS } c]
          + 10^{-3} \\mathrm{pop}(i)

- ``P(i | c)``: share of the patients prescribed anything for ``c`` who got ``i`` for it;
- ``CF``: the same among the 50 patients most similar to ``u`` (cosine over past drugs and
  conditions), weighted by similarity (user-based collaborative filtering);
- the graph signal: a curated ``TREATS`` edge to the condition's Disease, when a graph is given;
- popularity breaks ties. The weights were fixed before any evaluation (no tuning).

The safety filter (:meth:`HistoryRecommender.recommend`) removes drugs the patient already takes
and drugs they are allergic to, and flags (or removes) drugs that ``INTERACTS_WITH`` a current one.

Only drugs with evidence for the condition are recommended (``P(i | c) > 0``, a neighbour got ``i``
for ``c``, or a curated ``TREATS``): popularity orders ties, it never makes a drug a candidate, so the
list is shorter than ``k`` when the evidence runs out (before, a patient already on the only drugs
prescribed for prediabetes got the commonest drugs of the cohort, an opioid among them, as
"recommended for prediabetes"). The ``popularity`` baseline ranks every drug, by definition.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from graph_engine.errors import RecommendError

NEIGHBOURS = 50
W_COND, W_CF, W_GRAPH, W_POP = 0.5, 0.5, 0.05, 1e-3


@dataclass
class Recommended:
    drug: str
    score: float
    rank: int
    flags: list[str] = field(default_factory=list)


class HistoryRecommender:
    """See the module docstring. ``fit(prescriptions, codes)`` with DataFrames
    ``prescriptions: pid, drug, reason`` and ``codes: pid, code`` (any past codes)."""

    def fit(self, prescriptions: pd.DataFrame, codes: pd.DataFrame,
            treats: Mapping[str, Iterable[str]] | None = None) -> "HistoryRecommender":
        rx = prescriptions[prescriptions["reason"].fillna("") != ""].drop_duplicates(["pid", "drug", "reason"])
        if rx.empty:
            raise RecommendError("no prescriptions with a reason code to learn from")
        self.drugs = np.array(sorted(set(prescriptions["drug"])))
        self._di = {d: i for i, d in enumerate(self.drugs)}
        pop = prescriptions.drop_duplicates(["pid", "drug"])["drug"].value_counts()
        self.popularity = np.array([pop.get(d, 0) for d in self.drugs], float)
        self.popularity /= max(self.popularity.max(), 1.0)
        self.pids = np.array(sorted(set(prescriptions["pid"]) | set(codes["pid"])))
        self._pi = {p: i for i, p in enumerate(self.pids)}
        feats = sorted(set("D:" + prescriptions["drug"]) | set("C:" + codes["code"].astype(str)))
        self._fi = {f: i for i, f in enumerate(feats)}
        rows = [self._pi[p] for p in prescriptions["pid"]] + [self._pi[p] for p in codes["pid"]]
        cols = [self._fi["D:" + d] for d in prescriptions["drug"]] + [self._fi["C:" + str(c)] for c in codes["code"]]
        m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.pids), len(feats)))
        m.data[:] = 1.0
        m.sum_duplicates()
        m.data[:] = 1.0
        norms = np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel())
        self.profiles = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m
        self.by_reason: dict[str, dict[int, np.ndarray]] = {}
        for reason, g in rx.groupby("reason"):
            per: dict[int, list[int]] = defaultdict(list)
            for p, d in zip(g["pid"], g["drug"]):
                per[self._pi[p]].append(self._di[d])
            self.by_reason[str(reason)] = {p: np.array(sorted(set(v))) for p, v in per.items()}
        self.treats = {str(k): set(v) for k, v in (treats or {}).items()}
        return self

    def conditions(self) -> list[str]:
        return sorted(self.by_reason)

    def scores(self, condition: str, drugs: Iterable[str] = (), codes: Iterable[str] = (),
               exclude_pid: str | None = None) -> dict[str, np.ndarray]:
        """``{"model", "condition_frequency", "popularity"}`` score vectors over :attr:`drugs`, and the boolean
        vectors ``"evidence"`` (the model's: frequency, neighbours or ``TREATS``) and ``"condition_evidence"``
        (``P(i | c) > 0``) of the drugs each may recommend."""
        n = len(self.drugs)
        pop = self.popularity.copy()
        treated = self.by_reason.get(str(condition), {})
        cond = np.zeros(n)
        for ds in treated.values():
            cond[ds] += 1
        cond /= max(len(treated), 1)
        cf = np.zeros(n)
        if treated:
            q = np.zeros(self.profiles.shape[1])
            for f in ["D:" + d for d in drugs] + ["C:" + str(c) for c in codes]:
                j = self._fi.get(f)
                if j is not None:
                    q[j] = 1.0
            cand = np.array([p for p in treated if exclude_pid is None or self.pids[p] != exclude_pid])
            if len(cand) and q.any():
                sim = self.profiles[cand] @ (q / np.linalg.norm(q))
                top = np.argsort(-sim, kind="stable")[:NEIGHBOURS]
                w = sim[top]
                if w.sum() > 0:
                    for p, wt in zip(cand[top], w):
                        cf[treated[p]] += wt
                    cf /= w.sum()
        graph = np.array([d in self.treats.get(str(condition), set()) for d in self.drugs], float)
        model = W_COND * cond + W_CF * cf + W_GRAPH * graph + W_POP * pop
        return {"model": model, "condition_frequency": cond + W_POP * pop, "popularity": pop,
                "evidence": (cond > 0) | (cf > 0) | (graph > 0), "condition_evidence": cond > 0}

    def recommend(self, condition: str, drugs: Iterable[str] = (), codes: Iterable[str] = (),
                  allergies: Iterable[str] = (), interactions: Mapping[str, Iterable[str]] | None = None,
                  k: int = 10, method: str = "model", on_conflict: str = "flag") -> list[Recommended]:
        """Top ``k`` ingredients for ``condition`` after the safety filter (see the module docstring):
        at most ``k``, fewer (possibly none) when fewer drugs have evidence for ``condition``, except for
        ``method="popularity"``."""
        if on_conflict not in ("flag", "remove"):
            raise RecommendError(f"on_conflict must be 'flag' or 'remove', got {on_conflict!r}")
        if method not in ("model", "condition_frequency", "popularity"):
            raise RecommendError(f"method must be 'model', 'condition_frequency' or 'popularity', got {method!r}")
        current, allergic = set(drugs), set(allergies)
        sc = self.scores(condition, current, codes)
        s = sc[method]
        evidence = {"model": sc["evidence"], "condition_frequency": sc["condition_evidence"]}.get(method)
        out: list[Recommended] = []
        for j in np.lexsort((np.arange(len(s)), -s)):
            d = str(self.drugs[j])
            if d in current or d in allergic or (evidence is not None and not evidence[j]):
                continue
            flags = [f"interacts_with:{c}" for c in sorted(current) if d in set((interactions or {}).get(c, ()))]
            if flags and on_conflict == "remove":
                continue
            out.append(Recommended(d, float(s[j]), len(out) + 1, flags))
            if len(out) == k:
                break
        return out


def rank_metrics(ranked: list[list[str]], relevant: list[set[str]], ks: tuple[int, ...] = (5, 10)) -> dict[str, Any]:
    """Hits@k (any relevant drug in the top k) and MRR (first relevant drug) over cases."""
    out: dict[str, Any] = {"cases": len(ranked)}
    rr = []
    for r, rel in zip(ranked, relevant):
        pos = next((i for i, d in enumerate(r) if d in rel), None)
        rr.append(0.0 if pos is None else 1.0 / (pos + 1))
        for k in ks:
            out.setdefault(f"hits@{k}", []).append(pos is not None and pos < k)
    for k in ks:
        out[f"hits@{k}"] = float(np.mean(out[f"hits@{k}"])) if ranked else None
    out["mrr"] = float(np.mean(rr)) if rr else None
    return out
