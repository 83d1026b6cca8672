"""Bulk first loads through ``neo4j-admin database import full``.

:class:`BulkSink` receives the same validated :class:`NodeRecord` /
:class:`EdgeRecord` batches as the online writer, but appends them to
neo4j-admin CSV files (one per label and per relationship triple) instead of
sending them to a server. :func:`bulk_load` then stops the managed server,
imports (replacing the database), restarts it and bootstraps the schema.

The database must be empty (a first load): the importer rebuilds it from the
files alone. Later, incremental loads use the online, idempotent path.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, TextIO

from graph_engine.errors import IngestError
from graph_engine.records import EdgeRecord, NodeRecord
from graph_engine.schema import Schema, check_property_key, default_schema

ARRAY_DELIMITER = "\u001f"  # unit separator: never part of a name


def _csv_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, (list, tuple)):
        return "string[]"
    return "string"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ARRAY_DELIMITER.join(str(v) for v in value)
    return str(value)


@dataclass
class _File:
    path: Path
    fh: TextIO
    writer: Any
    prop_keys: tuple[str, ...]


@dataclass
class BulkSink:
    """Collects records into neo4j-admin import CSVs (duck-types the writer side of GraphClient)."""

    directory: Path
    schema: Schema = field(default_factory=default_schema)
    batch_size: int = 50000
    node_files: dict[str, _File] = field(default_factory=dict)
    edge_files: dict[tuple[str, str, str], _File] = field(default_factory=dict)
    #: a written value holds a line break (the import then needs ``--multiline-fields=true``)
    multiline: bool = False

    def missing_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        # the target database is empty: anything not defined in this load is missing
        return set(ids)

    def column_writer(self) -> "BulkSink":
        return self

    def missing(self, label: str, ids: Iterable[str], known: set[str] | None = None) -> set[str]:
        """Ids not defined in this load (the target database is empty)."""
        return set(ids) - (known or set())

    def write(self, key: tuple[str, str, str], s_ids: list[str], t_ids: list[str], source: str | None) -> int:
        """Column form of :meth:`upsert_relationships` for rows without properties."""
        f = self.edge_files.get(key)
        if f is None:
            self.schema.check_relationship_type(key[1])
            self.schema.check_label(key[0])
            self.schema.check_label(key[2])
            header = [f":START_ID({key[0]})", f":END_ID({key[2]})", "sources:string[]"]
            f = self.edge_files[key] = self._open(f"rels_{'_'.join(key)}.csv", header, ())
        elif f.prop_keys:
            raise IngestError(f"bulk import needs the same property columns for every {key} relationship")
        f.writer.writerows(zip(s_ids, t_ids, itertools.repeat(source or "")))
        return len(s_ids)

    def _open(self, name: str, header: list[str], prop_keys: tuple[str, ...]) -> _File:
        path = self.directory / name
        fh = open(path, "w", encoding="utf-8", newline="")
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(header)
        return _File(path, fh, writer, prop_keys)

    def upsert_nodes(self, records: list[NodeRecord], batch_size: int | None = None) -> int:
        for rec in records:
            self.schema.check_label(rec.label)
            f = self.node_files.get(rec.label)
            keys = tuple(sorted(rec.properties))
            if f is None:
                header = [f"id:ID({rec.label})", "name", "synonyms:string[]", "xrefs:string[]", "sources:string[]"]
                header += [f"{check_property_key(k)}:{_csv_type(rec.properties[k])}" for k in keys]
                f = self.node_files[rec.label] = self._open(f"nodes_{rec.label}.csv", header, keys)
            elif keys != f.prop_keys:
                raise IngestError(
                    f"bulk import needs the same property columns for every {rec.label} node; node {rec.id!r} has "
                    f"{list(keys)}, earlier ones {list(f.prop_keys)} (use the online path for ragged properties)"
                )
            row = [rec.id, _cell(rec.name), _cell(rec.synonyms), _cell(rec.xrefs),
                   _cell([rec.source] if rec.source else []), *(_cell(rec.properties[k]) for k in keys)]
            self._note_line_breaks(row)
            f.writer.writerow(row)
        return len(records)

    def upsert_relationships(self, records: list[EdgeRecord], batch_size: int | None = None) -> int:
        for rec in records:
            key = (rec.source_label, rec.type, rec.target_label)
            f = self.edge_files.get(key)
            keys = tuple(sorted(rec.properties))
            if f is None:
                self.schema.check_relationship_type(rec.type)
                header = [f":START_ID({rec.source_label})", f":END_ID({rec.target_label})", "sources:string[]"]
                header += [f"{check_property_key(k)}:{_csv_type(rec.properties[k])}" for k in keys]
                f = self.edge_files[key] = self._open(f"rels_{'_'.join(key)}.csv", header, keys)
            elif keys != f.prop_keys:
                raise IngestError(f"bulk import needs the same property columns for every {key} relationship")
            if keys:
                row = [rec.source_id, rec.target_id, rec.source or "", *(_cell(rec.properties[k]) for k in keys)]
                self._note_line_breaks(row)
                f.writer.writerow(row)
            else:
                f.writer.writerow((rec.source_id, rec.target_id, rec.source or ""))
        return len(records)

    def _note_line_breaks(self, row: list[str]) -> None:
        if not self.multiline and any("\n" in c or "\r" in c for c in row):
            self.multiline = True

    def close(self) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
        """Close the files; returns ``(label, path)`` and ``(type, path)`` lists for the importer."""
        for f in [*self.node_files.values(), *self.edge_files.values()]:
            f.fh.close()
        return ([(label, f.path) for label, f in self.node_files.items()],
                [(key[1], f.path) for key, f in self.edge_files.items()])


def temp_directory(base: Path | None = None) -> tempfile.TemporaryDirectory:
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="medkg-bulk-", dir=base)
