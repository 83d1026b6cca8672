"""The contract of every registered model kind (models.api.MODEL_KINDS): the shipped
default loads, predicts calibrated distributions over its labels on its sample data,
the same way twice, and the loaded object satisfies the DiagnosisModel protocol."""

from __future__ import annotations

import numpy as np
import pytest

from models import load_model, predict_file
from models.api import MODEL_KINDS
from models.artifacts import sample_data_path

pytestmark = pytest.mark.unit


def _diagnosis_contract(kind: str) -> None:
    model = load_model(kind=kind, device="cpu")
    assert model.kind == kind and model.manifest["kind"] == kind and model.path is not None
    assert set(model.label_info) == set(model.labels) and model.temperature > 0
    report = predict_file(model, sample_data_path(kind))
    assert report.predictions and report.read == len(report.predictions) + len(report.skipped)
    for p in report.predictions:
        probs = np.array([p.probabilities[lb] for lb in model.labels])
        assert np.all(probs >= 0) and abs(probs.sum() - 1) < 1e-6
        assert p.label == max(p.probabilities, key=p.probabilities.get)
    again = predict_file(model, sample_data_path(kind))
    assert [p.probabilities for p in again.predictions] == [p.probabilities for p in report.predictions]


def _generator_contract(kind: str) -> None:
    from graph_engine.errors import ModelError

    gen = load_model(kind=kind, device="cpu")
    assert gen.kind == kind and gen.manifest["kind"] == kind
    images, labels = gen.generate(40, seed=3)
    assert images.shape == (40, 28, 28) and images.dtype == np.uint8 and images.std() > 0
    assert np.bincount(labels, minlength=len(gen.labels)).tolist() == [40 // len(gen.labels)] * len(gen.labels)
    again, labels2 = gen.generate(40, seed=3, batch_size=7)
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(labels2, labels)
    assert not np.array_equal(gen.generate(40, seed=4)[0], images)
    with pytest.raises(ModelError):
        predict_file(gen, sample_data_path("image"))  # a generator does not diagnose


#: kind -> its contract test
MODEL_CONTRACTS = {"image": _diagnosis_contract, "text": _diagnosis_contract, "gan": _generator_contract}


@pytest.mark.parametrize("kind", sorted(MODEL_CONTRACTS))
def test_model_kind_contract(kind):
    assert kind in MODEL_KINDS
    MODEL_CONTRACTS[kind](kind)
