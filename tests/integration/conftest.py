"""Fixtures shared by the Neo4j tests (the server fixtures are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from ingest.curated import load_graph
from ingest.demo import demo_files


@pytest.fixture()
def demo(graph):
    """The shipped demo graph (Hetionet subset) loaded into an empty database."""
    nodes, edges = demo_files()
    load_graph(graph, "hetionet", nodes, edges, progress=False)
    return graph
