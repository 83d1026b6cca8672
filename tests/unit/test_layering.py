"""The project's layers import one way (imports inside functions count too).

graph_engine imports nothing else from the project; ingest, recommend and models import graph_engine
(and themselves) only; jobs may import them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"graph_engine", "ingest", "recommend", "models", "jobs", "benchmarks", "tools"}
ALLOWED = {"graph_engine": {"graph_engine"}, "ingest": {"ingest", "graph_engine"},
           "recommend": {"recommend", "graph_engine"}, "models": {"models", "graph_engine"}}


def project_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every absolute import of a project package in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] in PROJECT]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PROJECT:
                out.append((node.lineno, node.module))
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_its_lower_layers(package: str) -> None:
    bad = [f"{p.relative_to(ROOT)}:{line}: {mod}" for p in sorted((ROOT / package).rglob("*.py"))
           for line, mod in project_imports(p) if mod.split(".")[0] not in ALLOWED[package]]
    assert not bad, "layering violations:\n" + "\n".join(bad)


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("import numpy\nfrom graph_engine.errors import ModelError\n\n"
                 "def g():\n    from ingest.synthea.mapping import Linker\n", encoding="utf-8")
    assert project_imports(f) == [(2, "graph_engine.errors"), (5, "ingest.synthea.mapping")]
