"""The graph schema: which labels and relationship types may appear in Cypher.

Labels and relationship types cannot be Cypher parameters, so they are the
only names medkg ever writes into query text. They are checked here, against
an explicit allow-list and a strict identifier pattern, before any query is
built. Values always travel as parameters.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from graph_engine.errors import SchemaError

_LABEL_RE = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")
_REL_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,62}$")
#: longest property name (a Cypher identifier medkg writes into query text)
MAX_PROPERTY_NAME = 63
_PROP_RE = re.compile(rf"^[a-z_][a-z0-9_]{{0,{MAX_PROPERTY_NAME - 1}}}$")
_INDEX_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: this package's folder, for its shipped files. Not importlib.resources.files("graph_engine"): with an
#: editable install a plain folder of the same name in the working directory (models/, ingest/ ...)
#: becomes that package's namespace portion and would be searched instead. Each top-level package does this.
_PACKAGE_DIR = Path(__file__).resolve().parent


def check_property_key(key: str) -> str:
    """Return ``key`` if it is a safe property name (``snake_case``), else raise SchemaError."""
    if not isinstance(key, str) or not _PROP_RE.match(key):
        raise SchemaError(f"invalid property name {key!r}: expected snake_case matching {_PROP_RE.pattern}")
    return key


def check_index_name(name: str) -> str:
    if not isinstance(name, str) or not _INDEX_RE.match(name):
        raise SchemaError(f"invalid index name {name!r}: expected snake_case matching {_INDEX_RE.pattern}")
    return name


@dataclass(frozen=True)
class Schema:
    """Allowed labels and relationship types.

    Attributes:
        entity_labels: labels of entity nodes (CURIE ``id``, ``name``, ``synonyms``).
        record_labels: other labels whose nodes have a unique ``id``.
        relationship_types: allowed relationship types (UPPER_SNAKE_CASE).
    """

    entity_labels: tuple[str, ...]
    record_labels: tuple[str, ...]
    relationship_types: tuple[str, ...]

    def __post_init__(self) -> None:
        for label in self.entity_labels + self.record_labels:
            if not _LABEL_RE.match(label):
                raise SchemaError(f"schema label {label!r} is not PascalCase ({_LABEL_RE.pattern})")
        for rel in self.relationship_types:
            if not _REL_RE.match(rel):
                raise SchemaError(f"schema relationship type {rel!r} is not UPPER_SNAKE_CASE")
        if len(set(self.labels)) != len(self.labels):
            raise SchemaError("schema labels must be unique")

    @property
    def labels(self) -> tuple[str, ...]:
        return self.entity_labels + self.record_labels

    def check_label(self, label: str) -> str:
        """Return ``label`` if the schema allows it, else raise SchemaError."""
        if label not in self.labels:
            raise SchemaError(f"unknown label {label!r}; the schema allows: {', '.join(self.labels)}")
        return label

    def check_entity_label(self, label: str) -> str:
        if label not in self.entity_labels:
            raise SchemaError(
                f"{label!r} is not an entity label; entity labels: {', '.join(self.entity_labels)}"
            )
        return label

    def check_relationship_type(self, rel_type: str) -> str:
        """Return ``rel_type`` if the schema allows it, else raise SchemaError."""
        if rel_type not in self.relationship_types:
            raise SchemaError(
                f"unknown relationship type {rel_type!r}; the schema allows: {', '.join(self.relationship_types)}"
            )
        return rel_type

    def extend(
        self,
        entity_labels: Iterable[str] = (),
        record_labels: Iterable[str] = (),
        relationship_types: Iterable[str] = (),
    ) -> "Schema":
        """Return a new schema with more names (existing ones are kept, order preserved)."""

        def merged(old: tuple[str, ...], new: Iterable[str]) -> tuple[str, ...]:
            return old + tuple(n for n in dict.fromkeys(new) if n not in old)

        return Schema(
            merged(self.entity_labels, entity_labels),
            merged(self.record_labels, record_labels),
            merged(self.relationship_types, relationship_types),
        )


@lru_cache(maxsize=1)
def default_schema() -> Schema:
    """The schema shipped with medkg (``graph_engine/schema.toml``)."""
    text = _PACKAGE_DIR.joinpath("schema.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return Schema(
        entity_labels=tuple(data["labels"]["entities"]),
        record_labels=tuple(data["labels"]["records"]),
        relationship_types=tuple(data["relationships"]["types"]),
    )
