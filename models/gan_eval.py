"""Judging a generator of labelled images against real ones.

- :func:`frechet_distance` between Gaussian fits of feature sets. Features are the
  penultimate layer (global-average-pooled last conv block) of medkg's own image CNN,
  so the number is **not** the Inception FID and is not comparable with published FIDs.
- :func:`precision_recall`: improved precision / recall for generative models
  (Kynkäänniemi et al., NeurIPS 2019) with k-NN balls (k = 3) in the same feature space.
- :func:`tstr_pixel_lr`: train-on-synthetic / test-on-real with a fixed classifier,
  standardised pixels + logistic regression (scikit-learn defaults, C = 1).
- :func:`nn_distances` / :func:`memorisation`: root-mean-square pixel distance (pixels
  in [0, 1]) of each generated image to its nearest training image, and the share of
  near-copies (distance below :data:`NEAR_COPY_RMS`).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch
from scipy import linalg

from graph_engine.errors import ModelError
from models.image import to_unit_float

# A generated image closer than this (RMS over pixels in [0, 1], about 6/255 grey levels on
# average) to a training image counts as a near-copy. Real PneumoniaMNIST validation images
# are at a median 0.076 from their nearest training image, 2nd percentile 0.038; the ~1 %
# below 0.025 are duplicates of training images already in the dataset.
NEAR_COPY_RMS = 0.025
PR_K = 3


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature rows ``a`` (N, D) and ``b`` (M, D).

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})``.

    Raises:
        ModelError: fewer than 2 rows, different widths, or a non-finite matrix square root.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ModelError(f"frechet_distance needs two (N>=2, D) arrays of the same D, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():
        eps = 1e-6 * np.eye(a.shape[1])
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    if np.iscomplexobj(covmean):
        if np.abs(covmean.imag).max() > 1e-3 * max(1.0, np.abs(covmean.real).max()):
            raise ModelError("frechet_distance: matrix square root has a large imaginary part (degenerate features)")
        covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def knn_radii(x: np.ndarray, k: int = PR_K) -> np.ndarray:
    """Distance of each row of ``x`` to its ``k``-th nearest other row, shape ``(N,)``."""
    if len(x) <= k:
        raise ModelError(f"k-NN radii need more than k={k} rows, got {len(x)}")
    d = np.sqrt(_sq_dists(x, x))
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, k - 1]


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_K) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    precision: share of ``fake`` rows inside at least one real row's k-NN ball;
    recall: share of ``real`` rows inside at least one fake row's k-NN ball.
    """
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    d = np.sqrt(_sq_dists(fake, real))  # (F, R)
    precision = float((d <= r_real[None, :]).any(1).mean())
    recall = float((d.T <= r_fake[None, :]).any(1).mean())
    return {"precision": precision, "recall": recall, "k": k}


