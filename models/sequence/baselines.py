"""Baselines for next-condition prediction, fitted on the same training samples as the model.

- ``population``: each disorder's onset rate among patients who do not have it yet.
- ``age_sex``: the same rate by age band x sex, shrunk towards the population rate.
- ``markov``: onset rate given each code of the last visit (co-occurrence / first-order Markov),
  shrunk towards the population rate; a patient's score is the maximum over the last visit's codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from models.sequence.data import AGE_BANDS, Samples, age_band

SHRINK = 20.0


def last_visit_tokens(s: Samples, n_tokens: int) -> sp.csr_matrix:
    """Binary (N, T) matrix of the tokens of each sample's last visit."""
    last = s.codes[:, -1, :]
    rows = np.repeat(np.arange(len(s)), last.shape[1])
    cols = last.ravel()
    keep = cols > 1
    m = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows[keep], cols[keep])), shape=(len(s), n_tokens))
    m.data[:] = 1.0
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


@dataclass
class Baselines:
    population: np.ndarray   # (D,)
    age_sex: np.ndarray      # (B, 2, D)
    markov: np.ndarray       # (T, D)

    @classmethod
    def fit(cls, s: Samples, n_tokens: int) -> Baselines:
        y = s.labels.astype(np.float64)
        e = (~s.present).astype(np.float64)
        pop = (y.sum(0) + 1.0) / (e.sum(0) + 2.0)
        nb = len(AGE_BANDS) - 1
        band = age_band(s.age)
        sx = (s.sex == "M").astype(int)
        age_sex = np.zeros((nb, 2, y.shape[1]))
        for b in range(nb):
            for g in (0, 1):
                m = (band == b) & (sx == g)
                age_sex[b, g] = (y[m].sum(0) + SHRINK * pop) / (e[m].sum(0) + SHRINK)
        last = last_visit_tokens(s, n_tokens)
        pos = np.asarray((last.T @ sp.csr_matrix(y)).todense())
        elig = np.asarray((last.T @ sp.csr_matrix(e)).todense())
        markov = (pos + SHRINK * pop) / (elig + SHRINK)
        return cls(pop.astype(np.float32), age_sex.astype(np.float32), markov.astype(np.float32))

    def age_sex_rates(self, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
        """The age band x sex onset rates ``(N, D)`` of patients with these ages and sexes."""
        return self.age_sex[age_band(age), (sex == "M").astype(int)]

    def scores(self, s: Samples) -> dict[str, np.ndarray]:
        n, d = s.labels.shape
        pop = np.broadcast_to(self.population, (n, d)).copy()
        agesex = self.age_sex_rates(s.age, s.sex)
        last = last_visit_tokens(s, self.markov.shape[0])
        markov = pop.copy()
        for i in range(n):
            toks = last.indices[last.indptr[i]:last.indptr[i + 1]]
            if len(toks):
                markov[i] = self.markov[toks].max(0)
        # ties broken by population rate (tiny epsilon) so rankings are deterministic and sensible
        return {"population": pop, "age_sex": agesex + 1e-6 * pop, "markov": markov + 1e-6 * pop}

    def save(self, path: Path) -> None:
        np.savez_compressed(path, population=self.population, age_sex=self.age_sex, markov=self.markov)

    @classmethod
    def load(cls, path: Path) -> Baselines:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["population"], z["age_sex"], z["markov"])
