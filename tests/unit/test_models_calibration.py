"""Temperature scaling and calibration error on synthetic cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from graph_engine.errors import ModelError
from models.calibration import (
    calibrated_probabilities,
    expected_calibration_error,
    fit_temperature,
    nll,
)
from models.metrics import classification_metrics

pytestmark = pytest.mark.unit


def _calibrated_sample(n: int = 4000, c: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose softmax is the true label distribution (perfectly calibrated by construction)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, size=(n, c))
    p = softmax(logits, axis=1)
    labels = np.array([rng.choice(c, p=row) for row in p])
    return logits, labels


def test_overconfident_model_gets_t_above_one_and_lower_nll_and_ece() -> None:
    logits, y = _calibrated_sample()
    over = logits * 4.0  # an overconfident model: same ranking, too sharp
    t = fit_temperature(over, y)
    assert 3.0 < t < 5.5  # the true answer is 4
    assert nll(over, y, t) < nll(over, y, 1.0) - 0.2
    ece_before = expected_calibration_error(calibrated_probabilities(over, 1.0), y)
    ece_after = expected_calibration_error(calibrated_probabilities(over, t), y)
    assert ece_after < ece_before / 2
    assert ece_after < 0.05


def test_underconfident_model_gets_t_below_one() -> None:
    logits, y = _calibrated_sample(seed=1)
    t = fit_temperature(logits / 3.0, y)
    assert 0.25 < t < 0.45  # the true answer is 1/3


def test_temperature_keeps_argmax() -> None:
    logits, y = _calibrated_sample(seed=2)
    t = fit_temperature(logits * 3, y)
    assert (calibrated_probabilities(logits * 3, t).argmax(1) == logits.argmax(1)).all()


def test_ece_zero_for_exact_confidence_and_one_for_confident_wrong() -> None:
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(probs, np.array([0, 1])) == pytest.approx(0.0)
    assert expected_calibration_error(probs, np.array([1, 0])) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "logits, labels",
    [
        (np.zeros((3,)), np.zeros(3)),  # not 2-D
        (np.zeros((3, 2)), np.zeros(4)),  # length mismatch
        (np.zeros((3, 2)), np.array([0, 1, 2])),  # label out of range
        (np.zeros((0, 2)), np.zeros(0)),  # empty
    ],
)
def test_bad_shapes_raise_model_error(logits: np.ndarray, labels: np.ndarray) -> None:
    with pytest.raises(ModelError):
        fit_temperature(logits, labels)


def test_metrics_binary_and_multiclass() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    m = classification_metrics(probs, np.array([0, 1, 1, 1]), ["normal", "pneumonia"])
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["auroc"] == pytest.approx(1.0)  # every positive scores above the negative
    assert m["per_class"]["normal"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["pneumonia"]["recall"] == pytest.approx(2 / 3)
    m3 = classification_metrics(np.eye(3), np.array([0, 1, 2]), ["a", "b", "c"])
    assert m3["accuracy"] == 1.0 and m3["auroc"] == 1.0 and m3["nll"] < 1e-9
