"""Small-molecule structures with RDKit: parsing, canonical SMILES, InChIKey,
Morgan fingerprints, Tanimoto similarity, and the structure input file reader.

Shared by ``ingest`` (Drug ``smiles`` / ``inchikey``), ``models`` (toxicity,
side effects) and ``recommend`` (structure similarity as a content signal).
RDKit is imported lazily so the rest of graph_engine does not need it.

Input files (``read_structures``): CSV with a header or JSONL, fields ``id``,
``smiles`` and optional ``name``. Line numbers are 1-based physical lines (the
CSV header is line 1). ``read == len(structures) + len(rejected)`` always.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from graph_engine.errors import IngestError

#: SIDER / MedDRA preferred terms naming QT prolongation or torsade de pointes (graph ids of SideEffect
#: nodes); shared by the toxicity model's graph evidence and the patient safety filter.
QT_SIDE_EFFECTS = frozenset({
    "UMLS:C0151878",  # Electrocardiogram QT prolonged
    "UMLS:C0855333",  # Electrocardiogram QT corrected interval prolonged
    "UMLS:C0040479",  # Torsade de pointes
    "UMLS:C0023976",  # Long QT syndrome
})

MORGAN_RADIUS = 2
MORGAN_BITS = 2048


def _rdkit() -> Any:
    try:
        from rdkit import Chem, RDLogger
    except ImportError as e:  # pragma: no cover - rdkit is a declared dependency
        raise IngestError("RDKit is not installed; pip install -e '.[dev]' brings it (rdkit via admet-ai)") from e
    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]
    return Chem


@dataclass(frozen=True)
class Structure:
    """One parsed compound: ``smiles`` is RDKit's canonical (isomeric) SMILES."""

    id: str
    smiles: str
    inchikey: str | None
    name: str | None = None
    line: int | None = None
    input_smiles: str | None = None


@dataclass(frozen=True)
class Rejected:
    line: int
    id: str | None
    reason: str


@dataclass
class StructureReport:
    """What :func:`read_structures` read: ``read == len(structures) + len(rejected)``."""

    read: int = 0
    structures: list[Structure] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def mol_from_smiles(smiles: str) -> Any:
    """An RDKit ``Mol`` or ``None`` when RDKit cannot parse or sanitise ``smiles``."""
    Chem = _rdkit()
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    return Chem.MolFromSmiles(smiles.strip())


def standardize(smiles: str) -> tuple[str, str | None]:
    """``(canonical_smiles, inchikey)``; raises ``ValueError`` naming why the SMILES is unusable.

    ``inchikey`` is ``None`` for the few valid structures InChI cannot represent (dative-bond
    organometallics such as oxaliplatin)."""
    Chem = _rdkit()
    if not isinstance(smiles, str) or not smiles.strip():
        raise ValueError("empty SMILES")
    mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        raise ValueError(f"RDKit cannot parse SMILES {smiles.strip()[:80]!r}")
    if mol.GetNumAtoms() == 0:
        raise ValueError("SMILES has no atoms")
    key = Chem.MolToInchiKey(mol) or None
    return Chem.MolToSmiles(mol), key


def structure(id_: str, smiles: str, name: str | None = None, line: int | None = None) -> Structure:
    canon, key = standardize(smiles)
    return Structure(id=id_, smiles=canon, inchikey=key, name=name, line=line, input_smiles=smiles)


