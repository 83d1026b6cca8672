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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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

    def to_dict(self) -> dict:
        return asdict(self)


class RetainNet(nn.Module):
    def __init__(self, n_tokens: int, n_targets: int, cfg: SequenceConfig) -> None:
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
                static: torch.Tensor) -> torch.Tensor:
        return self.forward_attention(codes, times, mask, hist, static)[0]

    def forward_attention(self, codes: torch.Tensor, times: torch.Tensor, mask: torch.Tensor, hist: torch.Tensor,
                          static: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits (N, D), alpha, beta)``: the attention is kept for :meth:`code_contributions`."""
        alpha, beta, v = self.attention(codes, times, mask)
        c = (alpha.unsqueeze(-1) * beta * v).sum(1)               # (N, dim)
        bag = self.bag(hist)                                      # (N, D): sum over distinct past codes
        return self.out(self.drop(c)) + bag + self.static(static), alpha, beta

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
