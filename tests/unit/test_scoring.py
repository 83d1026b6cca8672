"""PageRank, personalized PageRank and HITS against networkx and igraph, plus edge cases."""

from __future__ import annotations

import igraph as ig
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graph_engine.errors import ConvergenceWarning, MedkgError
from graph_engine.export import tables_from_edges
from graph_engine.scoring import (
    ScoringError,
    get_scorer,
    hits,
    pagerank,
    personalized_pagerank,
    project,
)

pytestmark = pytest.mark.unit

CUDA = torch.cuda.is_available()
BACKENDS = [
    pytest.param(("scipy", "cpu"), id="scipy-cpu"),
    pytest.param(("torch", "cpu"), id="torch-cpu"),
    pytest.param(("torch", "cuda"), id="torch-cuda",
                 marks=[pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs CUDA")]),
]
F64 = dict(dtype=np.float64, tol=1e-13, max_iter=2000)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny sparse products: extra OpenMP threads only add contention on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_graph(n: int = 40, m: int = 160, seed: int = 0, dangling: int = 5, self_loops: int = 3) -> sp.csr_matrix:
    """A weighted digraph with dangling nodes, self-loops and an isolated pair."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n - dangling, m)  # the last `dangling` nodes have no out-edges
    dst = rng.integers(0, n, m)
    loops = rng.integers(0, n - dangling, self_loops)
    src = np.concatenate([src, loops])
    dst = np.concatenate([dst, loops])
    w = rng.uniform(0.1, 3.0, src.size)
    src = np.r_[src, n]  # plus a separate two-node component n -> n + 1
    dst = np.r_[dst, n + 1]
    A = sp.csr_matrix((np.r_[w, 1.0], (src, dst)), shape=(n + 2, n + 2))
    A.sum_duplicates()
    return A


def to_nx(A: sp.spmatrix) -> nx.DiGraph:
    A = sp.coo_matrix(A)
    G = nx.DiGraph()
    G.add_nodes_from(range(A.shape[0]))
    for i, j, w in zip(A.row, A.col, A.data):
        if w != 0:
            G.add_edge(int(i), int(j), weight=float(w))
    return G


def to_ig(A: sp.spmatrix) -> ig.Graph:
    A = sp.coo_matrix(A)
    keep = A.data != 0
    g = ig.Graph(n=A.shape[0], edges=list(zip(A.row[keep].tolist(), A.col[keep].tolist())), directed=True)
    g.es["weight"] = A.data[keep].tolist()
    return g


def nx_vec(d: dict, n: int) -> np.ndarray:
    return np.array([d[i] for i in range(n)])


# --- PageRank ---------------------------------------------------------------------------

@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_pagerank_matches_networkx_and_igraph(be, seed):
    A = random_graph(seed=seed)
    n = A.shape[0]
    r = pagerank(A, backend=be[0], device=be[1], **F64)
    ref_nx = nx_vec(nx.pagerank(to_nx(A), alpha=0.85, tol=1e-15, max_iter=5000), n)
    ref_ig = np.array(to_ig(A).pagerank(damping=0.85, weights="weight", implementation="prpack"))
    assert r.converged and r.residual < 1e-13 and 1 < r.iterations < 2000
    assert np.abs(r.scores - ref_nx).max() < 1e-6
    assert np.abs(r.scores - ref_ig).max() < 1e-6
    assert r.scores.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("be", BACKENDS)
def test_pagerank_personalization_and_dangling_match_networkx(be):
    A = random_graph(seed=3)
    n = A.shape[0]
    rng = np.random.default_rng(7)
    pers = rng.uniform(0, 1, n) * (rng.uniform(size=n) < 0.4)
    dang = rng.uniform(0, 1, n)
    G = to_nx(A)
    ref = nx_vec(nx.pagerank(G, alpha=0.7, personalization=dict(enumerate(pers)), tol=1e-15, max_iter=5000), n)
    r = pagerank(A, damping=0.7, personalization=pers, backend=be[0], device=be[1], **F64)
    assert np.abs(r.scores - ref).max() < 1e-6
    ref_d = nx_vec(nx.pagerank(G, personalization=dict(enumerate(pers)), dangling=dict(enumerate(dang)),
                               tol=1e-15, max_iter=5000), n)
    r_d = pagerank(A, personalization=pers, dangling=dang, backend=be[0], device=be[1], **F64)
    assert np.abs(r_d.scores - ref_d).max() < 1e-6
    assert np.abs(r_d.scores - r.scores).max() > 1e-4  # the dangling vector really changed the answer


@pytest.mark.parametrize("be", BACKENDS)
def test_float32_close_to_float64(be):
    A = random_graph(n=300, m=2000, seed=5)
    r32 = pagerank(A, backend=be[0], device=be[1])
    r64 = pagerank(A, backend=be[0], device=be[1], **F64)
    assert r32.scores.dtype == np.float32 and r64.scores.dtype == np.float64
    assert r32.converged and r32.residual < 1e-6
    assert np.abs(r32.scores - r64.scores).sum() < 1e-5


def test_star_centre_wins_and_weights_matter():
    n = 6
    star = sp.csr_matrix((np.ones(n - 1), (np.arange(1, n), np.zeros(n - 1, int))), shape=(n, n))
    r = pagerank(star, dtype=np.float64)
    assert r.scores.argmax() == 0 and r.scores[0] > 2 * r.scores[1:].max()
    # node 0 -> {1, 2}: heavier edge, higher score
    A = sp.csr_matrix(([1.0, 9.0], ([0, 0], [1, 2])), shape=(3, 3))
    s = pagerank(A, dtype=np.float64).scores
    assert s[2] > s[1]


@pytest.mark.parametrize("be", BACKENDS)
def test_edge_cases(be):
    kw = dict(backend=be[0], device=be[1], dtype=np.float64, tol=1e-13, max_iter=1000)
    empty = pagerank(sp.csr_matrix((0, 0)), **kw)
    assert empty.scores.shape == (0,) and empty.converged and empty.iterations == 0
    single = pagerank(sp.csr_matrix((1, 1)), **kw)
    assert single.scores.tolist() == pytest.approx([1.0])
    loop = pagerank(sp.csr_matrix(np.array([[2.0]])), **kw)
    assert loop.scores.tolist() == pytest.approx([1.0])
    no_edges = pagerank(sp.csr_matrix((5, 5)), **kw)  # all dangling -> uniform
    assert np.allclose(no_edges.scores, 0.2)
    # two identical disconnected cycles share the mass equally
    cyc = sp.csr_matrix((np.ones(6), ([0, 1, 2, 3, 4, 5], [1, 2, 0, 4, 5, 3])), shape=(6, 6))
    assert np.allclose(pagerank(cyc, **kw).scores, 1 / 6)


@pytest.mark.parametrize("be", BACKENDS)
def test_zero_weight_edges_are_absent(be):
    A = random_graph(seed=2).tolil()
    A[0, :] = 0
    A[0, 5] = 1.0
    base = sp.csr_matrix(A)
    with_zero = sp.csr_matrix((np.r_[base.data, 0.0, 0.0],
                               (np.r_[base.tocoo().row, 0, 7], np.r_[base.indices, 9, 8])), shape=base.shape)
    assert with_zero.nnz == base.nnz + 2  # the zeros are stored explicitly
    kw = dict(backend=be[0], device=be[1], **F64)
    assert np.abs(pagerank(with_zero, **kw).scores - pagerank(base, **kw).scores).max() < 1e-12
    # a node whose only out-edge weighs 0 is dangling, as in networkx
    B = sp.csr_matrix(([0.0, 1.0, 1.0], ([0, 1, 2], [1, 2, 1])), shape=(3, 3))
    G = nx.DiGraph([(1, 2), (2, 1)])
    G.add_node(0)
    ref = nx_vec(nx.pagerank(G, tol=1e-15, max_iter=5000), 3)
    assert np.abs(pagerank(B, **kw).scores - ref).max() < 1e-9


def test_not_converged_is_reported():
    A = random_graph(seed=4)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        r = pagerank(A, max_iter=2, tol=1e-12)
    assert not r.converged and r.iterations == 2 and r.residual > 1e-12


def test_torch_inputs_equal_scipy():
    A = random_graph(seed=6)
    ref = pagerank(A, **F64).scores
    coo = A.tocoo()
    t_coo = torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]), coo.data, size=A.shape, check_invariants=False)
    assert np.abs(pagerank(t_coo, **F64).scores - ref).max() < 1e-12
    assert np.abs(pagerank(t_coo.to_sparse_csr(), **F64).scores - ref).max() < 1e-12
    assert np.abs(pagerank(A.toarray(), **F64).scores - ref).max() < 1e-12


@pytest.mark.parametrize("bad, match", [
    (sp.csr_matrix((3, 4)), "square"),
    (sp.csr_matrix(np.array([[0.0, -1.0], [1.0, 0.0]])), "negative"),
    (sp.csr_matrix(np.array([[0.0, np.nan], [1.0, 0.0]])), "NaN"),
    ("not a matrix", "adjacency must be"),
])
def test_bad_matrices_raise(bad, match):
    with pytest.raises(ScoringError, match=match):
        pagerank(bad)


def test_bad_parameters_raise():
    A = random_graph()
    n = A.shape[0]
    for kwargs, match in [
        (dict(damping=1.5), "damping"),
        (dict(tol=0), "tol"),
        (dict(max_iter=0), "max_iter"),
        (dict(personalization=np.ones(n - 1)), "one entry per node"),
        (dict(personalization=np.zeros(n)), "sums to zero"),
        (dict(dtype=np.int32), "float32 or float64"),
        (dict(device="tpu"), "device"),
    ]:
        with pytest.raises(ScoringError, match=match):
            pagerank(A, **kwargs)
    assert issubclass(ScoringError, ValueError) and issubclass(ScoringError, MedkgError)


@pytest.mark.skipif(CUDA, reason="checks the error raised without CUDA")
def test_cuda_without_gpu_raises():
    with pytest.raises(ScoringError, match="CUDA is not available"):
        pagerank(random_graph(), device="cuda")


def test_auto_device_is_cpu_without_gpu():
    r = pagerank(random_graph())
    assert (r.device, r.backend) == (("cuda", "torch") if CUDA else ("cpu", "scipy"))


# --- personalized PageRank ---------------------------------------------------------------

@pytest.mark.parametrize("be", BACKENDS)
def test_batched_ppr_topk_equals_networkx_per_seed(be):
    A = random_graph(n=60, m=300, seed=8)
    n = A.shape[0]
    G = to_nx(A)
    seeds = [0, 3, 7, 11, 20, 41, 60]
    k = 8
    res = personalized_pagerank(A, seeds, k=k, block_size=3, backend=be[0], device=be[1], **F64)
    assert res.indices.shape == (len(seeds), k) and res.converged.all()
    for row, s in enumerate(seeds):
        ref = nx_vec(nx.pagerank(G, personalization={s: 1.0}, tol=1e-15, max_iter=5000), n)
        order = np.lexsort((np.arange(n), -ref))[:k]
        reached = ref[order] > 1e-9  # beyond the reachable set every score is 0 (a tie)
        assert res.indices[row][reached].tolist() == order[reached].tolist()
        assert np.abs(res.scores[row] - ref[order]).max() < 1e-6
    # one block or many: same answer
    whole = personalized_pagerank(A, seeds, k=k, backend=be[0], device=be[1], **F64)
    assert np.array_equal(whole.indices, res.indices)
    assert np.abs(whole.scores - res.scores).max() < 1e-12


def test_ppr_candidates_exclude_seeds_and_weight_rows():
    A = random_graph(n=50, m=250, seed=9)
    n = A.shape[0]
    G = to_nx(A)
    mask = np.zeros(n, bool)
    mask[::3] = True
    res = personalized_pagerank(A, [0, 6], k=5, candidates=mask, exclude_seeds=True, **F64)
    for row, s in enumerate([0, 6]):
        ref = nx_vec(nx.pagerank(G, personalization={s: 1.0}, tol=1e-15, max_iter=5000), n)
        ref[~mask] = -np.inf
        ref[s] = -np.inf
        assert res.indices[row].tolist() == np.lexsort((np.arange(n), -ref))[:5].tolist()
        assert s not in res.indices[row] and mask[res.indices[row]].all()
    # (S, N) seed weights: row-normalised, like networkx's personalization dict
    W = np.zeros((2, n))
    W[0, [1, 2]] = [1.0, 3.0]
    W[1, 10] = 5.0
    res_w = personalized_pagerank(A, sp.csr_matrix(W), k=n, **F64)
    ref0 = nx_vec(nx.pagerank(G, personalization={1: 1.0, 2: 3.0}, tol=1e-15, max_iter=5000), n)
    got0 = np.empty(n)
    got0[res_w.indices[0]] = res_w.scores[0]
    assert np.abs(got0 - ref0).max() < 1e-6


def test_ppr_k_larger_than_graph_and_bad_seeds():
    A = random_graph(n=10, m=30, seed=1)
    res = personalized_pagerank(A, [1], k=1000, dtype=np.float64)
    assert res.indices.shape == (1, A.shape[0])
    assert res.scores.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(res.scores[0]) <= 0)
    with pytest.raises(ScoringError, match="seed indices"):
        personalized_pagerank(A, [A.shape[0]])
    with pytest.raises(ScoringError, match="k must be"):
        personalized_pagerank(A, [0], k=0)
    with pytest.raises(ScoringError, match="no positive weight"):
        personalized_pagerank(A, np.zeros((1, A.shape[0])))
    none = personalized_pagerank(A, [], k=3)
    assert none.indices.shape == (0, 3)


def test_ppr_on_graph_matrix_returns_ids():
    t = tables_from_edges(
        {"Disease": ["D1", "D2"], "Gene": ["G1", "G2", "G3"], "Drug": ["C1"]},
        {("Disease", "ASSOCIATES", "Gene"): [("D1", "G1"), ("D1", "G2"), ("D2", "G3")],
         ("Drug", "BINDS", "Gene"): [("C1", "G1")]},
    )
    gm = project(t, symmetric=True)
    d1 = gm.index_of("Disease", "D1")
    res = personalized_pagerank(gm, [d1], k=2, candidates=gm.mask("Gene"), dtype=np.float64)
    assert set(res.ids[0]) == {"G1", "G2"} and set(res.labels[0]) == {"Gene"}
    assert res.ids[0][0] == "G1"  # G1 also reachable through the drug


# --- HITS -------------------------------------------------------------------------------

def strongly_connected(n: int = 30, m: int = 150, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    src = np.r_[np.arange(n), rng.integers(0, n, m)]
    dst = np.r_[(np.arange(n) + 1) % n, rng.integers(0, n, m)]
    A = sp.csr_matrix((rng.uniform(0.5, 2.0, src.size), (src, dst)), shape=(n, n))
    A.sum_duplicates()
    return A


@pytest.mark.parametrize("be", BACKENDS)
def test_hits_matches_networkx_and_igraph(be):
    A = strongly_connected()
    n = A.shape[0]
    r = hits(A, tol=1e-14, max_iter=10000, dtype=np.float64, backend=be[0], device=be[1])
    h_ref, a_ref = nx.hits(to_nx(A), max_iter=10000, tol=1e-14)
    assert r.converged
    assert np.abs(r.hubs - nx_vec(h_ref, n)).max() < 1e-6
    assert np.abs(r.authorities - nx_vec(a_ref, n)).max() < 1e-6
    g = to_ig(A)
    hub_ig = np.array(g.hub_score(weights="weight", scale=True))
    auth_ig = np.array(g.authority_score(weights="weight", scale=True))
    assert np.abs(r.hubs / r.hubs.max() - hub_ig).max() < 1e-6
    assert np.abs(r.authorities / r.authorities.max() - auth_ig).max() < 1e-6


@pytest.mark.parametrize("be", BACKENDS)
def test_hits_star_and_edge_cases(be):
    kw = dict(backend=be[0], device=be[1], dtype=np.float64)
    n = 5
    star = sp.csr_matrix((np.ones(n - 1), (np.arange(1, n), np.zeros(n - 1, int))), shape=(n, n))
    r = hits(star, **kw)
    assert r.authorities.argmax() == 0 and r.authorities[0] == pytest.approx(1.0)
    assert r.hubs[0] == 0 and np.allclose(r.hubs[1:], 0.25)
    e = hits(sp.csr_matrix((0, 0)), **kw)
    assert e.hubs.shape == (0,) and e.converged
    u = hits(sp.csr_matrix((4, 4)), **kw)
    assert np.allclose(u.hubs, 0.25) and np.allclose(u.authorities, 0.25)
    loop = hits(sp.csr_matrix(np.array([[1.0]])), **kw)
    assert loop.hubs.tolist() == pytest.approx([1.0])
    # zero-weight edges are absent
    A = strongly_connected(seed=3)
    Z = sp.csr_matrix((np.r_[A.data, 0.0], (np.r_[A.tocoo().row, 0], np.r_[A.indices, 17])), shape=A.shape)
    assert np.abs(hits(Z, tol=1e-13, max_iter=5000, **kw).hubs
                  - hits(A, tol=1e-13, max_iter=5000, **kw).hubs).max() < 1e-12
    with pytest.warns(ConvergenceWarning):
        assert not hits(A, tol=1e-14, max_iter=1, **kw).converged


# --- projections, registry ----------------------------------------------------------------

def tables():
    return tables_from_edges(
        {"Drug": ["C1", "C2"], "Gene": ["G1", "G2"], "Disease": ["D1"], "Anatomy": ["A1"]},
        {("Drug", "BINDS", "Gene"): [("C1", "G1", 2.0), ("C2", "G2", 1.0)],
         ("Gene", "ASSOCIATES", "Disease"): [("G1", "D1"), ("G2", "D1")],
         ("Disease", "LOCALIZES", "Anatomy"): [("D1", "A1")]},
    )


def test_projection_labels_types_weights_direction():
    t = tables()
    gm = project(t, labels=["Drug", "Gene", "Disease"])
    assert gm.matrix.shape == (5, 5) and gm.matrix.nnz == 4
    assert gm.matrix[gm.index_of("Drug", "C1"), gm.index_of("Gene", "G1")] == 2.0
    only = project(t, labels=["Drug", "Gene", "Disease"], rel_types=["BINDS"])
    assert only.matrix.nnz == 2
    sym = project(t, labels=["Drug", "Gene"], symmetric=True, weighted=False)
    m = sym.matrix.toarray()
    assert np.array_equal(m, m.T) and set(np.unique(m)) == {0.0, 1.0}
    w = project(t, labels=["Drug", "Gene"], weights={("Drug", "BINDS", "Gene"): np.array([5.0, 7.0])})
    assert w.matrix[w.index_of("Drug", "C2"), w.index_of("Gene", "G2")] == 7.0
    # direction respected: in the directed view drugs only give, in the symmetric view they also get
    d = pagerank(project(t), dtype=np.float64).scores
    s = pagerank(project(t, symmetric=True), dtype=np.float64).scores
    assert d[0] < s[0]


def test_projection_errors():
    t = tables()
    from graph_engine.errors import SchemaError
    with pytest.raises(SchemaError, match="labels"):
        project(t, labels=["Protein"])
    with pytest.raises(SchemaError, match="relationship types"):
        project(t, rel_types=["TREATS"])
    with pytest.raises(ScoringError, match="shape"):
        project(t, weights={("Drug", "BINDS", "Gene"): np.ones(3)})
    with pytest.raises(SchemaError, match="outside"):
        project(t, labels=["Drug"], edge_keys=[("Drug", "BINDS", "Gene")])


def test_registry():
    assert get_scorer("pagerank") is pagerank and get_scorer("hits") is hits
    with pytest.raises(ScoringError, match="known: "):
        get_scorer("katz")


def test_input_formats_and_caller_matrix_untouched():
    A = random_graph(seed=11)
    ref = pagerank(A, **F64).scores
    coo = A.tocoo()
    # duplicates and an explicit zero, as COO -> CSR may leave them; int64 indices; sparse arrays
    dup = sp.csr_matrix((np.r_[coo.data / 2, coo.data / 2, 0.0],
                         (np.r_[coo.row, coo.row, 0], np.r_[coo.col, coo.col, 1])), shape=A.shape)
    dup.has_canonical_format = False
    before = (dup.data.copy(), dup.indices.copy(), dup.indptr.copy())
    assert np.abs(pagerank(dup, **F64).scores - ref).max() < 1e-12
    assert all(np.array_equal(a, b) for a, b in zip(before, (dup.data, dup.indices, dup.indptr)))
    wide = sp.csr_matrix((A.data, A.indices.astype(np.int64), A.indptr.astype(np.int64)), shape=A.shape)
    assert np.abs(pagerank(wide, **F64).scores - ref).max() < 1e-12
    assert np.abs(pagerank(sp.csr_array(A), **F64).scores - ref).max() < 1e-12
    assert np.abs(pagerank(A.tocsc(), **F64).scores - ref).max() < 1e-12
    assert np.abs(hits(sp.coo_array(A), dtype=np.float64).hubs - hits(A, dtype=np.float64).hubs).max() < 1e-12
