"""Typed records passed between the text stages: readers -> pipeline -> writers.

The JSON produced by :meth:`Mention.to_json` and :meth:`Relation.to_json` is
the public line format of ``medkg extract``; its field names are stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Entity labels the text pipeline produces (graph labels, see schema.toml).
ENTITY_LABELS: tuple[str, ...] = ("Disease", "Drug", "Gene")
#: relation types whose speculative statements still count as asserted (drug interactions are advice)
HEDGED_TYPES = frozenset({"INTERACTS_WITH"})

#: relation type -> the name its :attr:`Relation.kind` goes by (record attribute, graph property)
KIND_ATTRIBUTE: dict[str, str] = {"INTERACTS_WITH": "interaction_type", "TARGETS": "action"}


@dataclass(frozen=True, slots=True)
class Mention:
    """One entity mention in a document.

    Attributes:
        doc_id: the document's id.
        start: character offset of the first character in the document text.
        end: character offset one past the last character (``text == doc[start:end]``).
        text: the surface form.
        label: ``Disease``, ``Drug`` or ``Gene``.
        id: the linked CURIE (``MESH:D003924``, ``DOID:9352`` ...) or ``None`` if unlinked.
        score: confidence of the mention and its link, in ``[0, 1]``.
        source: which recogniser found it (``dictionary``, ``ner``, ``abbreviation``, ``gold``).
        negated: the mention sits in the scope of a negation cue.
        speculative: the mention sits in the scope of a speculation cue.
    """

    doc_id: str
    start: int
    end: int
    text: str
    label: str
    id: str | None = None
    score: float = 1.0
    source: str = "ner"
    negated: bool = False
    speculative: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``medkg extract`` line format (``doc_id``, ``start``, ``end``, ``text``, ``label``, ``id``, ``score``)."""
        return {
            "doc_id": self.doc_id,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "label": self.label,
            "id": self.id,
            "score": round(self.score, 4),
            "source": self.source,
            "negated": self.negated,
            "speculative": self.speculative,
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a relation was read: enough to show it to a person and to find it again.

    Attributes:
        doc_id: the document's id (a PMID for PubMed/PubTator input).
        sentence: the sentence text.
        sentence_start, sentence_end: the sentence's character offsets in the document.
        subject_start, subject_end, object_start, object_end: the two mentions' offsets.
        extractor: name of the extractor (``medkg.relations``).
        extractor_version: its version (changes when patterns or weights change).
    """

    doc_id: str
    sentence: str
    sentence_start: int
    sentence_end: int
    subject_start: int
    subject_end: int
    object_start: int
    object_end: int
    extractor: str
    extractor_version: str

    @property
    def key(self) -> str:
        """Stable key of this evidence inside its document (idempotent writes)."""
        return f"{self.doc_id}:{self.subject_start}-{self.subject_end}:{self.object_start}-{self.object_end}"


@dataclass(frozen=True, slots=True)
class Relation:
    """A typed relation between two mentions, read from one sentence (a document-level ``CAUSES``:
    from the sentences of its two mentions).

    Attributes:
        doc_id: the document's id.
        type: ``TREATS``, ``CAUSES``, ``TARGETS``, ``ASSOCIATES`` or ``INTERACTS_WITH``.
        subject: id of the subject entity (e.g. the drug); ``None`` when its mention is unlinked
            (such a relation is in the ``medkg extract`` output but never written to the graph).
        object: id of the object entity (e.g. the disease), or ``None`` likewise.
        subject_label, object_label: their graph labels.
        subject_text, object_text: their surface forms.
        negated: the statement is negated ("did not cause"): not a fact.
        speculative: the statement is hedged ("may cause"): not a fact, except for
            ``INTERACTS_WITH``, whose statements are advice by nature ("should be used with
            caution", "may increase the levels of"): there the flag is kept but does not veto.
        score: confidence in ``[0, 1]``.
        evidence: sentence, offsets and extractor.
        kind: the relation's sub-type, read by a type-specific model, or ``None``; exposed under
            the name of its type (:data:`KIND_ATTRIBUTE`):
            :attr:`interaction_type` (``INTERACTS_WITH``: ``mechanism``, ``effect``, ``advise`` or
            ``int``, the DDI 2013 types, when the type model is loaded) and :attr:`action`
            (``TARGETS``: the ChemProt group, ``activator``, ``inhibitor``, ``agonist``,
            ``antagonist`` or ``substrate``).
    """

    doc_id: str
    type: str
    subject: str | None
    object: str | None
    subject_label: str
    object_label: str
    subject_text: str
    object_text: str
    negated: bool
    speculative: bool
    score: float
    evidence: Evidence
    kind: str | None = None

    @property
    def asserted(self) -> bool:
        """Whether the relation may be stated as a fact: not negated, and not speculative
        (speculation does not veto ``INTERACTS_WITH``, see :attr:`speculative`)."""
        if self.type in HEDGED_TYPES:
            return not self.negated
        return not (self.negated or self.speculative)

    @property
    def sentence(self) -> str:
        return self.evidence.sentence

    @property
    def interaction_type(self) -> str | None:
        """``INTERACTS_WITH``: the DDI interaction type (:attr:`kind`); ``None`` for other types."""
        return self.kind if self.type == "INTERACTS_WITH" else None

    @property
    def action(self) -> str | None:
        """``TARGETS``: the ChemProt action (:attr:`kind`); ``None`` for other types."""
        return self.kind if self.type == "TARGETS" else None

    def to_json(self) -> dict[str, Any]:
        """The ``medkg extract`` line format (``doc_id``, ``type``, ``subject``, ``object``, ``negated``, ``sentence``, ``score``) plus evidence."""
        ev = self.evidence
        out: dict[str, Any] = {
            "doc_id": self.doc_id,
            "type": self.type,
            "subject": self.subject,
            "object": self.object,
            "negated": self.negated,
            "speculative": self.speculative,
            "sentence": ev.sentence,
            "score": round(self.score, 4),
            "subject_label": self.subject_label,
            "object_label": self.object_label,
            "subject_text": self.subject_text,
            "object_text": self.object_text,
            "sentence_start": ev.sentence_start,
            "sentence_end": ev.sentence_end,
            "subject_span": [ev.subject_start, ev.subject_end],
            "object_span": [ev.object_start, ev.object_end],
            "extractor": ev.extractor,
            "extractor_version": ev.extractor_version,
            "interaction_type": self.interaction_type,
            "action": self.action,
        }
        return out


@dataclass(frozen=True, slots=True)
class GoldRelation:
    """A relation given by an annotated corpus (PubTator ``CID`` lines), by ids."""

    doc_id: str
    type: str
    subject: str
    object: str


@dataclass(slots=True)
class Document:
    """One document as read, optionally with gold annotations and, after extraction, results.

    Attributes:
        id: the document id (PMID, JSONL ``id``, file stem ...).
        text: the text that offsets refer to (PubTator/PubMed: title + one space + abstract).
        title: the title, when the source has one.
        year: publication year, when known.
        source: where it came from (``pubmed``, ``pubtator``, ``jsonl``, ``text``, ``iob``).
        metadata: further fields from the source (JSONL extras, journal ...).
        gold_mentions: annotations given with the input (PubTator, IOB).
        gold_relations: relations given with the input (PubTator CID lines).
        mentions: extracted mentions (filled by the pipeline).
        relations: extracted relations (filled by the pipeline).
        path: the file it was read from.
        line: the 1-based line where it starts in that file, when meaningful.
    """

    id: str
    text: str
    title: str | None = None
    year: int | None = None
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    gold_mentions: list[Mention] = field(default_factory=list)
    gold_relations: list[GoldRelation] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    path: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """One ``medkg extract`` output line."""
        return {
            "doc_id": self.id,
            "title": self.title,
            "year": self.year,
            "source": self.source,
            "mentions": [m.to_json() for m in self.mentions],
            "relations": [r.to_json() for r in self.relations],
        }
