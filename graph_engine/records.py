"""Typed records passed between stages (readers -> writers).

Plain slotted dataclasses (not frozen: a frozen dataclass's ``__init__`` costs
several times more, and loaders create millions of these).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class NodeRecord:
    """One entity or record node.

    Attributes:
        label: a schema label (``Disease``, ``Drug`` ...).
        id: a CURIE such as ``DOID:9352``; unique per label.
        name: preferred name.
        synonyms: other names (used by the full-text index and the NER dictionary).
        xrefs: ids of the same thing in other vocabularies.
        source: provenance tag added to the node's ``sources`` list.
        properties: further scalar properties (snake_case keys).
    """

    label: str
    id: str
    name: str | None = None
    synonyms: tuple[str, ...] = ()
    xrefs: tuple[str, ...] = ()
    source: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The parameter row used by :func:`graph_engine.cypher.merge_nodes`."""
        return {
            "id": self.id,
            "name": self.name,
            "synonyms": list(self.synonyms),
            "xrefs": list(self.xrefs),
            "source": self.source,
            "props": dict(self.properties),
        }


@dataclass(slots=True)
class EdgeRecord:
    """One directed relationship between two nodes identified by label and id.

    Attributes:
        type: a schema relationship type (``TREATS`` ...).
        source_label, source_id: the start node.
        target_label, target_id: the end node.
        source: provenance tag added to the relationship's ``sources`` list.
        properties: further scalar properties (snake_case keys).
    """

    type: str
    source_label: str
    source_id: str
    target_label: str
    target_id: str
    source: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The parameter row used by :func:`graph_engine.cypher.merge_relationships`."""
        return {
            "s": self.source_id,
            "t": self.target_id,
            "source": self.source,
            "props": dict(self.properties),
        }
