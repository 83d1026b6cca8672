"""RETAIN-style next-condition model (Choi et al., NeurIPS 2016) with a bag-of-codes path.

For visit embeddings :math:`v_t = \\sum_k e_{c_{tk}} + W_\\tau \\tau_t` (codes plus
time features), two GRUs run over the visits in reverse time; one gives the
visit attention :math:`\\alpha = \\mathrm{softmax}_t(w_\\alpha^\\top g_t)`, the other
per-dimension gates :math:`\\beta_t = \\tanh(W_\\beta h_t)`. The context
:math:`c = \\sum_t \\alpha_t\\,\\beta_t \\odot v_t` feeds a linear output layer, to
which a linear bag of all distinct past codes and the static features (age,
sex, age band) are added:

.. math:: z_d = w_d^\\top c + \\sum_{j \\in \\mathrm{hist}} u_{j d} + s^\\top a_d + b_d.

Because :math:`z_d` is linear in each code's embedding given the attention, the
contribution of code :math:`j` to disorder :math:`d` is exact:
:math:`\\sum_{(t,k): c_{tk} = j} \\alpha_t\\, w_d^\\top(\\beta_t \\odot e_j) + u_{jd}`;
the "because" of a prediction is the past codes with the largest contributions.

With a feature head (``SequenceConfig.features``), the tabular risk factors of
:mod:`models.sequence.features` (last BMI, blood pressure, HbA1c, ..., smoking,
encounters, care plans) add :math:`f_d(x)`: the features are filled (training
median where never measured), standardised and clipped, joined by missing-value
indicators, and feed a per-disorder linear term plus a small shared ReLU layer
with per-disorder outputs. It is trained jointly with the rest; the "because"
stays the decomposition over past codes (the head is a per-patient offset like
the static term).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from models.sequence.data import N_STATIC


@dataclass
class SequenceConfig:
    """Hyper-parameters (``medkg models train --kind sequence --set KEY=VALUE``)."""

    max_visits: int = 32
    max_codes: int = 16
    dim: int = 64
    hidden: int = 64
    dropout: float = 0.2
    epochs: int = 20
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.0
    bag_l2: float = 1e-5
    cuts: int = 4
    horizon_days: int = 365
    val_fraction: float = 0.15
    min_token_patients: int = 2
    patience: int = 3
    seed: int = 0
    threads: int = 1
    #: tabular feature head (:mod:`models.sequence.features`); False for models saved before it existed
    features: bool = True
    feat_hidden: int = 32
    feat_l2: float = 1e-3
    feat_dropout: float = 0.1
    #: frequent history tokens as feature columns (0: the bag already has them)
    feat_tokens: int = 0
    #: the disorders the head scores: "all", or "chronic" (:func:`models.sequence.data.disorder_group`; the
    #: head's output for acute ones is multiplied by 0)
    feat_targets: str = "chronic"
    #: acute disorders (infections, injuries: :func:`models.sequence.data.disorder_group`) are scored by
    #: ``sigmoid((1 - w) logit(p_model) + w logit(p_age_sex))`` with the training cohort's age band x sex onset
    #: rate; 0: the network alone, 1: the age-sex rate alone (Synthea draws these at age-dependent rates with
    #: no individual risk, where a history adds noise: BENCHMARKS.md, issue 22). Chosen after training on a
    #: validation cohort of another state (``benchmarks/sequence_acute.py``).
    acute_agesex_weight: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class FeatureHead(nn.Module):
    """Per-disorder logit offsets from tabular features ``(N, F)`` with NaN for "never measured".

    The preprocessing statistics are buffers (saved in the state dict, set by :meth:`fit_stats` on the
    training samples): ``fill`` replaces NaN, ``(x - mean) / scale`` is clipped to +-5, and a 0/1 indicator
    is added for every column that can be missing (``has_missing``). Output: ``lin(u) + out(relu(hid(u)))``,
    times ``targets`` (1 for the disorders the head scores, 0 for the others).
    """

    CLIP = 5.0
    fill: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor
    has_missing: torch.Tensor
    targets: torch.Tensor

    def __init__(self, n_features: int, n_targets: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.register_buffer("fill", torch.zeros(n_features))
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.register_buffer("has_missing", torch.ones(n_features, dtype=torch.bool))
        self.register_buffer("targets", torch.ones(n_targets))
        width = 2 * n_features
        self.lin = nn.Linear(width, n_targets, bias=False)
        nn.init.zeros_(self.lin.weight)
        self.hid = nn.Linear(width, hidden)
        self.out = nn.Linear(hidden, n_targets, bias=False)
        nn.init.zeros_(self.out.weight)
        self.drop = nn.Dropout(dropout)

    @torch.no_grad()
    def fit_stats(self, x: np.ndarray) -> None:
        """Median fill, mean and standard deviation (1 when constant) of the filled training features."""
        x = np.asarray(x, np.float64)
        if len(x) == 0:
            raise ValueError("no training samples to fit the feature statistics on")
        miss = np.isnan(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)           # all-NaN columns: filled with 0
            med = np.nan_to_num(np.nanmedian(x, axis=0))
        filled = np.where(miss, med, x)
        sd = filled.std(0)
        self.fill.copy_(torch.from_numpy(med).float())
        self.mean.copy_(torch.from_numpy(filled.mean(0)).float())
        self.scale.copy_(torch.from_numpy(np.where(sd > 1e-6, sd, 1.0)).float())
        self.has_missing.copy_(torch.from_numpy(miss.any(0)))

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        miss = torch.isnan(x)
        u = ((torch.where(miss, self.fill, x) - self.mean) / self.scale).clamp(-self.CLIP, self.CLIP)
        return torch.cat([u, (miss & self.has_missing).float()], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.drop(self.inputs(x))
        return (self.lin(u) + self.out(self.drop(torch.relu(self.hid(u))))) * self.targets

    def l2(self) -> torch.Tensor:
        return self.lin.weight.pow(2).sum() + self.out.weight.pow(2).sum() + self.hid.weight.pow(2).sum()


class RetainNet(nn.Module):
    def __init__(self, n_tokens: int, n_targets: int, cfg: SequenceConfig, n_features: int = 0) -> None:
        super().__init__()
        self.emb = nn.EmbeddingBag(n_tokens, cfg.dim, mode="sum", padding_idx=0)
        self.time = nn.Linear(2, cfg.dim)
        self.rnn_a = nn.GRU(cfg.dim, cfg.hidden, batch_first=True)
        self.rnn_b = nn.GRU(cfg.dim, cfg.hidden, batch_first=True)
        self.w_alpha = nn.Linear(cfg.hidden, 1)
        self.w_beta = nn.Linear(cfg.hidden, cfg.dim)
        self.out = nn.Linear(cfg.dim, n_targets)
        self.bag = nn.EmbeddingBag(n_tokens + 1, n_targets, mode="sum", padding_idx=0)
        nn.init.zeros_(self.bag.weight)
        self.static = nn.Linear(N_STATIC, n_targets, bias=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.n_features = n_features
        self.feat = FeatureHead(n_features, n_targets, cfg.feat_hidden, cfg.feat_dropout) if n_features else None

    def visits(self, codes: torch.Tensor, times: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Visit vectors ``(N, V, dim)``: summed code embeddings plus the time features."""
        n, V, K = codes.shape
        e = self.emb(codes.reshape(n * V, K)).reshape(n, V, -1)
        return e + self.time(times) * mask.unsqueeze(-1)

    def attention(self, codes: torch.Tensor, times: torch.Tensor, mask: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(alpha (N,V), beta (N,V,dim), visit vectors (N,V,dim))``."""
        v = self.visits(codes, times, mask)
        rv = torch.flip(self.drop(v), dims=[1])                   # reverse time
        ga, _ = self.rnn_a(rv)
        gb, _ = self.rnn_b(rv)
        ga, gb = torch.flip(ga, dims=[1]), torch.flip(gb, dims=[1])
        score = self.w_alpha(ga).squeeze(-1).masked_fill(~mask, -1e9)
        alpha = torch.softmax(score, dim=1) * mask
        beta = torch.tanh(self.w_beta(gb))
        return alpha, beta, v

    def forward(self, codes: torch.Tensor, times: torch.Tensor, mask: torch.Tensor, hist: torch.Tensor,
                static: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_attention(codes, times, mask, hist, static, feats)[0]

    def forward_attention(self, codes: torch.Tensor, times: torch.Tensor, mask: torch.Tensor, hist: torch.Tensor,
                          static: torch.Tensor, feats: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits (N, D), alpha, beta)``: the attention is kept for :meth:`code_contributions`.

        ``feats``: ``(N, F)`` tabular features, required exactly when the net has a feature head.
        """
        alpha, beta, v = self.attention(codes, times, mask)
        c = (alpha.unsqueeze(-1) * beta * v).sum(1)               # (N, dim)
        bag = self.bag(hist)                                      # (N, D): sum over distinct past codes
        z = self.out(self.drop(c)) + bag + self.static(static)
        if self.feat is not None:
            if feats is None or feats.shape[1] != self.n_features:
                got = None if feats is None else feats.shape[1]
                raise ValueError(f"this net needs {self.n_features} tabular features per sample, got {got}")
            z = z + self.feat(feats)
        return z, alpha, beta

    @torch.no_grad()
    def contributions(self, codes: torch.Tensor, times: torch.Tensor, mask: torch.Tensor, hist: torch.Tensor,
                      hist_pos: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Contribution of each distinct past code (``hist``) to each selected target: ``(N, H, M)``.

        ``targets``: ``(N, M)`` target indices per sample; padding slots of ``hist`` are ``-inf``.
        """
        alpha, beta, _ = self.attention(codes, times, mask)
        full = self.code_contributions(codes, alpha, beta, hist, hist_pos)
        out = torch.gather(full, 2, targets.long().unsqueeze(1).expand(-1, hist.shape[1], -1))
        return out.masked_fill((hist == 0).unsqueeze(-1), float("-inf"))

    @torch.no_grad()
    def code_contributions(self, codes: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, hist: torch.Tensor,
                           hist_pos: torch.Tensor) -> torch.Tensor:
        """Contributions of every distinct past code to every target, ``(N, H, D)``, from a computed attention.

        A code occurs at most once per visit, so with the occurrence matrix ``O[n, j, t]`` (code ``hist[n, j]``
        in visit ``t``) the attention-weighted vector of each distinct code is
        ``x[n, j] = e_j * sum_t O[n, j, t] alpha[n, t] beta[n, t]`` and its contribution to target ``d`` is
        ``x[n, j] . w_d + u[j, d]``: one batched product for ``x``, one matrix product (plus the bag rows)
        for all targets. Padding slots are not masked.
        """
        n, V, K = codes.shape
        H = hist.shape[1]
        occ = torch.zeros(n, (H + 1) * V)
        flat = hist_pos.long() * V + torch.arange(V).view(1, V, 1)        # slot H is padding
        occ.scatter_add_(1, flat.reshape(n, V * K), (codes > 0).float().reshape(n, V * K))
        ab = alpha.unsqueeze(-1) * beta                                   # (N, V, dim)
        x = torch.bmm(occ.view(n, H + 1, V)[:, :H], ab) * self.emb.weight[hist.long()]  # (N, H, dim)
        bag = self.bag.weight.index_select(0, hist.long().reshape(-1))    # (N*H, D)
        return torch.addmm(bag, x.reshape(n * H, -1), self.out.weight.t()).view(n, H, -1)
