"""Train, evaluate and run the next-condition sequence model on Synthea exports.

Protocol (the same in training, ``evaluate`` and BENCHMARKS.md): cut each
patient at an as-of date; targets are disorders (SNOMED CT ``(disorder)``)
first appearing in the next 365 days; rankings leave out disorders already
present. ``recall@10`` = hits in the top 10 / onsets, averaged over patients
with at least one onset; risk AUROC per disorder over the patients who do not
have it yet, for disorders with >= 5 onsets, macro-averaged.

Artifacts reuse the :mod:`models.artifacts` layout (``model.json`` manifest
with config, data fingerprint, metrics, file hashes; ``MODEL_CARD.md``);
``vocab.json`` holds the code vocabulary (codes and their descriptions only,
never patient data), ``baselines.npz`` the baseline statistics of the same
training samples.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.metrics import roc_auc_score

from graph_engine.errors import ModelError
from graph_engine.synthea import Pseudonymizer, SyntheaTables, concat_tables, read_synthea
from models.artifacts import (
    FORMAT_VERSION,
    MANIFEST,
    default_artifact_dir,
    medkg_version,
    read_manifest,
)
from models.datasets import sha256_file
from models.sequence.baselines import Baselines
from models.sequence.data import (
    Samples,
    Vocab,
    build_samples,
    build_vocab,
    disorder_group,
    disorder_onsets,
    events,
)
from models.sequence.features import FeatureSpec, fit_feature_spec, tabular_features
from models.sequence.model import RetainNet, SequenceConfig

KIND = "sequence"
NAME = "next-condition-retain"
_FILES = ("patients.csv", "conditions.csv", "medications.csv", "procedures.csv", "encounters.csv", "careplans.csv",
          "observations.csv")
# an in-memory pseudonym for reading (ids never leave memory; the graph import uses the keyed one)
_LOCAL = Pseudonymizer(b"medkg-sequence-local-pseudonyms")


def _dirs(data: str | Path | Sequence[str | Path]) -> list[Path]:
    return [Path(data)] if isinstance(data, (str, Path)) else [Path(d) for d in data]


def read_cohort(directory: str | Path | Sequence[str | Path]) -> SyntheaTables:
    """One Synthea export, or several as one cohort (:func:`graph_engine.synthea.concat_tables`: distinct
    patients, export end dates within a month)."""
    return concat_tables([read_synthea(d, _LOCAL, files=_FILES) for d in _dirs(directory)])


def fingerprint(directory: str | Path | Sequence[str | Path]) -> dict[str, Any]:
    """sha256 of each input file (``folder/file`` keys when there are several exports; ``k-folder/file``, k from 1,
    when two of their folders share a name)."""
    dirs = _dirs(directory)
    names = [d.name for d in dirs]
    if len(set(names)) < len(names):
        names = [f"{k}-{n}" for k, n in enumerate(names, 1)]
    prefix = [f"{n}/" if len(dirs) > 1 else "" for n in names]
    return {p + f: sha256_file(d / f) for d, p in zip(dirs, prefix) for f in _FILES if (d / f).exists()}


def _feats(s: Samples, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The tabular features of a batch, as a 1-tuple (empty when the samples have none)."""
    return () if s.features is None else (torch.from_numpy(np.ascontiguousarray(s.features[idx])),)


