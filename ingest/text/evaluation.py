"""Scoring NER output against annotated corpora.

``evaluate_ner`` scores any pipeline on an annotated corpus with exact span
matching (start, end and label must all agree), per label and micro-averaged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import spacy
from spacy.language import Language

from ingest.text.readers import ReadStats, read_documents


@dataclass
class LabelScore:
    """Exact-match counts and P/R/F1 for one label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4), "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass
class NerScores:
    """Per-label and micro-averaged exact-span scores."""

    per_label: dict[str, LabelScore] = field(default_factory=dict)
    documents: int = 0

    @property
    def micro(self) -> LabelScore:
        total = LabelScore()
        for s in self.per_label.values():
            total.tp += s.tp
            total.fp += s.fp
            total.fn += s.fn
        return total

    def as_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "micro": self.micro.as_dict(), "per_label": {k: v.as_dict() for k, v in sorted(self.per_label.items())}}

    def table(self) -> str:
        """A printable table: label, P, R, F1, support."""
        lines = [f"{'label':<10} {'P':>7} {'R':>7} {'F1':>7} {'gold':>7}"]
        for label, s in sorted(self.per_label.items()):
            lines.append(f"{label:<10} {s.precision:7.4f} {s.recall:7.4f} {s.f1:7.4f} {s.tp + s.fn:7d}")
        m = self.micro
        lines.append(f"{'micro':<10} {m.precision:7.4f} {m.recall:7.4f} {m.f1:7.4f} {m.tp + m.fn:7d}")
        return "\n".join(lines)


def score_mentions(gold: Iterable[tuple[int, int, str]], predicted: Iterable[tuple[int, int, str]], scores: NerScores, labels: set[str] | None = None) -> None:
    """Add one document's exact-match counts to ``scores`` (only for ``labels`` when given)."""
    g = {x for x in gold if labels is None or x[2] in labels}
    p = {x for x in predicted if labels is None or x[2] in labels}
    for x in g | p:
        s = scores.per_label.setdefault(x[2], LabelScore())
        if x in g and x in p:
            s.tp += 1
        elif x in p:
            s.fp += 1
        else:
            s.fn += 1


def evaluate_ner(
    data: str | Path,
    nlp: Language | str | Path | None = None,
    *,
    fmt: str | None = None,
    labels: Iterable[str] | None = None,
    batch_size: int = 64,
) -> NerScores:
    """Score a pipeline's entities against an annotated corpus with exact span matching.

    Args:
        data: PubTator or IOB corpus with gold mentions.
        nlp: a pipeline, a model directory, or ``None`` for the shipped extraction pipeline.
        fmt: corpus format; guessed when ``None``.
        labels: labels to score; by default those that occur in the gold data, so a
            corpus without genes does not count predicted genes as errors.
        batch_size: documents per ``nlp.pipe`` batch.

    Returns:
        Scores per label and micro-averaged.
    """
    if nlp is None:
        from ingest.text.pipeline import load_pipeline

        nlp = load_pipeline()
    elif not isinstance(nlp, Language):
        nlp = spacy.load(nlp)
    docs = list(read_documents(data, fmt, stats=ReadStats()))
    wanted = set(labels) if labels else {m.label for d in docs for m in d.gold_mentions}
    scores = NerScores()
    for d, doc in zip(docs, nlp.pipe((d.text for d in docs), batch_size=batch_size)):
        scores.documents += 1
        score_mentions(((m.start, m.end, m.label) for m in d.gold_mentions), ((e.start_char, e.end_char, e.label_) for e in doc.ents), scores, wanted)
    for label in wanted:
        scores.per_label.setdefault(label, LabelScore())
    return scores
