"""Tabular features of a patient at a cut date: what Synthea's disease modules drive onsets from.

Synthea's modules make onsets depend on age and sex, on measured risk factors (BMI, blood pressure,
HbA1c, glucose, cholesterol, smoking) and on when the patient is seen (most chronic disorders are
diagnosed at a wellness encounter). For a sample cut at ``T`` (only records that start before ``T``):

- ``age`` (years at ``T``), ``male``; the history counts of :func:`~models.sequence.data.static_features`
  (log visits in the last year and overall, log distinct codes) and log days since the last visit;
- ``obs:<LOINC>``: the last numeric value of each observation measured for enough training patients
  (NaN when never measured), and ``obs_days:<LOINC>`` days since it was measured for the most common ones;
- ``obs:<LOINC>=<answer>``: one-hot coded answers of the kept text observations (smoking status);
- ``enc_n:<class>`` / ``enc_days:<class>``: encounters of each class (wellness, ambulatory, emergency, ...)
  in the last 365 days and days since the last one (NaN when none);
- ``careplan:<code>``: care plans active at ``T``;
- ``code:<token>``: presence of the most frequent history tokens (conditions, medications, procedures).

The :class:`FeatureSpec` (which codes, in which column) is chosen on the training cohort and saved with
the model, so any cohort yields the same columns. No patient identifier or date enters the features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from graph_engine.synthea import SyntheaTables
from models.sequence.data import Samples, Vocab

ENCOUNTER_CLASSES = ("wellness", "ambulatory", "outpatient", "emergency", "urgentcare", "inpatient")


@dataclass
class FeatureSpec:
    """The columns of :func:`tabular_features` (chosen by :func:`fit_feature_spec`)."""

    obs_numeric: list[str]
    obs_days: list[str]
    obs_text: dict[str, list[str]]
    careplans: list[str]
    tokens: list[int]
    token_names: list[str]

    @property
    def names(self) -> list[str]:
        return (["age", "male", "log_visits_year", "log_visits", "log_distinct_codes", "log_days_since_visit"]
                + [f"obs:{c}" for c in self.obs_numeric] + [f"obs_days:{c}" for c in self.obs_days]
                + [f"obs:{c}={v}" for c, vs in self.obs_text.items() for v in vs]
                + [f"enc_n:{k}" for k in ENCOUNTER_CLASSES] + [f"enc_days:{k}" for k in ENCOUNTER_CLASSES]
                + [f"careplan:{c}" for c in self.careplans] + [f"code:{t}" for t in self.token_names])

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> FeatureSpec:
        return cls(list(d["obs_numeric"]), list(d["obs_days"]), {k: list(v) for k, v in d["obs_text"].items()},
                   list(d["careplans"]), [int(t) for t in d["tokens"]], list(d["token_names"]))


def _patients_of(table: pd.DataFrame, pids: set[str]) -> pd.DataFrame:
    return table[table["pid"].isin(pids)]


def fit_feature_spec(tables: SyntheaTables, s: Samples, vocab: Vocab, min_patients: float = 0.05,
                     max_obs: int = 40, max_obs_days: int = 8, max_careplans: int = 30,
                     max_tokens: int = 150) -> FeatureSpec:
    """Codes measured / present for at least ``min_patients`` of the training patients (most frequent first)."""
    pids = set(s.pids)
    n = max(len(pids), 1)
    obs = _patients_of(tables.table("observations"), pids)
    obs_numeric: list[str] = []
    obs_text: dict[str, list[str]] = {}
    if len(obs) and "value" in obs:
        is_num = obs["value"].map(lambda v: isinstance(v, float) and not np.isnan(v))
        num = obs[is_num]
        cover = num.drop_duplicates(["pid", "code"])["code"].value_counts()
        obs_numeric = sorted(cover[cover >= min_patients * n].index[:max_obs], key=lambda c: (-cover[c], c))
        txt = obs[obs["value"].map(lambda v: isinstance(v, str))]
        for code, g in txt.groupby("code"):
            vals = g.drop_duplicates(["pid", "value"])["value"].value_counts()
            obs_text[str(code)] = sorted(vals[vals >= min_patients * n / 4].index[:6])
    care = _patients_of(tables.table("careplans"), pids)
    ccover = care.drop_duplicates(["pid", "code"])["code"].value_counts() if len(care) else pd.Series(dtype=int)
    careplans = [str(c) for c in ccover[ccover >= min_patients * n / 2].index[:max_careplans]]
    present = np.zeros(len(vocab.tokens), np.int64)
    for row in s.hist:
        present[np.unique(row[row > 1])] += 1
    order = np.argsort(-present, kind="stable")
    tokens = [int(t) for t in order[:max_tokens] if present[t] >= max(1.0, min_patients * len(s))]
    return FeatureSpec(obs_numeric, obs_numeric[:max_obs_days], {k: v for k, v in obs_text.items() if v},
                       careplans, tokens, [vocab.tokens[t] for t in tokens])


def _last_before(df: pd.DataFrame, cut: np.datetime64, pidx: dict[str, int]) -> pd.DataFrame:
    """The latest row per (patient, code) starting before ``cut`` among the patients of ``pidx``."""
    d = df[(df["start"].to_numpy() < cut.astype("datetime64[ns]")) & df["pid"].isin(pidx)]
    d = d.sort_values("start", kind="stable").drop_duplicates(["pid", "code"], keep="last")
    return d.assign(row=d["pid"].map(pidx).to_numpy(dtype=np.int64))


def tabular_features(tables: SyntheaTables, s: Samples, spec: FeatureSpec) -> np.ndarray:
    """``(N, F)`` float32 features (columns :attr:`FeatureSpec.names`; NaN = never measured / never seen)."""
    n = len(s)
    F = len(spec.names)
    X = np.full((n, F), np.nan, np.float32)
    X[:, 0] = s.age
    X[:, 1] = s.sex == "M"
    X[:, 2:5] = s.static[:, -3:]
    X[:, 5] = s.times[:, -1, 1]                      # log1p(days before the cut) of the last visit, / 5
    col = 6
    obs_col = {c: col + i for i, c in enumerate(spec.obs_numeric)}
    col += len(spec.obs_numeric)
    days_col = {c: col + i for i, c in enumerate(spec.obs_days)}
    col += len(spec.obs_days)
    text_col = {(c, v): col + i for i, (c, v) in enumerate((c, v) for c, vs in spec.obs_text.items() for v in vs)}
    col += len(text_col)
    enc_n = {k: col + i for i, k in enumerate(ENCOUNTER_CLASSES)}
    col += len(ENCOUNTER_CLASSES)
    enc_days = {k: col + i for i, k in enumerate(ENCOUNTER_CLASSES)}
    col += len(ENCOUNTER_CLASSES)
    care_col = {c: col + i for i, c in enumerate(spec.careplans)}
    col += len(spec.careplans)
    tok_col = np.full(max(spec.tokens, default=0) + 2, -1, np.int64)
    tok_col[spec.tokens] = col + np.arange(len(spec.tokens))
    # history tokens: presence (0/1)
    X[:, col:col + len(spec.tokens)] = 0.0
    rows = np.repeat(np.arange(n), s.hist.shape[1])
    h = s.hist.ravel()
    hit = (h < len(tok_col)) & (h > 1)
    c = tok_col[np.where(hit, h, 0)]
    ok = hit & (c >= 0)
    X[rows[ok], c[ok]] = 1.0

    obs = tables.table("observations")
    enc = tables.table("encounters")
    care = tables.table("careplans")
    obs_codes = set(spec.obs_numeric) | set(spec.obs_text)
    obs = obs[obs["code"].isin(obs_codes)] if len(obs) and "value" in obs else obs.iloc[:0]
    for cut in np.unique(s.as_of):
        idx = np.flatnonzero(s.as_of == cut)
        pidx = {s.pids[i]: int(i) for i in idx}
        cut_ns = np.datetime64(cut, "ns")
        if len(obs):
            last = _last_before(obs, cut, pidx)
            num = last[last["value"].map(lambda v: isinstance(v, float))]
            cols = num["code"].map(obs_col)
            X[num["row"].to_numpy(dtype=np.int64), cols.to_numpy(dtype=np.int64)] = num["value"].to_numpy(dtype=np.float32)
            dd = num[num["code"].isin(days_col)]
            age_days = (cut_ns - dd["start"].to_numpy()).astype("timedelta64[D]").astype(np.float32)
            X[dd["row"].to_numpy(dtype=np.int64), dd["code"].map(days_col).to_numpy(dtype=np.int64)] = age_days
            txt = last[last["value"].map(lambda v: isinstance(v, str))]
            for code, value, r in zip(txt["code"], txt["value"], txt["row"]):
                for v in spec.obs_text.get(code, ()):
                    X[r, text_col[(code, v)]] = float(value == v)
        if len(enc) and "encounter_class" in enc:
            e = enc[(enc["start"].to_numpy() < cut_ns) & enc["pid"].isin(pidx)]
            e = e[e["encounter_class"].isin(enc_n)]
            recent = e[e["start"].to_numpy() >= cut_ns - np.timedelta64(365, "D")]
            cnt = recent.groupby(["pid", "encounter_class"]).size().reset_index(name="n")
            X[cnt["pid"].map(pidx).to_numpy(dtype=np.int64), cnt["encounter_class"].map(enc_n).to_numpy(dtype=np.int64)] = cnt["n"]
            lastd = e.groupby(["pid", "encounter_class"])["start"].max().reset_index()
            days = (cut_ns - lastd["start"].to_numpy().astype("datetime64[ns]")) / np.timedelta64(1, "D")
            X[lastd["pid"].map(pidx).to_numpy(dtype=np.int64), lastd["encounter_class"].map(enc_days).to_numpy(dtype=np.int64)] = days
            for k in ENCOUNTER_CLASSES:               # never seen in that class: 0 in the last year
                X[idx, enc_n[k]] = np.nan_to_num(X[idx, enc_n[k]], nan=0.0)
        if len(care):
            cp = care[(care["start"].to_numpy() < cut_ns) & care["pid"].isin(pidx) & care["code"].isin(care_col)]
            stop = cp["stop"].to_numpy()
            active = cp[np.isnat(stop) | (stop >= cut_ns)]
            X[idx[:, None], np.array(list(care_col.values()), np.int64)[None, :]] = 0.0
            if len(active):
                X[active["pid"].map(pidx).to_numpy(dtype=np.int64), active["code"].map(care_col).to_numpy(dtype=np.int64)] = 1.0
    return X
