"""graph_engine: the Neo4j layer of medkg (settings, managed server, schema,
batched writes, read API, export to sparse matrices, scoring and embeddings).

Imports nothing else from the project.
"""

from graph_engine.errors import (
    ConfigError,
    IngestError,
    MedkgError,
    ModelError,
    QueryError,
    RecommendError,
    SchemaError,
    ScoringError,
    ServerError,
)
from graph_engine.connect import open_client
from graph_engine.records import EdgeRecord, NodeRecord
from graph_engine.schema import Schema, default_schema
from graph_engine.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "EdgeRecord",
    "IngestError",
    "MedkgError",
    "ModelError",
    "NodeRecord",
    "QueryError",
    "RecommendError",
    "Schema",
    "SchemaError",
    "ScoringError",
    "ServerError",
    "Settings",
    "default_schema",
    "open_client",
]
