"""The demo graph shipped inside the package (a connected Hetionet v1.0 subset, CC0)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_files() -> tuple[Path, Path]:
    """Paths of the demo nodes TSV and edges SIF (Hetionet format)."""
    base = Path(str(resources.files("ingest").joinpath("data/demo")))
    return base / "hetionet-demo-nodes.tsv", base / "hetionet-demo-edges.sif.gz"
