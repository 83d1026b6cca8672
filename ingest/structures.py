"""Drug structures in the graph: ``smiles`` (RDKit canonical) and ``inchikey`` on Drug nodes.

* :func:`load_structures` — a user's own compounds from a CSV/JSONL file (``id``, ``smiles``,
  optional ``name``): Drug nodes are created or updated (MERGE on ``id``).
* :func:`attach_drugbank_structures` — structures for the graph's existing DrugBank Drug nodes
  (``DRUGBANK:DBxxxxx``, e.g. Hetionet's compounds) from admet-ai's
  ``resources/data/drugbank_approved.csv`` (DrugBank open structures, CC0; 2,845 approved drugs).
  Only nodes already in the graph are updated; none is created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_engine.chem import Rejected, Structure, StructureReport, read_drugbank_approved, read_structures, structure
from graph_engine.records import NodeRecord


@dataclass
class StructureSummary:
    read: int
    written: int
    rejected: list[Rejected] = field(default_factory=list)
    not_in_graph: int = 0

    def render(self) -> str:
        extra = f", not in the graph {self.not_in_graph}" if self.not_in_graph else ""
        return f"read {self.read}, written {self.written}, rejected {len(self.rejected)}{extra}"


def load_structures(client: Any, path: Path | str, on_error: str = "fail", source: str | None = None) -> StructureSummary:
    """Read, standardise and upsert structures as Drug nodes. Nothing is written when the file has a
    bad record under ``on_error='fail'`` (the whole file is parsed first)."""
    report: StructureReport = read_structures(path, on_error=on_error)
    tag = source or f"structures:{Path(path).name}"
    records = [NodeRecord("Drug", s.id, s.name, source=tag,
                          properties={"smiles": s.smiles, "inchikey": s.inchikey}) for s in report.structures]
    written = client.upsert_nodes(records) if records else 0
    return StructureSummary(report.read, written, report.rejected)


def drugbank_structures(path: Path | str | None = None,
                        only: set[str] | None = None) -> tuple[int, list[Structure], list[Rejected]]:
    """Standardised structures of admet-ai's DrugBank approved set (ids ``DRUGBANK:DB…``); ``only``: these ids."""
    rows = read_drugbank_approved(path)
    out: list[Structure] = []
    rejected: list[Rejected] = []
    for line, rid, smiles, name in rows:
        if only is not None and rid not in only:
            continue
        try:
            out.append(structure(rid, smiles, name, line))
        except ValueError as e:
            rejected.append(Rejected(line, rid, str(e)))
    return len(rows), out, rejected


def attach_drugbank_structures(client: Any, path: Path | str | None = None) -> StructureSummary:
    """Set ``smiles`` / ``inchikey`` on the graph's existing DrugBank Drug nodes."""
    ids = [rid for _, rid, _, _ in read_drugbank_approved(path)]
    present = set(ids) - client.missing_ids("Drug", ids)  # standardise only what the graph has
    read, structs, rejected = drugbank_structures(path, only=present)
    rows = [{"id": s.id, "smiles": s.smiles, "inchikey": s.inchikey} for s in structs]
    written = client.write_node_properties("Drug", rows) if rows else 0
    return StructureSummary(read, written, rejected, not_in_graph=read - len(structs) - len(rejected))