def _tensors(s: Samples, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
    return (torch.from_numpy(s.codes[idx]).long(), torch.from_numpy(s.times[idx]),
            torch.from_numpy(s.visit_mask[idx]), torch.from_numpy(s.hist[idx]).long(),
            torch.from_numpy(s.static[idx]), *_feats(s, idx))


def _batches(n: int, size: int, rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, size):
        yield order[i:i + size]


def _trimmed(s: Samples, idx: np.ndarray) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """:func:`_tensors` plus ``hist_pos`` for a batch, without the padding every sample of it has: leading
    empty visits (visits are right-aligned and the reverse-time GRUs read them last, so they change nothing),
    trailing empty code slots and trailing empty ``hist`` slots (``hist`` is left-packed)."""
    vm = s.visit_mask[idx]
    v0 = int(np.argmax(vm.any(0))) if vm.any() else s.codes.shape[1] - 1
    codes = s.codes[idx, v0:]
    k = max(int((codes > 0).sum(2).max()), 1)
    h = max(int((s.hist[idx] > 0).sum(1).max()), 1)
    pos = np.minimum(s.hist_pos[idx, v0:, :k], h)                      # the padding slot becomes h
    t = (torch.from_numpy(np.ascontiguousarray(codes[:, :, :k])).long(),
         torch.from_numpy(np.ascontiguousarray(s.times[idx, v0:])), torch.from_numpy(np.ascontiguousarray(vm[:, v0:])),
         torch.from_numpy(np.ascontiguousarray(s.hist[idx, :h])).long(), torch.from_numpy(s.static[idx]),
         *_feats(s, idx))
    return t, torch.from_numpy(np.ascontiguousarray(pos))


def _inference_batches(s: Samples, size: int) -> Iterator[np.ndarray]:
    """Batches of samples of similar history length (less padding after :func:`_trimmed`)."""
    order = np.lexsort(((s.hist > 0).sum(1), s.visit_mask.sum(1)))
    for i in range(0, len(s), size):
        yield order[i:i + size]


def logits_of(net: RetainNet, s: Samples, batch: int = 512) -> np.ndarray:
    net.eval()
    out = np.zeros(s.labels.shape, np.float32)
    with torch.no_grad():
        for idx in _inference_batches(s, batch):
            out[idx] = net(*_trimmed(s, idx)[0]).numpy()
    return out


def _masked_bce(z: np.ndarray, y: np.ndarray, m: np.ndarray, a: float = 1.0, b: float = 0.0) -> float:
    x = a * z + b
    loss = np.logaddexp(0, x) - y * x
    return float((loss * m).sum() / max(m.sum(), 1))


def fit_platt(z: np.ndarray, y: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """Global Platt scaling ``sigmoid(a z + b)`` minimising masked log loss (never worse than identity)."""
    zz, yy = z[m].astype(np.float64), y[m].astype(np.float64)

    def f(p: np.ndarray) -> tuple[float, np.ndarray]:
        x = p[0] * zz + p[1]
        sig = 1 / (1 + np.exp(-x))
        loss = np.logaddexp(0, x) - yy * x
        g = sig - yy
        return float(loss.mean()), np.array([(g * zz).mean(), g.mean()])

    res = minimize(f, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    a, b = float(res.x[0]), float(res.x[1])
    if not res.success or f(res.x)[0] > f(np.array([1.0, 0.0]))[0]:
        return 1.0, 0.0
    return a, b


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- metrics
def ranking_metrics(scores: np.ndarray, s: Samples, k: int = 10, groups: list[str] | None = None) -> dict[str, Any]:
    """recall@k (present disorders removed), per-disorder AUROC (>= 5 onsets) macro-averaged.

    ``groups``: a group name per target (:func:`target_groups`); adds ``macro_auroc_<group>`` and
    ``auroc_disorders_<group>`` (the macro AUROC over that group's disorders with >= 5 onsets).
    """
    sc = np.where(s.present, -np.inf, scores)
    has = s.labels.sum(1) > 0
    recalls = []
    top = np.argsort(-sc[has], axis=1, kind="stable")[:, :k]
    lab = s.labels[has]
    for i in range(len(top)):
        recalls.append(lab[i, top[i]].sum() / lab[i].sum())
    aucs = {}
    for d in range(s.labels.shape[1]):
        e = ~s.present[:, d]
        y = s.labels[e, d]
        if y.sum() >= 5 and (~y).sum() > 0:
            aucs[d] = float(roc_auc_score(y, scores[e, d]))
    out: dict[str, Any] = {
        "recall@10": float(np.mean(recalls)) if recalls else None, "patients_with_onset": int(has.sum()),
        "onsets": int(s.labels.sum()), "macro_auroc": float(np.mean(list(aucs.values()))) if aucs else None,
        "auroc_disorders": len(aucs)}
    for g in sorted(set(groups or ())):
        vals = [a for d, a in aucs.items() if groups[d] == g]  # type: ignore[index]
        out[f"macro_auroc_{g}"] = float(np.mean(vals)) if vals else None
        out[f"auroc_disorders_{g}"] = len(vals)
    out["per_disorder_auroc"] = aucs
    return out


def bootstrap_auroc_difference(a: np.ndarray, b: np.ndarray, s: Samples, groups: list[str], n_boot: int = 200,
                               seed: int = 0) -> dict[str, dict[str, float | None]]:
    """Paired patient bootstrap of ``macro AUROC(a) - macro AUROC(b)`` (overall and per group).

    The disorders are those that :func:`ranking_metrics` scores on the full sample (>= 5 onsets); each of
    ``n_boot`` resamples draws patients with replacement and skips a disorder left without both classes.
    Returns ``{"all" | group: {"difference", "low", "high"}}`` (the full-sample difference and the 2.5 / 97.5
    percentiles).
    """
    auc_of = ranking_metrics(a, s)["per_disorder_auroc"]
    ds = sorted(auc_of)
    sets = {"all": ds, **{g: [d for d in ds if groups[d] == g] for g in sorted(set(groups))}}
    rng = np.random.default_rng(seed)
    n = len(s.labels)

    def macro_diff(idx: np.ndarray) -> dict[str, float | None]:
        per = {}
        for d in ds:
            e = ~s.present[idx, d]
            y = s.labels[idx, d][e]
            if y.any() and not y.all():
                per[d] = roc_auc_score(y, a[idx, d][e]) - roc_auc_score(y, b[idx, d][e])
        return {k: float(np.mean([per[d] for d in v if d in per])) if any(d in per for d in v) else None
                for k, v in sets.items()}

    full = macro_diff(np.arange(n))
    boots = [macro_diff(rng.integers(0, n, n)) for _ in range(n_boot)]
    out: dict[str, dict[str, float | None]] = {}
    for k in sets:
        vals = [float(v) for bt in boots if (v := bt[k]) is not None]
        out[k] = {"difference": full[k], "low": float(np.percentile(vals, 2.5)) if vals else None,
                  "high": float(np.percentile(vals, 97.5)) if vals else None}
    return out


def target_groups(vocab: Vocab) -> list[str]:
    """``"acute"`` / ``"chronic"`` per target disorder (:func:`models.sequence.data.disorder_group`)."""
    return [disorder_group(n) for n in vocab.target_names]


def calibration_stats(p: np.ndarray, s: Samples, bins: int = 10) -> dict[str, float]:
    m = ~s.present
    pp, yy = p[m], s.labels[m].astype(np.float64)
    edges = np.quantile(pp, np.linspace(0, 1, bins + 1))
    idx = np.clip(np.searchsorted(edges, pp, side="right") - 1, 0, bins - 1)
    ece = sum(abs(yy[idx == b].mean() - pp[idx == b].mean()) * (idx == b).mean() for b in range(bins) if (idx == b).any())
    eps = 1e-7
    ll = -(yy * np.log(np.clip(pp, eps, 1)) + (1 - yy) * np.log(np.clip(1 - pp, eps, 1))).mean()
    return {"mean_predicted": float(pp.mean()), "observed_rate": float(yy.mean()), "ece_quantile_bins": float(ece),
            "log_loss": float(ll), "brier": float(((pp - yy) ** 2).mean())}


# ---------------------------------------------------------------- model object
@dataclass
class SequenceModel:
    net: RetainNet
    vocab: Vocab
    cfg: SequenceConfig
    platt: tuple[float, float]
    baselines: Baselines
    manifest: dict[str, Any]
    path: Path | None = None
    #: the feature head's columns (None: a model without one)
    spec: FeatureSpec | None = None
    _codes_cache: np.ndarray | None = field(default=None, repr=False)
    _acute_cache: np.ndarray | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.manifest.get("name", NAME)

    @property
    def model_version(self) -> str:
        return self.manifest.get("model_version", "unsaved")

    def samples(self, tables: SyntheaTables, as_of: np.datetime64 | str) -> Samples:
        s = build_samples(tables, as_of, self.vocab, self.cfg.max_visits, self.cfg.max_codes, self.cfg.horizon_days)
        return with_features(tables, s, self.spec)

    @property
    def groups(self) -> list[str]:
        return target_groups(self.vocab)

    def probabilities(self, s: Samples) -> np.ndarray:
        a, b = self.platt
        return self.blend_acute(sigmoid(a * logits_of(self.net, s) + b), s.age, s.sex)

    def acute_mask(self) -> np.ndarray:
        """``(D,)`` True for the acute target disorders (:func:`target_groups`; computed once)."""
        if self._acute_cache is None or len(self._acute_cache) != len(self.vocab.target_names):
            self._acute_cache = np.asarray([g == "acute" for g in self.groups], dtype=bool)
        return self._acute_cache

    def blend_acute(self, p: np.ndarray, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
        """``p`` (the network's calibrated probabilities) with the acute disorders' columns blended with the
        age band x sex onset rates in logit space, by ``cfg.acute_agesex_weight`` (0: unchanged)."""
        w = float(self.cfg.acute_agesex_weight)
        if not w:
            return p
        acute = self.acute_mask()
        if not acute.any():
            return p
        eps = 1e-7
        q = np.clip(p[:, acute], eps, 1 - eps)
        r = np.clip(self.baselines.age_sex_rates(age, sex)[:, acute].astype(np.float64), eps, 1 - eps)
        out = np.array(p, dtype=np.float64, copy=True)
        out[:, acute] = sigmoid((1 - w) * np.log(q / (1 - q)) + w * np.log(r / (1 - r)))
        return out

    def predict_top(self, s: Samples, top: int = 100, explain: int = 3, batch: int = 512
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probabilities, the ``top`` most probable disorders not yet present, and their "because".

        Returns ``(p (N, D), order (N, M), because (N, M, explain))`` with ``M = min(top, D)``: ``order`` is
        best first (disorders already present sort last); ``because[n, m]`` are the token ids of the past
        codes with the largest positive contributions to ``order[n, m]``, largest first, 0-padded (never
        padding or the unknown token). One forward pass per batch gives the logits and the attention the
        contributions reuse (:meth:`RetainNet.code_contributions`).
        """
        a, b = self.platt
        n, d = s.labels.shape
        m = min(top, d)
        p = np.zeros((n, d), np.float64)
        order = np.zeros((n, m), np.int64)
        because = np.zeros((n, m, explain), np.int32)
        blended = bool(self.cfg.acute_agesex_weight)
        # a disorder scored from age and sex alone has no past code behind it
        no_because = self.acute_mask() if self.cfg.acute_agesex_weight >= 1 else np.zeros(d, dtype=bool)
        self.net.eval()
        with torch.no_grad():
            for idx in _inference_batches(s, batch):
                t, hist_pos = _trimmed(s, idx)
                z, alpha, beta = self.net.forward_attention(*t)
                p[idx] = self.blend_acute(sigmoid(a * z.double().numpy() + b), s.age[idx], s.sex[idx])
                # present disorders last; Platt keeps the order when a > 0 and reverses it otherwise
                score = torch.from_numpy(p[idx]) if blended else (z if a > 0 else -z)
                zz = score.masked_fill(torch.from_numpy(s.present[idx]), float("-inf"))
                tgt = torch.topk(zz, m, dim=1).indices
                order[idx] = tgt.numpy()
                if not explain or t[3].shape[1] == 0:
                    continue
                c = self.net.code_contributions(t[0], alpha, beta, t[3], hist_pos)
                c.masked_fill_((t[3] <= 1).unsqueeze(-1), float("-inf"))      # no padding / unknown token
                val, pos = _top_along_codes(c, min(explain, c.shape[1]))      # (B, kk, D), for every target
                sel = tgt.unsqueeze(1).expand(-1, val.shape[1], -1)
                val, pos = torch.gather(val, 2, sel), torch.gather(pos, 2, sel)  # (B, kk, M)
                tok = torch.gather(t[3], 1, pos.reshape(len(idx), -1)).reshape(pos.shape)
                tok = torch.where(val > 0, tok, torch.zeros_like(tok))
                because[idx, :, :tok.shape[1]] = tok.transpose(1, 2).numpy()
        if no_because.any():
            because[no_because[order]] = 0
        return p, order, because

    def explain(self, s: Samples, targets: np.ndarray, top: int = 3, batch: int = 512) -> list[list[list[str]]]:
        """Per sample and selected target (``targets (N, M)``): the ``top`` past codes with the largest
        positive contribution, largest first."""
        out: list[list[list[str]]] = []
        codes = self._token_codes()
        self.net.eval()
        for idx in _batches(len(s), batch):
            t = _tensors(s, idx)
            c = self.net.contributions(t[0], t[1], t[2], t[3], torch.from_numpy(s.hist_pos[idx]),
                                       torch.from_numpy(targets[idx]).long())
            c = c.masked_fill((t[3] == 1).unsqueeze(-1), float("-inf"))   # padding is -inf already
            kk = min(top, c.shape[1])
            val, pos = torch.topk(c, kk, dim=1)
            tok = torch.gather(t[3], 1, pos.reshape(len(idx), -1)).reshape(pos.shape)
            out += _code_lists(codes, torch.where(val > 0, tok, torch.zeros_like(tok)).transpose(1, 2).numpy())
        return out

    def _token_codes(self) -> np.ndarray:
        """Token id -> ``"SNOMEDCT:…"`` / ``"RXNORM:…"`` (``""`` for padding and the unknown token)."""
        cached = self._codes_cache
        if cached is None or len(cached) != len(self.vocab.tokens):
            cached = np.array(["", ""] + [_token_code(t) for t in self.vocab.tokens[2:]], dtype=object)
            self._codes_cache = cached
        return cached


def _top_along_codes(c: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.topk(c, k, dim=1)`` for a small ``k`` as ``k`` max passes (faster on CPU for ``(N, H, D)``);
    overwrites ``c``."""
    vals, idxs = [], []
    for _ in range(k):
        v, i = c.max(dim=1)
        vals.append(v)
        idxs.append(i)
        c.scatter_(1, i.unsqueeze(1), float("-inf"))
    return torch.stack(vals, 1), torch.stack(idxs, 1)


def _code_lists(codes: np.ndarray, tok: np.ndarray) -> list[list[list[str]]]:
    """``tok (N, M, k)`` 0-padded token ids (valid ones first) -> nested lists of codes without the padding."""
    n_valid = (tok > 0).sum(-1).tolist()
    names = codes[tok].tolist()
    return [[lst[:c] for lst, c in zip(row, cnt)] for row, cnt in zip(names, n_valid)]


def _token_code(token: str) -> str:
    system = {"C": "SNOMEDCT", "P": "SNOMEDCT", "M": "RXNORM"}[token[0]]
    return f"{system}:{token[2:]}"


# ---------------------------------------------------------------- training
def training_samples(tables: SyntheaTables, vocab: Vocab, cfg: SequenceConfig) -> Samples:
    end = tables.end_date
    ev, on = events(tables), disorder_onsets(tables)
    parts = []
    for k in range(cfg.cuts):
        cut = end - np.timedelta64(cfg.horizon_days * (k + 1), "D")
        try:
            parts.append(build_samples(tables, cut, vocab, cfg.max_visits, cfg.max_codes, cfg.horizon_days, ev, on))
        except ModelError:
            break
    if not parts:
        raise ModelError(f"{tables.directory}: no patient has history before {end - cfg.horizon_days}")
    return Samples.concat(parts)


def with_features(tables: SyntheaTables, s: Samples, spec: FeatureSpec | None) -> Samples:
    """``s`` with its tabular features (:func:`models.sequence.features.tabular_features`) when ``spec``."""
    if spec is not None:
        s.features = tabular_features(tables, s, spec)
    return s


def train_sequence(data: str | Path | Sequence[str | Path], output: str | Path, cfg: SequenceConfig | None = None,
                   cohort: dict[str, Any] | list[dict[str, Any]] | None = None, linker: Any = None,
                   progress: Callable[[int, int, dict[str, float]], None] | None = None,
                   tables: SyntheaTables | None = None) -> SequenceModel:
    """Train on a Synthea export and write an artifact to ``output``.

    ``data``: a Synthea export folder, or several (one cohort: distinct patients, exported on the same day).
    ``tables``: the export already read with :func:`read_cohort` from ``data`` (read here when ``None``).

    ``cohort`` (e.g. ``{"seed": 11, "state": "Massachusetts", "patients": 1500}``, or a list of such, one per
    export) goes into the model card.
    ``linker``: anything with ``condition(code, description) -> graph id | None`` (the CLI passes the
    extraction linker, ``jobs.patient_recs.default_linker``); without it the targets' graph ids are ``None``.
    """
    cfg = cfg or SequenceConfig()
    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    tables = read_cohort(data) if tables is None else tables
    vocab = build_vocab(tables, cfg.min_token_patients, linker)
    s = training_samples(tables, vocab, cfg)
    spec = fit_feature_spec(tables, s, vocab, max_tokens=cfg.feat_tokens) if cfg.features else None
    s = with_features(tables, s, spec)
    pats = np.array(sorted(set(s.pids)))
    val_p = set(rng.choice(pats, size=max(1, int(len(pats) * cfg.val_fraction)), replace=False).tolist())
    is_val = np.array([p in val_p for p in s.pids])
    tr, va = s.subset(np.flatnonzero(~is_val)), s.subset(np.flatnonzero(is_val))
    net = RetainNet(len(vocab.tokens), len(vocab.targets), cfg, 0 if spec is None else len(spec.names))
    if net.feat is not None:
        net.feat.fit_stats(tr.features)  # type: ignore[arg-type]
        if cfg.feat_targets not in ("all", "chronic"):
            raise ModelError(f"feat_targets must be 'all' or 'chronic', got {cfg.feat_targets!r}")
        if cfg.feat_targets == "chronic":
            net.feat.targets.copy_(torch.tensor([g == "chronic" for g in target_groups(vocab)], dtype=torch.float32))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_state, bad, history = float("inf"), None, 0, []
    for epoch in range(cfg.epochs):
        net.train()
        tot, cnt = 0.0, 0
        for idx in _batches(len(tr), cfg.batch_size, rng):
            z = net(*_tensors(tr, idx))
            y = torch.from_numpy(tr.labels[idx]).float()
            m = torch.from_numpy(~tr.present[idx]).float()
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none") * m).sum() / m.sum()
            loss = loss + cfg.bag_l2 * net.bag.weight.pow(2).sum()
            if net.feat is not None:
                loss = loss + cfg.feat_l2 * net.feat.l2()
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
            cnt += len(idx)
        zv = logits_of(net, va)
        vl = _masked_bce(zv, va.labels, ~va.present)
        stats = {"train_loss": tot / max(cnt, 1), "val_loss": vl}
        history.append(stats)
        if progress:
            progress(epoch + 1, cfg.epochs, stats)
        if vl < best - 1e-5:
            best, bad = vl, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is None:
        raise ModelError("training produced no finite validation loss")
    net.load_state_dict(best_state)
    zv = logits_of(net, va)
    platt = fit_platt(zv, va.labels, ~va.present)
    baselines = Baselines.fit(tr, len(vocab.tokens))
    seconds = time.perf_counter() - t_start
    val_probs = sigmoid(platt[0] * zv + platt[1])
    groups = target_groups(vocab)
    val_metrics = {"model": _summ(ranking_metrics(val_probs, va, groups=groups)),
                   "calibration": calibration_stats(val_probs, va)}
    for name, sc in baselines.scores(va).items():
        val_metrics[name] = _summ(ranking_metrics(sc, va, groups=groups))
    metrics = {"internal_validation": val_metrics, "history": history, "train_seconds": seconds,
               "samples": {"train": len(tr), "validation": len(va), "patients": len(pats),
                           "onsets_train": int(tr.labels.sum())}}
    data_info = {"source": " + ".join(d.name for d in _dirs(data)), "files_sha256": fingerprint(data), "cohort": cohort or {},
                 "end_date": str(tables.end_date), "cuts": cfg.cuts, "n_patients_read": len(tables.patients),
                 "n_tokens": len(vocab.tokens), "n_targets": len(vocab.targets),
                 "n_features": 0 if spec is None else len(spec.names)}
    model = SequenceModel(net, vocab, cfg, platt, baselines, {}, spec=spec)
    model.manifest = write_sequence_artifact(output, model, metrics, data_info)
    model.path = Path(output)
    return model


def _summ(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if k != "per_disorder_auroc"}


# ---------------------------------------------------------------- artifacts
ARCHITECTURE = "RETAIN (reverse-time GRU attention over visits, per-dimension gates) + bag-of-codes + age/sex"
FEATURE_ARCHITECTURE = (" + tabular risk-factor head on {targets} disorders (last observations, smoking, encounters, "
                        "care plans: per-disorder linear + shared ReLU layer)")
def write_sequence_artifact(directory: str | Path, model: SequenceModel, metrics: dict[str, Any],
                            data: dict[str, Any]) -> dict[str, Any]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if any(d.iterdir()) and not (d / MANIFEST).exists():
        raise ModelError(f"{d} exists, is not empty and holds no model; choose a new --output directory")
    torch.save({k: v.cpu() for k, v in model.net.state_dict().items()}, d / "weights.pt")
    (d / "vocab.json").write_text(json.dumps(model.vocab.to_json()) + "\n", encoding="utf-8")
    model.baselines.save(d / "baselines.npz")
    (d / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files = ["weights.pt", "vocab.json", "baselines.npz", "metrics.json"]
    if model.spec is not None:   # the feature columns (codes only); their statistics are buffers in weights.pt
        (d / "features.json").write_text(json.dumps(model.spec.to_json()) + "\n", encoding="utf-8")
        files.append("features.json")
    hashes = {f: sha256_file(d / f) for f in files}
    created = datetime.now(UTC).replace(microsecond=0)
    manifest = {
        "format_version": FORMAT_VERSION, "name": NAME, "kind": KIND,
        "model_version": f"{created:%Y%m%d}-{hashes['weights.pt'][:8]}", "medkg_version": medkg_version(),
        "created_at": created.isoformat(), "labels": model.vocab.targets, "temperature": 1.0,
        "platt": list(model.platt),
        "model": {"architecture": ARCHITECTURE + (FEATURE_ARCHITECTURE.format(targets=model.cfg.feat_targets)
                                                  if model.spec is not None else ""),
                  **model.cfg.to_dict()},
        "data": data, "files": hashes,
    }
    (d / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (d / "MODEL_CARD.md").write_text(model_card(manifest, metrics), encoding="utf-8")
    return manifest


def model_card(manifest: dict[str, Any], metrics: dict[str, Any]) -> str:
    data = manifest["data"]
    cohorts = data.get("cohort") or {}
    cohorts = cohorts if isinstance(cohorts, list) else [cohorts]
    v = metrics.get("internal_validation", {})
    lines = [
        f"# Model card: {manifest['name']} {manifest['model_version']}", "",
        "## Intended use",
        "**Trained on synthetic data, for research only.** Not a medical device; never use it on real patients",
        "or for any clinical decision. It predicts which disorders a Synthea patient newly develops within",
        f"{manifest['model']['horizon_days']} days of an as-of date, with calibrated probabilities and the past codes",
        "that contributed most (attention).", "",
        "## Training data",
        *(f"- Synthea 3.3.0 synthetic cohort: seed {c.get('seed')}, state {c.get('state')}, {c.get('patients')} patients "
          "requested" for c in cohorts),
        f"- {data.get('n_patients_read')} patients in the export{'s' if len(cohorts) > 1 else ''} incl. deceased "
        f"({data.get('source')}), export end {data.get('end_date')}",
        f"- {data.get('cuts')} yearly cut dates per patient; {metrics.get('samples', {}).get('train')} training / "
        f"{metrics.get('samples', {}).get('validation')} internal-validation samples (split by patient)",
        f"- vocabulary: {data.get('n_tokens')} tokens (conditions, medications, procedures), {data.get('n_targets')} target disorders",
        f"- input file sha256: {json.dumps(data.get('files_sha256', {}))}",
        "- no patient identifiers, names, addresses or dates of birth are stored in the artifact", "",
        "## Model",
        f"- {manifest['model']['architecture']}",
        f"- calibration: global Platt scaling on the internal validation split, a = {manifest['platt'][0]:.4f}, "
        f"b = {manifest['platt'][1]:.4f}",
        f"- medkg {manifest['medkg_version']}, created {manifest['created_at']}, trained in {metrics.get('train_seconds', 0):.0f} s", "",
        "## Internal validation (same cohort, held-out patients; optimistic)", "",
        "| method | recall@10 | macro risk AUROC | disorders | chronic AUROC (disorders) | acute AUROC (disorders) |",
        "|---|---|---|---|---|---|",
    ]

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    for name in ("model", "population", "age_sex", "markov"):
        m = v.get(name)
        if m:
            lines.append(f"| {name} | {fmt(m['recall@10'])} | {fmt(m['macro_auroc'])} | {m['auroc_disorders']} | "
                         f"{fmt(m.get('macro_auroc_chronic'))} ({m.get('auroc_disorders_chronic', 0)}) | "
                         f"{fmt(m.get('macro_auroc_acute'))} ({m.get('auroc_disorders_acute', 0)}) |")
    lines += ["", "Chronic / acute: a disorder is acute when its description names an infection, injury or acute "
              "episode (`models.sequence.data.ACUTE_KEYWORDS`) and not \"chronic\"."]
    lines += ["", "Numbers on a cohort of another seed and state: BENCHMARKS.md.", "",
              "## Limits",
              "- Synthea's disease modules are simplified; real histories are noisier and richer.",
              "- Only disorders seen in the training cohort can be predicted.",
              "- Calibrated on the training cohort's population; other populations shift the rates.", ""]
    return "\n".join(lines)


def load_sequence_model(directory: str | Path | None = None) -> SequenceModel:
    d = Path(directory) if directory is not None else default_artifact_dir(KIND)
    manifest = read_manifest(d)
    if manifest["kind"] != KIND:
        raise ModelError(f"{d}: a {manifest['kind']} model, not a {KIND} model")
    known = {f.name for f in fields(SequenceConfig)}
    cfg = SequenceConfig(**{k: v for k, v in manifest["model"].items() if k in known})
    vocab = Vocab.from_json(json.loads((d / "vocab.json").read_text(encoding="utf-8")))
    spec = None
    if (d / "features.json").exists():
        spec = FeatureSpec.from_json(json.loads((d / "features.json").read_text(encoding="utf-8")))
    cfg.features = spec is not None          # models saved before the feature head have no features.json
    net = RetainNet(len(vocab.tokens), len(vocab.targets), cfg, 0 if spec is None else len(spec.names))
    net.load_state_dict(torch.load(d / "weights.pt", weights_only=True))
    net.eval()
    return SequenceModel(net, vocab, cfg, tuple(manifest["platt"]), Baselines.load(d / "baselines.npz"), manifest, d,
                         spec=spec)


# ---------------------------------------------------------------- evaluate / predict
def evaluate_sequence(model: SequenceModel, data: str | Path, as_of: str | None = None) -> dict[str, Any]:
    """Model and baselines on one cohort cut at ``as_of`` (default: export end - horizon)."""
    tables = read_cohort(data)
    cut = np.datetime64(as_of, "D") if as_of else tables.end_date - np.timedelta64(model.cfg.horizon_days, "D")
    s = model.samples(tables, cut)
    t = time.perf_counter()
    p = model.probabilities(s)
    secs = time.perf_counter() - t
    out: dict[str, Any] = {"as_of": str(cut), "patients": len(s), "model_name": model.name,
                           "model_version": model.model_version, "data_sha256": fingerprint(data)}
    out["model"] = _summ(ranking_metrics(p, s, groups=model.groups))
    out["calibration"] = calibration_stats(p, s)
    for name, sc in model.baselines.scores(s).items():
        out[name] = _summ(ranking_metrics(sc, s, groups=model.groups))
    out["scoring_patients_per_second"] = len(s) / secs if secs > 0 else None
    return out


def predict_sequence(model: SequenceModel, data: str | Path | SyntheaTables, as_of: str, top: int = 100,
                     explain: int = 3, pseudonyms: bool = False) -> tuple[list[dict[str, Any]], SyntheaTables]:
    """One prediction row per patient (the ``medkg models predict --kind sequence`` line format).

    Uses only records that start before ``as_of``. Rows list the ``top`` most probable disorders not
    already present (all of them when fewer), best first. ``pseudonyms``: ids are the keyed graph
    pseudonyms instead of the input's PATIENT ids.
    """
    try:
        cut = np.datetime64(as_of, "D")
    except ValueError as e:
        raise ModelError(f"--as-of must be YYYY-MM-DD, got {as_of!r}") from e
    tables = read_cohort(data) if not isinstance(data, SyntheaTables) else data
    s = model.samples(tables, cut)
    return prediction_rows(model, s, tables, top, explain, pseudonyms), tables


def prediction_rows(model: SequenceModel, s: Samples, tables: SyntheaTables, top: int = 100, explain: int = 3,
                    pseudonyms: bool = False) -> list[dict[str, Any]]:
    """The ``predict`` lines of the samples ``s`` (see :func:`predict_sequence`); vectorised up to the dicts."""
    with _no_gc():
        return _prediction_rows(model, s, tables, top, explain, pseudonyms)


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic GC off while building ~100 small dicts per patient: with a large export in memory every
    full collection walks it, which otherwise costs more than the model itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _prediction_rows(model: SequenceModel, s: Samples, tables: SyntheaTables, top: int, explain: int,
                     pseudonyms: bool) -> list[dict[str, Any]]:
    p, order, because = model.predict_top(s, top, explain)
    v = model.vocab
    n = len(s)
    rows_n = np.arange(n)[:, None]
    keep = ~s.present[rows_n, order]                                     # present disorders sort last
    n_keep = keep.sum(1).tolist()
    probs = np.round(p[rows_n, order], 6).tolist()
    why = _code_lists(model._token_codes(), because)
    meta = [(c, nm, gid) for c, nm, gid in zip(v.targets, v.target_names, v.target_disease_ids)]
    cut = str(s.as_of[0]) if n else ""
    rows = []
    for i, pid in enumerate(s.pids):
        k = n_keep[i]
        preds = [{"code": meta[d][0], "name": meta[d][1], "probability": pr, "disease_id": meta[d][2], "because": b}
                 for d, pr, b in zip(order[i, :k].tolist(), probs[i][:k], why[i][:k])]
        rows.append({"id": pid if pseudonyms else tables.source_ids[pid], "as_of": cut, "predictions": preds})
    return rows
