"""Write extracted documents into Neo4j through a :class:`graph_engine` client.

The client is injected; it must offer ``write_batches(cypher, rows,
batch_size=None) -> int`` (``UNWIND $rows`` per batch in a managed write
transaction with retries) and ``read(cypher, params) -> list[dict]``. All
statements come from :mod:`ingest.text.cypher`.

Only linked mentions (with an id) become MENTIONS, and only asserted relations
(see :attr:`~ingest.text.records.Relation.asserted`) between two linked mentions
become relationships; everything is still in the ``medkg extract`` JSONL. Writes are idempotent per document id.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from graph_engine.batching import batched
from graph_engine.errors import QueryError
from graph_engine.limits import fits_index
from ingest.text import cypher
from ingest.text.records import KIND_ATTRIBUTE, Document


class WriteClient(Protocol):
    """The part of ``graph_engine.client.GraphClient`` the writer uses."""

    def write_batches(self, cypher: str, rows: Iterable[dict[str, Any]], batch_size: int | None = None) -> int: ...

    def read(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


@dataclass
class WriteSummary:
    """What the statements reported: articles and mentions merged, *new* relation evidence written
    (0 when the same documents are written again; ``relations_by_type`` per relationship type), and the
    extracted relations that were not written (``skipped_relations``): ``not_asserted`` (negated /
    speculative), ``unlinked`` (an end with no graph id: such relations are in the ``medkg extract``
    output only) and ``unsupported`` (a type / label combination the graph does not take)."""

    articles: int = 0
    mentions: int = 0
    relations: int = 0
    not_asserted: int = 0
    unlinked: int = 0
    unsupported: int = 0
    relations_by_type: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_relations(self) -> int:
        return self.not_asserted + self.unlinked + self.unsupported

    def line(self) -> str:
        """``written: 5 articles, 15 MENTIONS, 6 new relation evidences (CAUSES 2, TREATS 4) · not written: ...``"""
        types = ", ".join(f"{t} {n}" for t, n in sorted(self.relations_by_type.items()) if n)
        why = [f"{n} {w}" for n, w in ((self.not_asserted, "negated/speculative"),
                                       (self.unlinked, "with an end not linked to a graph id"),
                                       (self.unsupported, "of a type the graph does not take")) if n]
        return (f"written: {self.articles} articles, {self.mentions} MENTIONS, {self.relations} new relation evidences"
                + (f" ({types})" if types else "") + (f" · not written: {', '.join(why)}" if why else ""))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {"articles": self.articles, "mentions_written": self.mentions, "relation_evidence_written": self.relations,
                "relation_evidence_written_by_type": dict(sorted(self.relations_by_type.items())),
                "relations_not_written": self.skipped_relations, "relations_not_asserted": self.not_asserted,
                "relations_unlinked": self.unlinked, "relations_unsupported": self.unsupported}


def _name(texts: list[str]) -> str | None:
    """The first surface form that can be an entity's (indexed) ``name``; ``None`` when every one is
    longer than Neo4j's index key limit (the entity then gets no name from text)."""
    return next((t for t in texts if fits_index(t)), None)


def article_rows(docs: list[Document], extractor: str) -> list[dict[str, Any]]:
    return [{"id": d.id, "title": d.title, "year": d.year, "source": d.source, "extractor": extractor} for d in docs]


