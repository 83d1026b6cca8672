"""What the graph already knows about drugs: side effects, targets, pharmacologic
classes, and structures — read from the Neo4j graph or from the data files the
graph is built from (Hetionet v1.0 + SIDER 4.1 at ``../shared/data``).

Ids follow the graph's conventions: drugs ``DRUGBANK:DB00331``, side effects
``UMLS:C0151878``, genes ``NCBIGene:3757``, classes ``NDFRT:N0000175…``.

SIDER 4.1 is CC BY-NC-SA: it is read at run time from ``$MEDKG_SIDER_DIR`` or
``../shared/data/sider4`` and never copied into the package.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from graph_engine.chem import QT_SIDE_EFFECTS
from graph_engine.errors import ModelError

HETIONET_DIR_ENV = "MEDKG_HETIONET_DIR"
SIDER_DIR_ENV = "MEDKG_SIDER_DIR"

KCNH2 = "NCBIGene:3757"  # hERG channel
QT_TERMS = QT_SIDE_EFFECTS


def _shared(name: str) -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "data" / name


def default_hetionet_dir() -> Path:
    env = os.environ.get(HETIONET_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else _shared("hetionet")


def default_sider_dir() -> Path:
    env = os.environ.get(SIDER_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else _shared("sider4")


@dataclass
class DrugKnowledge:
    """Per-drug facts keyed by Drug id; ``source`` says where they came from."""

    side_effects: dict[str, set[str]] = field(default_factory=dict)
    targets: dict[str, set[str]] = field(default_factory=dict)
    classes: dict[str, set[str]] = field(default_factory=dict)
    side_effect_names: dict[str, str] = field(default_factory=dict)
    source: str = "none"

    def drugs(self) -> set[str]:
        return set(self.side_effects) | set(self.targets) | set(self.classes)

    def has_qt(self, drug_id: str) -> bool:
        return bool(self.side_effects.get(drug_id, set()) & QT_TERMS)

    def binds_kcnh2(self, drug_id: str) -> bool:
        return KCNH2 in self.targets.get(drug_id, set())

    def fingerprint(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "drugs_with_side_effects": len(self.side_effects),
            "drug_side_effect_pairs": sum(len(v) for v in self.side_effects.values()),
            "drugs_with_targets": len(self.targets),
            "drugs_with_classes": len(self.classes),
        }


def _hetionet_edges(folder: Path, metaedges: set[str]) -> list[tuple[str, str, str]]:
    path = folder / "hetionet-v1.0-edges-sample.sif.gz"
    if not path.is_file():
        path = folder / "hetionet-v1.0-edges.sif.gz"
    if not path.is_file():
        raise ModelError(f"no Hetionet edge file in {folder} (hetionet-v1.0-edges[-sample].sif.gz)")
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            s, m, t = line.rstrip("\n").split("\t")
            if m in metaedges:
                out.append((s, m, t))
    return out


def _curie(hetionet_id: str) -> str:
    kind, local = hetionet_id.split("::", 1)
    return {
        "Compound": "DRUGBANK:", "Gene": "NCBIGene:", "Side Effect": "UMLS:", "Pharmacologic Class": "NDFRT:",
    }[kind] + local


def sider_side_effects(folder: Path | None = None) -> tuple[dict[str, set[str]], dict[str, str]]:
    """SIDER 4.1 preferred-term side effects per DrugBank drug (via SIDER's own DrugBank mapping).

    Returns ``({drug_id: {UMLS:cui}}, {UMLS:cui: name})``.
    """
    folder = folder or default_sider_dir()
    se_path, map_path = folder / "meddra_all_se.tsv.gz", folder / "indications.tsv"
    for p in (se_path, map_path):
        if not p.is_file():
            raise ModelError(f"SIDER 4.1 file {p} not found (set {SIDER_DIR_ENV})")
    flat_to_db: dict[str, set[str]] = {}
    with open(map_path, encoding="utf-8") as fh:
        header = next(fh).rstrip("\n").split("\t")
        i_db, i_flat = header.index("drugbank_id"), header.index("stitch_id_flat")
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) > max(i_db, i_flat) and f[i_db] and f[i_flat]:
                flat_to_db.setdefault(f[i_flat], set()).add("DRUGBANK:" + f[i_db])
    out: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    with gzip.open(se_path, "rt", encoding="utf-8") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) < 6 or f[3] != "PT":
                continue
            cui = "UMLS:" + f[4]
            names.setdefault(cui, f[5])
            for d in flat_to_db.get(f[0], ()):
                out.setdefault(d, set()).add(cui)
    return out, names


@lru_cache(maxsize=2)
def knowledge_from_files(hetionet_dir: str | None = None, sider_dir: str | None = None) -> DrugKnowledge:
    """Side effects from SIDER 4.1 (all of it) plus Hetionet CcSE; targets (CbG) and classes (PCiC) from Hetionet."""
    het = Path(hetionet_dir) if hetionet_dir else default_hetionet_dir()
    kn = DrugKnowledge(source=f"files: {het} + {Path(sider_dir) if sider_dir else default_sider_dir()}")
    kn.side_effects, kn.side_effect_names = sider_side_effects(Path(sider_dir) if sider_dir else None)
    for s, m, t in _hetionet_edges(het, {"CbG", "CcSE", "PCiC"}):
        if m == "CbG":
            kn.targets.setdefault(_curie(s), set()).add(_curie(t))
        elif m == "CcSE":
            kn.side_effects.setdefault(_curie(s), set()).add(_curie(t))
        else:
            kn.classes.setdefault(_curie(t), set()).add(_curie(s))
    return kn


def files_available() -> bool:
    return (default_sider_dir() / "meddra_all_se.tsv.gz").is_file() and default_hetionet_dir().is_dir()


KNOWLEDGE_QUERIES = {
    "side_effects": "MATCH (d:Drug)-[:CAUSES]->(s:SideEffect) RETURN d.id AS d, collect(s.id) AS xs",
    "targets": "MATCH (d:Drug)-[:BINDS|TARGETS]->(g:Gene) RETURN d.id AS d, collect(g.id) AS xs",
    "classes": "MATCH (c:PharmacologicClass)-[:INCLUDES]->(d:Drug) RETURN d.id AS d, collect(c.id) AS xs",
}


def knowledge_from_graph(client: Any) -> DrugKnowledge:
    """The same facts read from the Neo4j graph (``CAUSES``, ``BINDS``/``TARGETS``, ``INCLUDES``)."""
    kn = DrugKnowledge(source="graph")
    for attr, q in KNOWLEDGE_QUERIES.items():
        setattr(kn, attr, {r["d"]: set(r["xs"]) for r in client.read(q)})
    for r in client.read("MATCH (s:SideEffect) RETURN s.id AS id, s.name AS name"):
        if r["name"]:
            kn.side_effect_names[r["id"]] = r["name"]
    return kn


def load_knowledge(spec: str, client: Any = None) -> DrugKnowledge | None:
    """``none`` -> None; ``files`` / ``auto`` -> the data files (``auto``: None when absent); ``graph`` -> Neo4j."""
    if spec == "none":
        return None
    if spec == "graph":
        if client is None:
            raise ModelError("--knowledge graph needs a database connection")
        return knowledge_from_graph(client)
    if spec == "auto" and not files_available():
        return None
    if spec in ("auto", "files"):
        return knowledge_from_files()
    raise ModelError(f"knowledge must be none, auto, files or graph, got {spec!r}")
