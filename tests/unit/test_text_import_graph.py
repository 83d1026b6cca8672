"""The modules of ``ingest.text`` import one way: no circle, counting imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "ingest.text"


def _modules() -> dict[str, Path]:
    base = ROOT / PACKAGE.replace(".", "/")
    out = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(path: Path, known: set[str]) -> set[str]:
    """The ``ingest.text`` modules ``path`` imports anywhere in its body (module level or in a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"  # "from ingest.text.components import cache" names a module
                if sub in known:
                    found.add(sub)
                elif node.module in known:
                    found.add(node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(path, set(mods)) - {name} for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a path ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_find_cycle_finds_a_circle_through_a_lazy_import_and_none_in_a_chain(tmp_path: Path) -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    module = tmp_path / "m.py"
    module.write_text("import spacy\nfrom ingest.text.components import cache\n\n\n"
                      "def f():\n    from ingest.text.training import train_ner\n")
    known = {"ingest.text.training", "ingest.text.components", "ingest.text.components.cache"}
    assert _imports(module, known) == {"ingest.text.training", "ingest.text.components.cache"}


def test_ingest_text_modules_import_without_circles() -> None:
    graph = import_graph()
    assert "ingest.text.components.cache" in graph and "ingest.text.corpora" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_training_layers_and_component_modules_import_one_way() -> None:
    graph = import_graph()
    text = "ingest.text."
    # corpora <- multitask <- training; evaluation beside training
    assert not graph[text + "corpora"] & {text + m for m in ("multitask", "training", "evaluation", "pipeline")}
    assert text + "corpora" in graph[text + "multitask"] and text + "training" not in graph[text + "multitask"]
    assert {text + "corpora", text + "multitask"} <= graph[text + "training"]
    assert text + "training" not in graph[text + "evaluation"]
    # every component module sits on the shared cache and never on the package (which imports them all)
    comps = [m for m in graph if m.startswith(text + "components.")]
    assert len(comps) == 9
    for m in comps:
        assert text + "components" not in graph[m], m
        if not m.endswith(".cache"):
            assert text + "components.cache" in graph[m], m
    assert graph[text + "components"] == set(comps)
