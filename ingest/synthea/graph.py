"""``medkg ingest patients --format synthea``: a Synthea export into the graph, PHI-free.

Graph::

    (:Patient {id: "SYN:<keyed hash>", synthetic: true, birth_year, sex, death_year?})
      -[:HAS_CONDITION {start, stop, code, codes, episodes}]->(:Disease)
      -[:TAKES {start, stop, code, codes, reason_code, reason_codes, prescriptions}]->(:Drug)
      -[:ALLERGIC_TO {start, stop, code}]->(:Drug)        # drug allergies (RxNorm)
      -[:ALLERGIC_TO {start, stop, code}]->(:Allergen)    # food / environment allergens (SNOMED CT)

One relationship per patient and target: ``start`` is the first onset / first
prescription, ``stop`` the last end (null while any episode is still open),
``code`` the first source code and ``codes`` all of them. Dates are ISO
``YYYY-MM-DD`` strings. Linking: :mod:`ingest.synthea.mapping` (graph Disease /
Drug nodes by xref or name; linked nodes gain ``SNOMEDCT:`` / ``RXNORM:`` xrefs;
others become ``SNOMEDCT:<code>`` Disease and ``RXNORM-IN:<name>`` Drug nodes with
``sources: ["synthea"]``). Everything is upserted (MERGE + SET), so importing
the same export twice changes nothing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graph_engine.client import GraphClient
from graph_engine.errors import IngestError
from graph_engine.phi import PHIError, check_patient_id
from graph_engine.records import EdgeRecord, NodeRecord
from graph_engine.settings import Settings
from ingest.synthea.mapping import (
    Linker,
    coverage_line,
    distinct_codes,
    ingredients,
    strip_tag,
    unlinked_disease_id,
)
from graph_engine.synthea import (EVENT_COLUMNS, PATIENT_COLUMNS, FileReport, Pseudonymizer, SyntheaTables, load_key,
                                   read_synthea)

SOURCE = "synthea"
ALLERGEN = "Allergen"
_GRAPH_FILES = ("patients.csv", "conditions.csv", "medications.csv", "allergies.csv")


@dataclass
class PatientImportSummary:
    """Per-file accounting plus what the graph writes and the mapping coverage."""

    files: dict[str, FileReport]
    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    coverage: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    columns_not_read: dict[str, int] = field(default_factory=dict)  # file -> columns outside the allow-list
    seconds: float = 0.0

    @property
    def read(self) -> int:
        return sum(r.read for r in self.files.values())

    @property
    def written(self) -> int:
        return sum(r.written for r in self.files.values())

    @property
    def rejected(self) -> int:
        return sum(r.rejected for r in self.files.values())

    def render(self) -> str:
        lines = [r.render() for r in self.files.values()]
        if self.ignored:
            lines.append("present but not modelled in the graph: " + ", ".join(self.ignored))
        if any(self.columns_not_read.values()):
            lines.append("columns outside the allow-list, never read: " + ", ".join(
                f"{f} {n}" for f, n in self.columns_not_read.items() if n))
        lines += self.coverage
        lines.append("graph upserts: " + ", ".join(f"{k} {v}" for k, v in {**self.nodes, **self.relationships}.items()))
        lines.append(f"read {self.read} = written {self.written} + rejected {self.rejected} in {self.seconds:.1f}s")
        return "\n".join(lines)


def graph_linker(client: GraphClient) -> Linker:
    """A :class:`Linker` over the graph's Disease and Drug nodes."""
    rows = client.read(
        "MATCH (n:Disease) RETURN n.id AS id, 'Disease' AS label, n.name AS name, n.synonyms AS synonyms, n.xrefs AS xrefs "
        "UNION ALL MATCH (n:Drug) RETURN n.id AS id, 'Drug' AS label, n.name AS name, n.synonyms AS synonyms, n.xrefs AS xrefs")
    return Linker.from_nodes(rows)


def _iso(v: Any) -> str | None:
    return None if pd.isna(v) else str(np.datetime64(v, "D"))