def _records(path: Path) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, record, parse error) per data line of a CSV (header) or JSONL file."""
    text_suffix = path.suffix.lower()
    with open(path, encoding="utf-8", newline="") as fh:
        if text_suffix in (".jsonl", ".ndjson", ".json"):
            for i, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw)
                except json.JSONDecodeError as e:
                    yield i, None, f"not valid JSON ({e.msg})"
                    continue
                if not isinstance(rec, dict):
                    yield i, None, "expected a JSON object with id and smiles"
                    continue
                yield i, rec, None
        else:
            dialect = "excel-tab" if text_suffix in (".tsv", ".tab") else "excel"
            reader = csv.DictReader(fh, dialect=dialect)
            fields = [f.strip().lower() for f in (reader.fieldnames or [])]
            missing = {"id", "smiles"} - set(fields)
            if missing:
                raise IngestError(f"header must have columns id and smiles (missing: {', '.join(sorted(missing))})",
                                  str(path), 1)
            for row in reader:
                line = reader.line_num
                yield line, {k.strip().lower(): v for k, v in row.items() if k is not None}, None


def read_structures(path: Path | str, on_error: str = "fail") -> StructureReport:
    """Read and standardise a structure file.

    Args:
        path: CSV/TSV with a header, or JSONL; fields ``id``, ``smiles``, optional ``name``.
        on_error: ``fail`` raises :class:`IngestError` naming the file and line at the first bad
            record; ``skip`` records it in ``rejected`` with the reason and goes on.
    """
    if on_error not in ("fail", "skip"):
        raise IngestError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    path = Path(path)
    if not path.is_file():
        raise IngestError("file not found", str(path))
    report = StructureReport()
    seen: dict[str, int] = {}
    for line, rec, err in _records(path):
        report.read += 1
        rid = None
        reason = err
        if rec is not None:
            rid = str(rec.get("id") or "").strip() or None
            smiles = rec.get("smiles")
            if rid is None:
                reason = "missing id"
            elif rid in seen:
                reason = f"duplicate id {rid!r} (first on line {seen[rid]})"
            else:
                try:
                    name = rec.get("name")
                    s = structure(rid, smiles if isinstance(smiles, str) else "", (str(name).strip() or None) if name else None, line)
                except ValueError as e:
                    reason = f"id {rid!r}: invalid SMILES: {e}"
                else:
                    seen[rid] = line
                    report.structures.append(s)
                    continue
        if on_error == "fail":
            raise IngestError(reason or "bad record", str(path), line)
        report.rejected.append(Rejected(line, rid, reason or "bad record"))
    assert report.read == len(report.structures) + len(report.rejected)
    return report


# ---------------------------------------------------------------------- fingerprints
def morgan_matrix(smiles: Sequence[str], radius: int = MORGAN_RADIUS, n_bits: int = MORGAN_BITS) -> np.ndarray:
    """``(n, n_bits)`` uint8 Morgan (ECFP4 by default) bit matrix; an unparsable SMILES gives a zero row."""
    _rdkit()
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    out = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    for i, s in enumerate(smiles):
        mol = mol_from_smiles(s)
        if mol is None:
            continue
        DataStructs.ConvertToNumpyArray(gen.GetFingerprint(mol), out[i])
    return out


def tanimoto_matrix(a: np.ndarray, b: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Tanimoto similarity of every row of bit matrix ``a`` to every row of ``b`` (float32).

    Two all-zero rows have similarity 0 (not NaN).
    """
    a32 = a.astype(np.float32, copy=False)
    b32 = b.astype(np.float32, copy=False)
    na = a32.sum(1)
    nb = b32.sum(1)
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.float32)
    for s in range(0, a.shape[0], chunk):
        inter = a32[s : s + chunk] @ b32.T
        union = na[s : s + chunk, None] + nb[None, :] - inter
        out[s : s + chunk] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


# ---------------------------------------------------------------------- reference structures
def admet_ai_dir() -> Path:
    """admet-ai's package folder, found without importing it (its import pulls chemprop and lightning)."""
    import importlib.util

    spec = importlib.util.find_spec("admet_ai")
    if spec is None or not spec.submodule_search_locations:
        raise IngestError("admet-ai is not installed; pip install -e '.[dev]' brings it")
    return Path(list(spec.submodule_search_locations)[0])


def drugbank_approved_path() -> Path:
    """admet-ai's ``resources/data/drugbank_approved.csv`` (2,845 approved drugs; DrugBank open structures, CC0)."""
    return admet_ai_dir() / "resources" / "data" / "drugbank_approved.csv"


def read_drugbank_approved(path: Path | str | None = None) -> list[tuple[int, str, str, str | None]]:
    """``(line, DRUGBANK:id, smiles, name)`` rows of the DrugBank approved reference set (unparsed)."""
    out = []
    with open(path or drugbank_approved_path(), encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            rid = (row.get("id") or "").strip()
            out.append((reader.line_num, "DRUGBANK:" + rid, row.get("smiles") or "", row.get("name") or None))
    return out
