"""Classification metrics shared by the image and text models."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from models.calibration import expected_calibration_error


def classification_metrics(probs: np.ndarray, labels: np.ndarray, label_names: Sequence[str]) -> dict[str, Any]:
    """AUROC, accuracy, per-class precision/recall, ECE, NLL and Brier score.

    AUROC is the positive-class AUROC for two classes (positive = the second
    label, e.g. ``pneumonia``) and the macro one-vs-rest AUROC otherwise, over
    classes present in ``labels``.

    Args:
        probs: calibrated probabilities, shape ``(N, C)``.
        labels: true class indices, shape ``(N,)``.
        label_names: the ``C`` class names, in column order.

    Returns:
        A JSON-ready dict.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).ravel()
    n, c = probs.shape
    pred = probs.argmax(axis=1)
    out: dict[str, Any] = {"n": int(n), "accuracy": float((pred == y).mean()) if n else float("nan")}
    present = np.unique(y)
    auroc: float | None
    try:
        if c == 2:
            auroc = float(roc_auc_score(y, probs[:, 1])) if len(present) == 2 else None
        else:
            if len(present) < 2:
                auroc = None
            else:
                # macro OvR over the classes that occur in y
                aucs = [roc_auc_score((y == k).astype(int), probs[:, k]) for k in present]
                auroc = float(np.mean(aucs))
    except ValueError:
        auroc = None
    out["auroc"] = auroc
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=list(range(c)), zero_division=0)
    out["per_class"] = {
        name: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]), "support": int(s[k])}
        for k, name in enumerate(label_names)
    }
    out["macro_f1"] = float(np.mean([f[k] for k in present])) if n else float("nan")
    out["ece"] = expected_calibration_error(probs, y) if n else float("nan")
    eps = 1e-12
    out["nll"] = float(-np.log(np.clip(probs[np.arange(n), y], eps, 1.0)).mean()) if n else float("nan")
    onehot = np.eye(c)[y]
    out["brier"] = float(((probs - onehot) ** 2).sum(axis=1).mean()) if n else float("nan")
    return out