def _unique(values: pd.Series) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _aggregate(df: pd.DataFrame, keys: list[str], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per ``keys``: first start, last stop (NaT while any is open), unique codes, count."""
    d = df.assign(open=df["stop"].isna()).sort_values([*keys, "start"], kind="stable")
    spec: dict[str, Any] = {"start": ("start", "min"), "stop": ("stop", "max"), "open": ("open", "any"),
                            "codes": ("code", _unique), "n": ("code", "size")}
    for col in extra:
        spec[col] = (col, _unique)
    out = d.groupby(keys, sort=False).agg(**spec).reset_index()
    out["start"] = pd.Series([_iso(v) for v in out["start"]], dtype=object)
    out["stop"] = pd.Series([None if o else _iso(v) for v, o in zip(out["stop"], out["open"])], dtype=object)
    return out


def build_records(tables: SyntheaTables, linker: Linker) -> tuple[list[NodeRecord], list[EdgeRecord], list[str]]:
    """Node and edge records for ``tables`` plus mapping-coverage lines (pure; no graph access)."""
    nodes: list[NodeRecord] = []
    edges: list[EdgeRecord] = []
    cov: list[str] = []
    for n, row in enumerate(tables.patients.itertuples(index=False), start=1):
        try:  # the keyed pseudonyms always pass; a custom pseudonym function is held to the same rule
            check_patient_id(row.pid, what=f"pseudonym of patient {n} kept from patients.csv")
        except PHIError as e:
            raise IngestError(str(e), str(tables.directory / "patients.csv")) from None
        props: dict[str, Any] = {"synthetic": True, "birth_year": int(row.birth_year), "sex": str(row.sex)}
        if not np.isnan(row.death_year):
            props["death_year"] = int(row.death_year)
        nodes.append(NodeRecord("Patient", row.pid, source=SOURCE, properties=props))

    # ---- conditions -> Disease
    cond = tables.table("conditions")
    names = distinct_codes(cond["code"], cond["description"])
    disease_of: dict[str, str] = {}
    linked = 0
    for code, desc in names.items():
        gid = linker.condition(code, desc)
        if gid:
            linked += 1
            nodes.append(NodeRecord("Disease", gid, xrefs=(f"SNOMEDCT:{code}",), source=SOURCE))
        else:
            gid = unlinked_disease_id(code)
            nodes.append(NodeRecord("Disease", gid, name=strip_tag(desc), source=SOURCE,
                                    properties={"snomed_tag": desc[len(strip_tag(desc)):].strip(" ()") or None}))
        disease_of[code] = gid
    n_linked_rows = int(cond["code"].map(lambda c: not disease_of[c].startswith("SNOMEDCT:")).sum()) if len(cond) else 0
    cov.append(coverage_line("conditions (SNOMED CT -> Disease)", linked, len(names), n_linked_rows, len(cond)))
    if len(cond):
        c = _aggregate(cond.assign(target=cond["code"].map(disease_of)), ["pid", "target"])
        for r in c.itertuples(index=False):
            edges.append(EdgeRecord("HAS_CONDITION", "Patient", r.pid, "Disease", r.target, source=SOURCE, properties={
                "start": r.start, "stop": r.stop, "code": r.codes[0], "codes": r.codes, "episodes": int(r.n)}))

    # ---- medications -> Drug ingredients
    med = tables.table("medications")
    products = distinct_codes(med["code"], med["description"])
    drugs_of: dict[str, list[str]] = {}
    drug_nodes: dict[str, NodeRecord] = {}
    lk_products = 0
    n_ing = n_ing_linked = 0
    for code, desc in products.items():
        parts = linker.medication(code, desc)
        drugs_of[code] = list(dict.fromkeys(p[0] for p in parts))
        lk_products += all(p[2] for p in parts)
        for gid, name, ok in parts:
            n_ing += 1
            n_ing_linked += ok
            rec = drug_nodes.get(gid)
            if rec is None:
                rec = drug_nodes[gid] = NodeRecord("Drug", gid, name=None if ok else name, source=SOURCE)
            if f"RXNORM:{code}" not in rec.xrefs:
                rec.xrefs = (*rec.xrefs, f"RXNORM:{code}")
    nodes += drug_nodes.values()
    rows_linked = int(med["code"].map(lambda c: all(not d.startswith("RXNORM-IN:") for d in drugs_of[c])).sum()) if len(med) else 0
    cov.append(coverage_line("medications (RxNorm products, all ingredients linked)", lk_products, len(products),
                             rows_linked, len(med)))
    cov.append(f"  ingredients: {n_ing_linked}/{n_ing} linked to graph Drug nodes")
    if len(med):
        m = _aggregate(med.assign(target=med["code"].map(drugs_of)).explode("target"), ["pid", "target"],
                       ("reason_code",))
        for r in m.itertuples(index=False):
            reasons = r.reason_code
            edges.append(EdgeRecord("TAKES", "Patient", r.pid, "Drug", r.target, source=SOURCE, properties={
                "start": r.start, "stop": r.stop, "code": r.codes[0], "codes": r.codes,
                "reason_code": reasons[0] if reasons else None, "reason_codes": reasons,
                "prescriptions": int(r.n)}))

    # ---- allergies -> Drug (RxNorm) / Allergen (SNOMED CT)
    alg = tables.table("allergies")
    if len(alg):
        system = alg["system"] if "system" in alg else pd.Series("", index=alg.index)
        allergen_nodes: dict[str, NodeRecord] = {}
        targets: list[tuple[str, str]] = []
        for code, desc, sysname in zip(alg["code"], alg["description"], system):
            if str(sysname).lower() == "rxnorm":
                parts = linker.medication(code, desc)
                for gid, name, ok in parts:
                    if gid not in drug_nodes:
                        drug_nodes[gid] = NodeRecord("Drug", gid, name=None if ok else name, source=SOURCE)
                        nodes.append(drug_nodes[gid])
                targets.append(("Drug", parts[0][0]))
            else:
                aid = f"SNOMEDCT:{code}"
                allergen_nodes.setdefault(aid, NodeRecord(ALLERGEN, aid, name=strip_tag(desc), source=SOURCE))
                targets.append((ALLERGEN, aid))
        nodes += allergen_nodes.values()
        a = alg.assign(tlabel=[t[0] for t in targets], target=[t[1] for t in targets])
        for r in _aggregate(a, ["pid", "tlabel", "target"]).itertuples(index=False):
            edges.append(EdgeRecord("ALLERGIC_TO", "Patient", r.pid, r.tlabel, r.target, source=SOURCE,
                                    properties={"start": r.start, "stop": r.stop, "code": r.codes[0]}))
    return nodes, edges, cov


def import_synthea(client: GraphClient, directory: str | Path, settings: Settings | None = None,
                   batch_size: int | None = None, progress: bool = True) -> PatientImportSummary:
    """Read, pseudonymise, link and upsert a Synthea export (see the module docstring).

    All input is read and checked before the first write, so bad input leaves the graph as it was.

    Raises:
        IngestError: missing folder / required file / column, duplicate patient ids.
    """
    t0 = time.perf_counter()
    settings = settings or Settings.load()
    pseudo = Pseudonymizer(load_key(settings))
    tables = read_synthea(directory, pseudo, files=_GRAPH_FILES)
    present = [f.name for f in sorted(Path(directory).glob("*.csv")) if f.name not in _GRAPH_FILES]
    linker = graph_linker(client)
    nodes, edges, cov = build_records(tables, linker)
    nodes.sort(key=lambda r: r.label)
    edges.sort(key=lambda r: (r.source_label, r.type, r.target_label))
    summary = PatientImportSummary(tables.reports, coverage=cov, ignored=present,
                                   columns_not_read=columns_not_read(directory, tables.reports))
    bar = _bar(len(nodes) + len(edges), progress)
    for label, group in _groups(nodes, lambda r: r.label):
        summary.nodes[label] = client.upsert_nodes(group, batch_size)
        bar.update(len(group))
    for key, group in _groups(edges, lambda r: (r.type, r.target_label)):
        summary.relationships[f"{key[0]}->{key[1]}"] = client.upsert_relationships(group, batch_size)
        bar.update(len(group))
    bar.close()
    summary.seconds = time.perf_counter() - t0
    return summary


def columns_not_read(directory: str | Path, files: Iterable[str]) -> dict[str, int]:
    """Per file read, how many header columns are outside the reader's allow-list (counted, never loaded)."""
    out: dict[str, int] = {}
    for name in files:
        allowed = set(PATIENT_COLUMNS if name == "patients.csv" else EVENT_COLUMNS.get(name, ()))
        header = pd.read_csv(Path(directory) / name, nrows=0).columns
        out[name] = sum(c not in allowed for c in header)
    return out


def _groups(items: list, key: Any) -> Iterable[tuple[Any, list]]:
    out: dict[Any, list] = defaultdict(list)
    for it in items:
        out[key(it)].append(it)
    return out.items()


def _bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="synthea import", unit="rec", disable=not enabled)


__all__ = ["PatientImportSummary", "build_records", "graph_linker", "import_synthea", "ingredients"]