def nn_distances(generated: np.ndarray, train: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """RMS pixel distance (pixels in [0, 1]) of each generated image to its nearest training image.

    Args:
        generated: ``(N, H, W)`` uint8 or float in [0, 1].
        train: ``(M, H, W)``, same pixel size.

    Returns:
        ``(distances (N,), index of the nearest training image (N,))``.
    """
    g = to_unit_float(np.asarray(generated)).reshape(len(generated), -1).astype(np.float64)
    t = to_unit_float(np.asarray(train)).reshape(len(train), -1).astype(np.float64)
    if g.shape[1] != t.shape[1]:
        raise ModelError(f"generated images have {g.shape[1]} pixels, training images {t.shape[1]}")
    dist = np.empty(len(g))
    idx = np.empty(len(g), dtype=np.int64)
    for s in range(0, len(g), chunk):
        d = _sq_dists(g[s : s + chunk], t)
        j = d.argmin(1)
        idx[s : s + chunk] = j
        dist[s : s + chunk] = np.sqrt(d[np.arange(len(j)), j] / g.shape[1])
    return dist, idx


def memorisation(generated: np.ndarray, train: np.ndarray, reference: np.ndarray | None = None,
                 threshold: float = NEAR_COPY_RMS) -> dict[str, Any]:
    """Nearest-training-image distances of ``generated`` and the share of near-copies.

    ``reference`` (real images the generator never saw, e.g. the validation split) gets the
    same statistics, as the yardstick of how close independent real images come.
    """
    d, idx = nn_distances(generated, train)
    out: dict[str, Any] = {
        "threshold_rms": threshold,
        "near_copy_share": float((d < threshold).mean()),
        "near_copies": int((d < threshold).sum()),
        "distinct_train_images_matched": int(len(np.unique(idx[d < threshold]))),
        "nn_distance_percentiles": {str(p): float(np.percentile(d, p)) for p in (1, 5, 50)},
        "n": int(len(d)),
    }
    if reference is not None:
        dr, _ = nn_distances(reference, train)
        out["reference_near_copy_share"] = float((dr < threshold).mean())
        out["reference_nn_distance_percentiles"] = {str(p): float(np.percentile(dr, p)) for p in (1, 5, 50)}
    return out


def pixel_matrix(images: np.ndarray) -> np.ndarray:
    return to_unit_float(np.asarray(images)).reshape(len(images), -1).astype(np.float64)


def tstr_pixel_lr(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> dict[str, Any]:
    """Fit standardised pixels + logistic regression on ``train``, score on ``test``.

    Returns AUROC (class 1 = positive) and per-class recall at the 0.5 threshold.

    Raises:
        ModelError: one class missing, or the solver did not converge.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_y, test_y = np.asarray(train_y).astype(int), np.asarray(test_y).astype(int)
    if len(np.unique(train_y)) < 2 or len(np.unique(test_y)) < 2:
        raise ModelError("TSTR needs both classes in the training and the test images")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            clf.fit(pixel_matrix(train_x), train_y)
        except ConvergenceWarning as e:
            raise ModelError(f"pixel logistic regression did not converge ({e})") from e
    p = clf.predict_proba(pixel_matrix(test_x))[:, 1]
    pred = (p >= 0.5).astype(int)
    return {
        "auroc": float(roc_auc_score(test_y, p)),
        "recall_per_class": {str(c): float((pred[test_y == c] == c).mean()) for c in (0, 1)},
        "n_train": int(len(train_y)), "n_test": int(len(test_y)),
    }


@torch.no_grad()
def cnn_features(image_model: Any, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Penultimate-layer features of medkg's image CNN (``net.features``), shape ``(N, 4 * width)``."""
    net = image_model.net
    net.eval()
    out = []
    for s in range(0, len(images), batch_size):
        x = image_model._tensor(np.asarray(images[s : s + batch_size])).to(image_model.device)
        out.append(net.features(x).float().cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def matched_labels(real_y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` labels with the class proportions of ``real_y`` (largest remainders), shuffled."""
    real_y = np.asarray(real_y).astype(int)
    counts = np.bincount(real_y)
    exact = counts / counts.sum() * n
    take = np.floor(exact).astype(int)
    for c in np.argsort(-(exact - take))[: n - take.sum()]:
        take[c] += 1
    y = np.repeat(np.arange(len(counts)), take)
    np.random.default_rng(seed).shuffle(y)
    return y


def feature_scores(real_f: np.ndarray, real_y: np.ndarray, fake_f: np.ndarray, fake_y: np.ndarray,
                   names: Sequence[str]) -> dict[str, Any]:
    """Fréchet distance and precision / recall overall and per class."""
    out: dict[str, Any] = {"frechet_distance": frechet_distance(real_f, fake_f), **precision_recall(real_f, fake_f)}
    out["per_class"] = {}
    for c, name in enumerate(names):
        rf, ff = real_f[real_y == c], fake_f[fake_y == c]
        if len(rf) > PR_K and len(ff) > PR_K:
            out["per_class"][name] = {"frechet_distance": frechet_distance(rf, ff), **precision_recall(rf, ff),
                                      "n_real": int(len(rf)), "n_fake": int(len(ff))}
    return out


def tstr_cnn(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
             names: Sequence[str], epochs: int, seed: int = 0) -> dict[str, Any]:
    """Train medkg's image CNN (shipped default recipe, ``epochs`` epochs) on ``train``, score on ``test``."""
    from models.api import make_config
    from models.artifacts import default_config_path
    from models.calibration import calibrated_probabilities
    from models.image import train_image
    from models.metrics import classification_metrics
    from models.records import ImageRecord

    cfg = make_config("image", default_config_path("image"),
                      {"epochs": int(epochs), "seed": int(seed), "label_names": list(names)})
    recs = [ImageRecord(f"t-{i}", train_x[i], names[int(train_y[i])]) for i in range(len(train_x))]
    res = train_image(recs, cfg)
    probs = calibrated_probabilities(res.model.logits_array(np.asarray(test_x)), res.model.temperature)
    m = classification_metrics(probs, np.asarray(test_y).astype(int), list(names))
    return {"auroc": m["auroc"], "accuracy": m["accuracy"],
            "recall_per_class": {c: v["recall"] for c, v in m["per_class"].items()},
            "epochs": int(epochs), "best_epoch": res.metrics["best_epoch"],
            "n_train": int(len(train_y)), "n_test": int(len(test_y))}


def evaluate_generator(
    gan: Any,
    real_x: np.ndarray,
    real_y: np.ndarray,
    train_x: np.ndarray,
    train_y: np.ndarray,
    feature_model: Any,
    n: int = 6000,
    seed: int = 0,
    cnn_epochs: int = 0,
) -> dict[str, Any]:
    """All scores of the generator ``gan`` against real labelled images.

    Args:
        gan: a :class:`models.gan.GANModel`.
        real_x, real_y: real images the generator never saw (validation / test split), labels 0..C-1.
        train_x, train_y: the generator's training images (memorisation; the real-data reference).
        feature_model: a loaded medkg image CNN (features for Fréchet distance and P/R).
        n: generated images for TSTR and memorisation (balanced classes).
        seed: generation seed.
        cnn_epochs: epochs of the CNN TSTR run (0 skips it; it is the slow part on a CPU).
    """
    names = list(gan.labels)
    real_y, train_y = np.asarray(real_y).astype(int), np.asarray(train_y).astype(int)
    # Fréchet distance and P/R: as many generated images as real ones, with the real class mix
    fy = matched_labels(real_y, len(real_y), seed)
    fx = gan.generate_labels(fy, seed)
    real_f, fake_f = cnn_features(feature_model, real_x), cnn_features(feature_model, fx)
    # real-vs-real yardstick: training images with the real split's class mix, same size where possible
    rng = np.random.default_rng(seed)
    ref_idx = np.concatenate([
        rng.choice(np.flatnonzero(train_y == c), size=min(int((real_y == c).sum()), int((train_y == c).sum())),
                   replace=False)
        for c in range(len(names))
    ])
    ref_f = cnn_features(feature_model, train_x[ref_idx])
    out: dict[str, Any] = {
        "features": f"penultimate layer of {feature_model.manifest.get('name')} "
                    f"{feature_model.manifest.get('model_version')} (not Inception; not comparable with published FID)",
        "generated": feature_scores(real_f, real_y, fake_f, fy, names),
        "reference_real_train_sample": feature_scores(real_f, real_y, ref_f, train_y[ref_idx], names),
    }
    gx, gy = gan.generate(n, seed)
    out["tstr_pixel_lr"] = {
        "synthetic": tstr_pixel_lr(gx, gy, real_x, real_y),
        "reference_real_train": tstr_pixel_lr(train_x, train_y, real_x, real_y),
    }
    out["memorisation"] = memorisation(gx, train_x, reference=real_x)
    if cnn_epochs > 0:
        out["tstr_cnn"] = {"synthetic": tstr_cnn(gx, gy, real_x, real_y, names, cnn_epochs, seed)}
    out["n_generated"] = int(n)
    out["seed"] = int(seed)
    out["n_real"] = int(len(real_y))
    out["n_train"] = int(len(train_y))
    out["labels"] = names
    return out
