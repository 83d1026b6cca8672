"""Temperature scaling (Guo et al., 2017) and calibration error.

A classifier's logits :math:`z` are divided by one scalar :math:`T > 0` fitted
on held-out data to minimise the negative log-likelihood

.. math::  T^* = \\arg\\min_T -\\frac{1}{N}\\sum_i \\log \\mathrm{softmax}(z_i / T)_{y_i}.

Scaling by :math:`T` never changes the argmax, so accuracy and AUROC are
unchanged; only the confidence moves.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from graph_engine.errors import ModelError


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).ravel()
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise ModelError(
            f"expected logits of shape (N, C) and labels of shape (N,), got {logits.shape} and {labels.shape}"
        )
    if logits.shape[0] == 0:
        raise ModelError("cannot calibrate on zero examples")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ModelError(f"labels must lie in [0, {logits.shape[1] - 1}]")
    return logits, labels


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``.

    Shapes:
        logits: ``(N, C)``; labels: ``(N,)`` integer class indices.
    """
    logits, labels = _check(logits, labels)
    lp = log_softmax(logits / temperature, axis=1)
    return float(-lp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """Fit the temperature that minimises validation NLL.

    The search is over :math:`\\log T` (bounded, deterministic), so the result
    does not depend on a random start.

    Args:
        logits: validation logits, shape ``(N, C)``.
        labels: validation labels, shape ``(N,)``.
        bounds: allowed range of :math:`T`.

    Returns:
        The fitted temperature :math:`T > 0`.

    Raises:
        ModelError: shapes disagree or there is no data.

    Example:
        >>> t = fit_temperature(val_logits, val_labels)
        >>> probs = softmax(test_logits / t, axis=1)
    """
    logits, labels = _check(logits, labels)
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    res = minimize_scalar(
        lambda lt: nll(logits, labels, float(np.exp(lt))), bounds=(lo, hi), method="bounded",
        options={"xatol": 1e-4},
    )
    t = float(np.exp(res.x))
    # Never return a temperature that is worse than leaving the model alone.
    if nll(logits, labels, t) > nll(logits, labels, 1.0):
        return 1.0
    return t


def calibrated_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` row-wise, shape ``(N, C)``."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label expected calibration error with equal-width confidence bins.

    .. math:: \\mathrm{ECE} = \\sum_b \\frac{|B_b|}{N}\\,|\\mathrm{acc}(B_b) - \\mathrm{conf}(B_b)|

    Shapes:
        probs: ``(N, C)`` rows summing to 1; labels: ``(N,)``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).ravel()
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0] or probs.shape[0] == 0:
        raise ModelError(f"expected probs (N, C) and labels (N,), got {probs.shape} and {labels.shape}")
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bin b holds confidences in (edges[b], edges[b+1]]; confidence 0 cannot occur for C >= 1
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)
