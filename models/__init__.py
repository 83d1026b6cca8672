"""medkg models: diagnosis models (image CNN, clinical text), training,
evaluation, calibrated batch inference, artifacts and graph write-back.

Research use only; not a medical device.

Example:
    >>> from models import load_model, predict
    >>> model = load_model(kind="image")                 # shipped default
    >>> preds = predict(model, images)                   # (N, 28, 28) uint8
    >>> preds[0].label, preds[0].probabilities, preds[0].disease_id
"""

from models.api import (
    Artifact,
    evaluate,
    load_model,
    make_config,
    predict,
    predict_file,
    predict_records,
    read_input,
    train,
)
from models.artifacts import default_artifact_dir, sample_data_path
from models.image import ImageConfig, ImageModel
from models.records import ImageRecord, InferenceReport, Prediction, Skipped, TextRecord
from models.text import TextConfig, TextModel

__all__ = [
    "Artifact",
    "ImageConfig",
    "ImageModel",
    "ImageRecord",
    "InferenceReport",
    "Prediction",
    "Skipped",
    "TextConfig",
    "TextModel",
    "TextRecord",
    "default_artifact_dir",
    "evaluate",
    "load_model",
    "make_config",
    "predict",
    "predict_file",
    "predict_records",
    "read_input",
    "sample_data_path",
    "train",
]
