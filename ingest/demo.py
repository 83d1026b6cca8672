"""The demo graph shipped inside the package (a connected Hetionet v1.0 subset, CC0)."""

from __future__ import annotations

from pathlib import Path

#: this package's folder (not importlib.resources.files(name): a folder of the same name in the working
#: directory would stand for the package there with an editable install)
_PACKAGE_DIR = Path(__file__).resolve().parent


def demo_files() -> tuple[Path, Path]:
    """Paths of the demo nodes TSV and edges SIF (Hetionet format)."""
    base = _PACKAGE_DIR.joinpath("data", "demo")
    return base / "hetionet-demo-nodes.tsv", base / "hetionet-demo-edges.sif.gz"
