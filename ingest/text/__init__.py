"""Text extraction: readers, the spaCy pipeline, relations, training and the Neo4j writer.

Public API::

    from ingest.text import (
        read_documents, ReadStats,                      # streaming readers
        load_pipeline, extract_documents, extract_text,  # the pipeline
        extract_to_jsonl,                                # `medkg extract`
        Document, Mention, Relation, Evidence,           # typed records
        Vocabulary, build_vocabulary,                    # the dictionary
        train_ner, evaluate_ner,                         # `medkg ner train|evaluate`
    )

See ``docs/extraction.md``.
"""

from __future__ import annotations

from ingest.text.pipeline import extract_documents, extract_text, extract_to_jsonl, load_pipeline
from ingest.text.readers import FORMATS, ReadStats, read_documents
from ingest.text.records import Document, Evidence, GoldRelation, Mention, Relation
from ingest.text.evaluation import evaluate_ner
from ingest.text.training import train_ner
from ingest.text.vocabulary import Vocabulary, VocabEntry, build_vocabulary

__all__ = [
    "FORMATS",
    "Document",
    "Evidence",
    "GoldRelation",
    "Mention",
    "ReadStats",
    "Relation",
    "VocabEntry",
    "Vocabulary",
    "build_vocabulary",
    "evaluate_ner",
    "extract_documents",
    "extract_text",
    "extract_to_jsonl",
    "load_pipeline",
    "read_documents",
    "train_ner",
]
