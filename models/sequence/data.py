"""Visit sequences and next-condition targets from a Synthea export.

A *sample* is one patient cut at an as-of date ``T``: the history is every
condition, medication and procedure that starts before ``T`` (one visit per
day with any event; at most ``max_visits`` most recent visits, ``max_codes``
codes each), plus every distinct past code (the whole history, for the
bag-of-codes path), the age at ``T`` and the sex. Targets are the SNOMED CT
codes whose description ends in ``(disorder)`` that first appear in
``[T, T + horizon)``; a disorder already present before ``T`` cannot be a
target and is removed from rankings.

Tokens are ``C:<snomed>`` (condition), ``M:<rxnorm>`` (medication) and
``P:<snomed>`` (procedure); index 0 is padding, 1 is "unknown code".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from graph_engine.errors import ModelError
from graph_engine.synthea import SyntheaTables, semantic_tag

PAD, UNK = 0, 1
AGE_BANDS = (0, 5, 18, 30, 40, 50, 60, 70, 80, 200)
N_BANDS = len(AGE_BANDS) - 1
#: age/100, (age/100)^2, male, female, age band x sex one-hot, log visits (last year, all), log distinct codes
N_STATIC = 4 + 2 * N_BANDS + 3


#: words that make a disorder *acute* (infections, injuries, acute episodes) unless its description also says
#: "chronic": Synthea draws these at age-dependent rates, largely without individual risk factors
ACUTE_KEYWORDS = ("acute", "viral", "virus", "infection", "infective", "infectious", "sepsis", "septic", "shock",
                  "pneumonia", "sinusitis", "pharyngitis", "bronchitis", "sore throat", "cystitis", "otitis",
                  "alveolitis of jaw", "injury", "injuries", "traumatic", "fracture", "laceration", "burn", "wound",
                  "concussion", "dislocation", "sprain", "strain", "contusion", "bite", "poisoning", "miscarriage")


def disorder_group(description: str) -> str:
    """``"acute"`` or ``"chronic"`` for a target disorder, from its SNOMED CT description (deterministic):
    acute when it contains a word of :data:`ACUTE_KEYWORDS` and not "chronic", else chronic (chronic
    disease, metabolic, dental, renal, cardiovascular, neoplasms, ...)."""
    d = description.lower()
    return "acute" if "chronic" not in d and any(k in d for k in ACUTE_KEYWORDS) else "chronic"


def events(tables: SyntheaTables) -> pd.DataFrame:
    """All history events: ``pid, date (datetime64), token, code, description``."""
    parts = []
    for name, prefix in (("conditions", "C:"), ("medications", "M:"), ("procedures", "P:")):
        t = tables.table(name)
        if len(t):
            parts.append(pd.DataFrame({"pid": t["pid"].to_numpy(), "date": t["start"].to_numpy(),
                                       "token": prefix + t["code"].astype(str).to_numpy(),
                                       "description": t["description"].to_numpy()}))
    if not parts:
        raise ModelError(f"{tables.directory}: no conditions, medications or procedures to learn from")
    return pd.concat(parts, ignore_index=True)


def disorder_onsets(tables: SyntheaTables) -> pd.DataFrame:
    """First onset of each disorder per patient: ``pid, code, first`` (+ ``description``)."""
    c = tables.table("conditions")
    tag = c["description"].map(semantic_tag)
    d = c[tag == "disorder"]
    out = d.groupby(["pid", "code"], sort=False).agg(first=("start", "min"), description=("description", "first"))
    return out.reset_index()


@dataclass
class Vocab:
    """Input tokens and target disorders (with names and graph Disease ids)."""

    tokens: list[str]
    token_names: list[str]
    targets: list[str]
    target_names: list[str]
    target_disease_ids: list[str | None]

    def __post_init__(self) -> None:
        self.token_index = {t: i for i, t in enumerate(self.tokens)}
        self.target_index = {t: i for i, t in enumerate(self.targets)}

    def to_json(self) -> dict:
        return {"tokens": self.tokens, "token_names": self.token_names, "targets": self.targets,
                "target_names": self.target_names, "target_disease_ids": self.target_disease_ids}

    @classmethod
    def from_json(cls, d: dict) -> Vocab:
        return cls(d["tokens"], d["token_names"], d["targets"], d["target_names"], d["target_disease_ids"])


def build_vocab(tables: SyntheaTables, min_count: int = 2, linker: object | None = None) -> Vocab:
    """Tokens seen for at least ``min_count`` patients; every disorder code as a target."""
    ev = events(tables)
    per = ev.drop_duplicates(["pid", "token"])["token"].value_counts()
    keep = sorted(per[per >= min_count].index)
    names = ev.drop_duplicates("token").set_index("token")["description"]
    on = disorder_onsets(tables)
    tnames = on.drop_duplicates("code").set_index("code")["description"]
    targets = sorted(tnames.index, key=lambda c: (-int((on["code"] == c).sum()), c))
    ids: list[str | None] = []
    for c in targets:
        gid = linker.condition(c, tnames[c]) if linker is not None else None  # type: ignore[attr-defined]
        ids.append(gid)
    return Vocab(["<pad>", "<unk>", *keep], ["", "", *[str(names[t]) for t in keep]],
                 list(targets), [str(tnames[c]) for c in targets], ids)


@dataclass
class Samples:
    """Padded arrays for ``N`` samples (see the module docstring)."""

    pids: list[str]
    as_of: np.ndarray          # (N,) datetime64[D]
    codes: np.ndarray          # (N, V, K) int32 token ids, right-aligned visits (last visit at V-1)
    times: np.ndarray          # (N, V, 2) float32: log1p(days since previous visit), log1p(days before as-of)
    visit_mask: np.ndarray     # (N, V) bool
    hist: np.ndarray           # (N, H) int32 distinct past tokens (0-padded)
    hist_pos: np.ndarray       # (N, V, K) int32 index of codes[n, v, k] in hist[n] (H = padding slot)
    static: np.ndarray         # (N, S) float32: age/100, (age/100)^2, male, female, age-band one-hot
    age: np.ndarray            # (N,) int
    sex: np.ndarray            # (N,) str
    present: np.ndarray        # (N, D) bool: disorder already present before as-of
    labels: np.ndarray         # (N, D) bool: first onset within the horizon
    #: (N, F) float32 tabular features (:mod:`models.sequence.features`, NaN = never measured), when the
    #: model has a feature head; ``None`` otherwise
    features: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.pids)

    def subset(self, idx: np.ndarray) -> Samples:
        return Samples([self.pids[i] for i in idx], self.as_of[idx], self.codes[idx], self.times[idx],
                       self.visit_mask[idx], self.hist[idx], self.hist_pos[idx], self.static[idx], self.age[idx],
                       self.sex[idx], self.present[idx], self.labels[idx],
                       None if self.features is None else self.features[idx])

    @staticmethod
    def concat(parts: Sequence[Samples]) -> Samples:
        h = max(p.hist.shape[1] for p in parts)

        def pad_hist(p: Samples) -> tuple[np.ndarray, np.ndarray]:
            extra = h - p.hist.shape[1]
            hist = np.pad(p.hist, ((0, 0), (0, extra)))
            pos = np.where(p.hist_pos == p.hist.shape[1], h, p.hist_pos)
            return hist, pos

        hp = [pad_hist(p) for p in parts]
        feats = [p.features for p in parts]
        if any(f is None for f in feats) and not all(f is None for f in feats):
            raise ModelError("cannot concatenate samples with and without tabular features")
        return Samples([pid for p in parts for pid in p.pids], np.concatenate([p.as_of for p in parts]),
                       np.concatenate([p.codes for p in parts]), np.concatenate([p.times for p in parts]),
                       np.concatenate([p.visit_mask for p in parts]), np.concatenate([x[0] for x in hp]),
                       np.concatenate([x[1] for x in hp]), np.concatenate([p.static for p in parts]),
                       np.concatenate([p.age for p in parts]), np.concatenate([p.sex for p in parts]),
                       np.concatenate([p.present for p in parts]), np.concatenate([p.labels for p in parts]),
                       None if feats[0] is None else np.concatenate(feats))  # type: ignore[arg-type]


def static_features(age: np.ndarray, sex: np.ndarray, visits_year: np.ndarray, visits: np.ndarray,
                    distinct: np.ndarray) -> np.ndarray:
    a = age.astype(np.float32) / 100.0
    bands = age_band(age)
    onehot = np.eye(2 * N_BANDS, dtype=np.float32)[2 * bands + (sex == "M")]
    return np.column_stack([a, a * a, sex == "M", sex == "F", onehot, np.log1p(visits_year) / 3,
                            np.log1p(visits) / 5, np.log1p(distinct) / 5]).astype(np.float32)


def age_band(age: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(AGE_BANDS, age, side="right") - 1, 0, len(AGE_BANDS) - 2)


def build_samples(tables: SyntheaTables, as_of: np.datetime64 | str, vocab: Vocab, max_visits: int = 48,
                  max_codes: int = 24, horizon_days: int = 365, ev: pd.DataFrame | None = None,
                  onsets: pd.DataFrame | None = None) -> Samples:
    """Samples of every patient alive at ``as_of`` with at least one event before it.

    Raises:
        ModelError: nobody has history before ``as_of``.
    """
    t0 = np.datetime64(str(as_of), "D")
    t1 = t0 + np.timedelta64(horizon_days, "D")
    ev = events(tables) if ev is None else ev
    onsets = disorder_onsets(tables) if onsets is None else onsets
    pat = tables.patients
    birth_ok = pat["birth_year"].to_numpy() <= t0.astype("datetime64[Y]").astype(int) + 1970
    alive = ~(pat["death_year"].to_numpy() < t0.astype("datetime64[Y]").astype(int) + 1970)
    h = ev[ev["date"].to_numpy() < t0.astype("datetime64[ns]")]
    with_hist = set(h["pid"].unique())
    keep = [pid in with_hist for pid in pat["pid"]] & birth_ok & alive
    pats = pat[keep].reset_index(drop=True)
    if len(pats) == 0:
        raise ModelError(f"{tables.directory}: no living patient has records before {t0}")
    pidx = {p: i for i, p in enumerate(pats["pid"])}
    n, V, K = len(pats), max_visits, max_codes
    h = h[h["pid"].isin(pidx)]
    tok = h["token"].map(vocab.token_index).fillna(UNK).astype(np.int32).to_numpy()
    df = pd.DataFrame({"p": h["pid"].map(pidx).to_numpy(), "date": h["date"].to_numpy().astype("datetime64[D]"),
                       "tok": tok}).drop_duplicates()
    df = df.sort_values(["p", "date", "tok"], kind="stable")
    # visits, most recent first
    vis = df[["p", "date"]].drop_duplicates()
    vis = vis.assign(r=vis.groupby("p").cumcount(ascending=False))
    vis = vis[vis["r"] < V]
    gap = vis.groupby("p")["date"].diff().dt.days.fillna(0).to_numpy() if len(vis) else np.zeros(0)
    slot = V - 1 - vis["r"].to_numpy()
    times = np.zeros((n, V, 2), np.float32)
    mask = np.zeros((n, V), bool)
    pv = vis["p"].to_numpy()
    times[pv, slot, 0] = np.log1p(np.maximum(gap, 0)) / 5.0
    times[pv, slot, 1] = np.log1p((t0 - vis["date"].to_numpy().astype("datetime64[D]")).astype(int)) / 5.0
    mask[pv, slot] = True
    m = df.merge(vis, on=["p", "date"], how="inner")
    m = m.assign(k=m.groupby(["p", "date"]).cumcount())
    m = m[m["k"] < K]
    codes = np.zeros((n, V, K), np.int32)
    codes[m["p"].to_numpy(), V - 1 - m["r"].to_numpy(), m["k"].to_numpy()] = m["tok"].to_numpy()
    # distinct past tokens (whole history)
    u = df[["p", "tok"]].drop_duplicates()
    u = u.assign(j=u.groupby("p").cumcount())
    H = int(u["j"].max()) + 1 if len(u) else 1
    hist = np.zeros((n, H), np.int32)
    hist[u["p"].to_numpy(), u["j"].to_numpy()] = u["tok"].to_numpy()
    pos_of = {(p, t): j for p, t, j in zip(u["p"].to_numpy(), u["tok"].to_numpy(), u["j"].to_numpy())}
    hist_pos = np.full((n, V, K), H, np.int32)
    mp, mv, mk, mt = m["p"].to_numpy(), V - 1 - m["r"].to_numpy(), m["k"].to_numpy(), m["tok"].to_numpy()
    hist_pos[mp, mv, mk] = [pos_of[(a, b)] for a, b in zip(mp, mt)]
    # targets
    D = len(vocab.targets)
    present = np.zeros((n, D), bool)
    labels = np.zeros((n, D), bool)
    on = onsets[onsets["pid"].isin(pidx) & onsets["code"].isin(vocab.target_index)]
    op = on["pid"].map(pidx).to_numpy()
    oc = on["code"].map(vocab.target_index).to_numpy()
    first = on["first"].to_numpy().astype("datetime64[D]")
    before = first < t0
    window = (first >= t0) & (first < t1)
    present[op[before], oc[before]] = True
    labels[op[window], oc[window]] = True
    age = (t0.astype("datetime64[Y]").astype(int) + 1970) - pats["birth_year"].to_numpy()
    sex = pats["sex"].to_numpy().astype(str)
    all_vis = df[["p", "date"]].drop_duplicates()
    n_vis = np.bincount(all_vis["p"].to_numpy(), minlength=n)
    recent = all_vis[all_vis["date"].to_numpy() >= t0 - np.timedelta64(365, "D")]
    n_year = np.bincount(recent["p"].to_numpy(), minlength=n)
    n_distinct = (hist > 0).sum(1)
    return Samples(list(pats["pid"]), np.full(n, t0), codes, times, mask, hist, hist_pos,
                   static_features(age, sex, n_year, n_vis, n_distinct), age, sex, present, labels)
