"""One registry pattern (graph_engine.registry) and the meta-test: every registered
recommender, scorer and model kind has a contract test, else this file fails."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from graph_engine.errors import MedkgError
from graph_engine.registry import Registry
from graph_engine.scoring import SCORERS, get_scorer

pytestmark = pytest.mark.unit


def graph() -> tuple[sp.csr_matrix, nx.DiGraph]:
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 30, 120), rng.integers(0, 34, 120)  # nodes 30-33 are dangling
    A = sp.csr_matrix((np.ones(120), (src, dst)), shape=(34, 34))
    A.data[:] = 1.0
    G = nx.DiGraph()
    G.add_nodes_from(range(34))
    G.add_edges_from(zip(*A.nonzero()))
    return A, G


def _pagerank(fn):
    A, G = graph()
    got = fn(A, dtype=np.float64, tol=1e-12, max_iter=1000).scores
    ref = nx.pagerank(G, alpha=0.85, tol=1e-13, max_iter=2000)
    np.testing.assert_allclose(got, [ref[i] for i in range(34)], atol=1e-8)


def _ppr(fn):
    A, G = graph()
    res = fn(A, [0, 5], k=34, dtype=np.float64, tol=1e-12, max_iter=1000)
    for row, seed in enumerate((0, 5)):
        ref = nx.pagerank(G, alpha=0.85, personalization={seed: 1.0}, tol=1e-13, max_iter=2000,
                          dangling={seed: 1.0})
        got = dict(zip(res.indices[row].tolist(), res.scores[row].tolist()))
        assert max(abs(got.get(i, 0.0) - ref[i]) for i in range(34)) < 1e-8


def _hits(fn):
    A, G = graph()
    res = fn(A, dtype=np.float64, tol=1e-12, max_iter=5000)
    h, a = nx.hits(G, max_iter=10000, tol=1e-14)
    np.testing.assert_allclose(res.hubs, [h[i] for i in range(34)], atol=1e-7)
    np.testing.assert_allclose(res.authorities, [a[i] for i in range(34)], atol=1e-7)


#: The contract of each scorer: its result against networkx on a graph with dangling nodes.
SCORER_CONTRACTS = {"pagerank": _pagerank, "ppr": _ppr, "hits": _hits}


@pytest.mark.parametrize("name", sorted(SCORER_CONTRACTS))
def test_scorer_contract(name):
    SCORER_CONTRACTS[name](get_scorer(name))


def _covered(registry: Registry, contracts: set[str]) -> list[str]:
    """Registered implementations (aliases count once) with no name in ``contracts``."""
    by_obj: dict[int, list[str]] = {}
    for name, obj in registry.items():
        by_obj.setdefault(id(obj), []).append(name)
    return [names[0] for names in by_obj.values() if not set(names) & contracts]


def test_every_registered_implementation_has_a_contract_test():
    from recommend.base import RECOMMENDERS
    from tests.unit.test_recommend_contract import METHODS

    assert _covered(SCORERS, set(SCORER_CONTRACTS)) == []
    assert _covered(RECOMMENDERS, set(METHODS)) == []
    from models.api import MODEL_KINDS
    from tests.unit.test_models_contract import MODEL_CONTRACTS

    assert _covered(MODEL_KINDS, set(MODEL_CONTRACTS)) == []


def test_the_meta_test_notices_a_missing_contract():
    reg: Registry[object] = Registry("thing")
    a, b = object(), object()
    reg.register("a", "alias-a")(a)
    reg.register("b")(b)
    assert _covered(reg, {"alias-a"}) == ["b"]


def test_registry_errors_name_the_known_entries():
    reg: Registry[int] = Registry("widget", MedkgError)
    reg.add("x", 1)
    reg.add("x", 1)  # the same object again: fine
    with pytest.raises(MedkgError, match="widget name 'x' is already registered"):
        reg.add("x", 2)
    with pytest.raises(MedkgError, match="unknown widget 'y'; choose one of x"):
        reg.get("y")
