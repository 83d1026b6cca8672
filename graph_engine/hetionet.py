"""The one Hetionet v1.0 mapping (``graph_engine/mappings/hetionet.toml``, data, not code).

Used by the ingest loader (``ingest.curated.HetionetFormat``, into Neo4j) and by
the Neo4j-free reader ``recommend.hetionet_tables.read_hetionet``, so both
give the same graph: the same labels, CURIEs and relationship types.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

#: this package's folder (see graph_engine.schema._PACKAGE_DIR)
_PACKAGE_DIR = Path(__file__).resolve().parent


class MappingError(ValueError):
    """A Hetionet id or metaedge the mapping does not cover (the caller adds file and line)."""


@dataclass
class HetionetMapping:
    """Kinds -> (label, CURIE rules) and metaedges -> (source kind, type, target kind)."""

    source: str
    kinds: dict[str, tuple[str, list[tuple[re.Pattern[str], str]]]]
    metaedges: dict[str, tuple[str, str, str]]
    _cache: dict[str, tuple[str, str, str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_toml(cls, text: str) -> "HetionetMapping":
        data = tomllib.loads(text)
        kinds = {kind: (spec["label"], [(re.compile(r["match"]), r["template"]) for r in spec["curie"]])
                 for kind, spec in data["kinds"].items()}
        metaedges = {k: (str(v[0]), str(v[1]), str(v[2])) for k, v in data["metaedges"].items()}
        return cls(data["source"], kinds, metaedges)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "HetionetMapping":
        """The mapping in ``path``, or the shipped one (cached) when ``path`` is None."""
        if path is None:
            return default_mapping()
        return cls.from_toml(Path(path).read_text(encoding="utf-8"))

    def curie(self, hetionet_id: str) -> tuple[str, str, str]:
        """``Kind::local`` -> ``(kind, label, CURIE)``; raises :class:`MappingError` if unknown.

        Memoised: a graph has far fewer distinct ids than edge endpoints.
        """
        hit = self._cache.get(hetionet_id)
        if hit is None:
            hit = self._cache[hetionet_id] = self._curie(hetionet_id)
        return hit

    def _curie(self, hetionet_id: str) -> tuple[str, str, str]:
        kind, sep, local = hetionet_id.partition("::")
        if not sep or not local:
            raise MappingError(f"id {hetionet_id!r} is not of the form Kind::identifier")
        if kind not in self.kinds:
            raise MappingError(f"unknown kind {kind!r} in id {hetionet_id!r}; known kinds: {', '.join(sorted(self.kinds))}")
        label, rules = self.kinds[kind]
        for pattern, template in rules:
            if pattern.search(local):
                return kind, label, template.format(id=local)
        raise MappingError(f"{kind} id {local!r} matches no CURIE rule in the Hetionet mapping")

    def metaedge(self, abbreviation: str) -> tuple[str, str, str]:
        """``CtD`` -> ``("Compound", "TREATS", "Disease")``; raises :class:`MappingError` if unknown."""
        try:
            return self.metaedges[abbreviation]
        except KeyError:
            raise MappingError(f"unknown metaedge {abbreviation!r}; known: {', '.join(sorted(self.metaedges))}") from None


@lru_cache(maxsize=1)
def default_mapping() -> HetionetMapping:
    """The shipped mapping."""
    text = _PACKAGE_DIR.joinpath("mappings", "hetionet.toml").read_text(encoding="utf-8")
    return HetionetMapping.from_toml(text)