def mention_rows(docs: list[Document]) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Per label: one row per (article, entity) with its count; plus prune rows (article, kept ids)."""
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    prune = []
    for d in docs:
        counts: Counter[tuple[str, str]] = Counter()
        texts: dict[tuple[str, str], list[str]] = defaultdict(list)
        for m in d.mentions:
            if m.id and m.label in cypher.MERGE_MENTIONS:
                counts[(m.label, m.id)] += 1
                if m.text not in texts[(m.label, m.id)]:
                    texts[(m.label, m.id)].append(m.text)
        for (label, ident), n in counts.items():
            by_label[label].append({"article": d.id, "id": ident, "name": _name(texts[(label, ident)]), "count": n,
                                    "texts": texts[(label, ident)][:10]})
        prune.append({"article": d.id, "ids": [i for _, i in counts]})
    return by_label, prune


def relation_rows(docs: list[Document], reasons: Counter[str] | None = None
                  ) -> tuple[dict[tuple[str, str, str], list[dict[str, Any]]], int]:
    """Per relation key: one row per asserted relation (its evidence key makes it idempotent), and how many
    relations were not written; ``reasons`` (if given) counts those by why: ``not_asserted``, ``unlinked``
    (checked in this order: a negated relation with an unlinked end counts as not asserted), ``unsupported``."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    skipped = 0
    for d in docs:
        for r in d.relations:
            key = (r.type, r.subject_label, r.object_label)
            why = ("not_asserted" if not r.asserted else "unlinked" if not r.subject or not r.object
                   else "unsupported" if key not in cypher.MERGE_RELATIONS else None)
            if why is not None:  # unlinked: an end with no vocabulary id (unlinked mentions are paired too)
                skipped += 1
                if reasons is not None:
                    reasons[why] += 1
                continue
            ev = r.evidence
            row = {
                "s": r.subject, "o": r.object, "s_name": _name([r.subject_text]), "o_name": _name([r.object_text]),
                "key": ev.key, "pmid": r.doc_id, "sentence": ev.sentence, "score": float(r.score),
                "extractor": f"{ev.extractor}@{ev.extractor_version}",
            }
            kind_attr = KIND_ATTRIBUTE.get(r.type)
            if kind_attr is not None:  # the relation's sub-type, under its type's name (interaction_type, action)
                row[kind_attr] = r.kind
            out[key].append(row)
    return out, skipped


def write_documents(client: WriteClient, documents: Iterable[Document], *, batch_size: int = 500, docs_per_chunk: int = 1000, extractor: str = "medkg.text@0.1.0") -> WriteSummary:
    """Write articles, MENTIONS and evidence-backed relationships, streaming in chunks.

    Args:
        client: a graph client (see :class:`WriteClient`).
        documents: extracted documents (from :func:`ingest.text.pipeline.extract_documents`).
        batch_size: rows per write transaction.
        docs_per_chunk: documents held in memory at once.
        extractor: recorded on each Article.

    Returns:
        Row counts.
    """
    summary = WriteSummary()
    for docs in batched(documents, docs_per_chunk):
        summary.articles += client.write_batches(cypher.MERGE_ARTICLES, article_rows(docs, extractor), batch_size)
        by_label, prune = mention_rows(docs)
        client.write_batches(cypher.PRUNE_MENTIONS, prune, batch_size)
        for label, rows in by_label.items():
            summary.mentions += client.write_batches(cypher.MERGE_MENTIONS[label], rows, batch_size)
        reasons: Counter[str] = Counter()
        rels, _ = relation_rows(docs, reasons)
        summary.not_asserted += reasons["not_asserted"]
        summary.unlinked += reasons["unlinked"]
        summary.unsupported += reasons["unsupported"]
        for key, rows in rels.items():
            n = client.write_batches(cypher.MERGE_RELATIONS[key], rows, batch_size)
            summary.relations += n
            summary.relations_by_type[key[0]] = summary.relations_by_type.get(key[0], 0) + n
    return summary


def relation_evidence(client: WriteClient, subject_id: str, object_id: str, rel_type: str | None = None) -> list[dict[str, Any]]:
    """The evidence behind the relationship(s) from ``subject_id`` to ``object_id``.

    Returns one dict per relationship: ``type``, ``evidence_count``, ``confidence``,
    ``pmids``, ``extractor``, ``sentences``, ``evidence_pmids``, ``evidence_scores``.

    Raises:
        QueryError: ``rel_type`` is not one of the text relationship types.
    """
    keys = [k for k in cypher.RELATION_KEYS if rel_type is None or k[0] == rel_type]
    if not keys:
        raise QueryError(f"unknown relation type {rel_type!r}; expected one of {sorted({k[0] for k in cypher.RELATION_KEYS})}")
    out: list[dict[str, Any]] = []
    for key in keys:
        out.extend(client.read(cypher.READ_EVIDENCE[key], {"subject": subject_id, "object": object_id}))
    return out
