"""Typed records passed between the stages of the models package."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One image to classify.

    Attributes:
        id: a pseudonymous case id (becomes ``(:Case {id})`` on write-back).
        image: pixel array, shape ``(H, W)`` or ``(1, H, W)``; ``uint8`` in
            ``[0, 255]`` or floating point in ``[0, 1]``.
        label: the true label when known (evaluation, training).
        line: 1-based position in the source file, for error messages.
    """

    id: str
    image: np.ndarray
    label: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class TextRecord:
    """One free-text note (a symptom description) to classify.

    Attributes:
        id: a pseudonymous case id.
        text: the note.
        label: the true label when known.
        line: 1-based line (JSONL) or row (CSV, header is line 1) in the source file.
    """

    id: str
    text: str
    label: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    """A calibrated prediction for one record.

    Attributes:
        id: the record id.
        label: the most probable label.
        probabilities: calibrated probability per label (sums to 1).
        disease_id: the graph ``Disease`` id of ``label`` (a DOID or ``MEDKG:`` CURIE),
            ``None`` when the label is not a disease (for example ``normal``).
    """

    id: str
    label: str
    probabilities: dict[str, float]
    disease_id: str | None = None

    @property
    def probability(self) -> float:
        """Calibrated probability of :attr:`label`."""
        return self.probabilities[self.label]

    def to_json(self) -> dict[str, Any]:
        """The JSONL row written by ``medkg models predict``."""
        return {
            "id": self.id,
            "label": self.label,
            "probabilities": dict(self.probabilities),
            "disease_id": self.disease_id,
        }


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that could not be used, and why."""

    id: str | None
    line: int | None
    reason: str


@dataclass(slots=True)
class Loaded:
    """Records read from a file plus those skipped, so ``read = len(records) + len(skipped)``."""

    records: list[Any]
    skipped: list[Skipped] = field(default_factory=list)
    source: str | None = None
    sha256: str | None = None

    @property
    def read(self) -> int:
        return len(self.records) + len(self.skipped)


@dataclass(slots=True)
class InferenceReport:
    """The outcome of a batch inference: predictions plus skipped-with-reason.

    ``read == len(predictions) + len(skipped)`` always holds.
    """

    predictions: list[Prediction]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def read(self) -> int:
        return len(self.predictions) + len(self.skipped)

    def skipped_by_reason(self) -> dict[str, int]:
        """Counts of skipped records per reason (reason text without the record id)."""
        out: dict[str, int] = {}
        for s in self.skipped:
            out[s.reason] = out.get(s.reason, 0) + 1
        return out
