"""The demo graph shipped inside the package (a connected Hetionet v1.0 subset, CC0)."""

from __future__ import annotations

from pathlib import Path

#: the data shipped in this package (demo graph, Synthea sample); from this file's location, see
#: graph_engine.schema._PACKAGE_DIR
DATA_DIR = Path(__file__).resolve().parent / "data"


def demo_files() -> tuple[Path, Path]:
    """Paths of the demo nodes TSV and edges SIF (Hetionet format)."""
    base = DATA_DIR / "demo"
    return base / "hetionet-demo-nodes.tsv", base / "hetionet-demo-edges.sif.gz"
