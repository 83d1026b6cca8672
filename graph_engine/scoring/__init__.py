"""Scoring on exported matrices: PageRank, batched personalized PageRank, HITS.

One API, two back ends: scipy.sparse on the CPU and torch sparse CSR (CUDA,
or the CPU for testing), chosen by ``device`` / ``backend``. Inputs are any
scipy/torch sparse adjacency with ``A[i, j]`` the weight of edge i -> j, or a
:class:`~graph_engine.export.GraphMatrix` (then results also carry node ids).

Scorers are also reachable by name (``get_scorer("pagerank")``) for jobs that
take the algorithm from a config or the command line.
"""

from __future__ import annotations

from typing import Any, Callable

from graph_engine.registry import Registry
from graph_engine.scoring._common import ScoringError, resolve_device
from graph_engine.scoring.hits import HitsResult, hits
from graph_engine.scoring.pagerank import (
    PageRankResult,
    PersonalizedPageRankResult,
    pagerank,
    personalized_pagerank,
)
from graph_engine.scoring.projection import project

#: Scorers by name (:class:`graph_engine.registry.Registry`).
SCORERS: Registry[Callable[..., Any]] = Registry("scorer", ScoringError)
SCORERS.register("pagerank")(pagerank)
SCORERS.register("ppr", "personalized_pagerank")(personalized_pagerank)
SCORERS.register("hits")(hits)


def get_scorer(name: str) -> Callable[..., Any]:
    """Return a scorer by name (``pagerank``, ``ppr``, ``hits``).

    Raises:
        ScoringError: unknown name (the message lists the known ones).
    """
    return SCORERS.get(name)


__all__ = [
    "HitsResult",
    "PageRankResult",
    "PersonalizedPageRankResult",
    "SCORERS",
    "ScoringError",
    "get_scorer",
    "hits",
    "pagerank",
    "personalized_pagerank",
    "project",
    "resolve_device",
]
