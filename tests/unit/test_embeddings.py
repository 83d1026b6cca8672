"""GNN embeddings: HeteroData export, NumPy neighbour sampler, training, AUC, artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from graph_engine.embeddings import (
    ARTIFACT_FORMAT,
    EmbeddingConfig,
    EmbeddingResult,
    NumpyNeighborSampler,
    load_embeddings,
    split_edges,
    to_hetero_data,
    train_embeddings,
)
from graph_engine.embeddings.train import roc_auc
from graph_engine.errors import ModelError
from graph_engine.export import tables_from_edges

pytestmark = pytest.mark.unit

CUDA = torch.cuda.is_available()
BASE = {"dim": 16, "epochs": 10, "batch_size": 64, "lr": 0.01, "device": "cpu", "seed": 0,
        "num_threads": 1, "test_ratio": 0.2}


def planted(seed: int = 0, nd: int = 40, ng: int = 60, nz: int = 20, p: float = 0.5, c: int = 4):
    """Drugs, genes and diseases in ``c`` communities; edges only inside a community."""
    rng = np.random.default_rng(seed)
    nodes = {"Drug": [f"c{i}" for i in range(nd)], "Gene": [f"g{i}" for i in range(ng)],
             "Disease": [f"d{i}" for i in range(nz)]}

    def comm(i: int, n: int) -> int:
        return i * c // n

    binds = [(f"c{i}", f"g{j}") for i in range(nd) for j in range(ng)
             if comm(i, nd) == comm(j, ng) and rng.random() < p]
    assoc = [(f"g{j}", f"d{k}", float(rng.uniform(1, 2))) for j in range(ng) for k in range(nz)
             if comm(j, ng) == comm(k, nz) and rng.random() < p]
    return tables_from_edges(nodes, {("Drug", "BINDS", "Gene"): binds, ("Gene", "ASSOCIATES", "Disease"): assoc})


@pytest.fixture(scope="module")
def tables():
    return planted()


@pytest.fixture(scope="module")
def trained(tables):
    return train_embeddings(tables, BASE)


@pytest.fixture(scope="module")
def two_epochs(tables):
    return train_embeddings(tables, {**BASE, "epochs": 2})


def test_to_hetero_data(tables):
    data = to_hetero_data(tables)
    assert data["Drug"].num_nodes == 40 and data["Disease"].num_nodes == 20
    fwd = data["Drug", "BINDS", "Gene"].edge_index
    rev = data["Gene", "rev_BINDS", "Drug"].edge_index
    e = tables.edges[("Drug", "BINDS", "Gene")]
    assert fwd.shape == (2, len(e)) and torch.equal(rev, fwd.flip(0))
    assert np.array_equal(fwd[0].numpy(), e.src) and np.array_equal(fwd[1].numpy(), e.dst)
    w = data["Gene", "ASSOCIATES", "Disease"].edge_weight
    assert w.shape == (len(tables.edges[("Gene", "ASSOCIATES", "Disease")]),) and float(w.min()) >= 1.0
    assert len(to_hetero_data(tables, reverse=False).edge_types) == 2


def _in_neighbours(data, edge_type, dst):
    ei = data[edge_type].edge_index
    return set(ei[0, ei[1] == dst].tolist())


def test_numpy_sampler_matches_graph(tables):
    data = to_hetero_data(tables)
    seeds = {"Disease": torch.tensor([0, 7])}
    # fan-out -1 takes every in-neighbour: hop 1 is exactly the neighbourhood
    full = NumpyNeighborSampler(data, [-1], seed=0, force_numpy=True)._sample(seeds)
    et = ("Gene", "ASSOCIATES", "Disease")
    genes = full.node["Gene"].numpy()
    want = _in_neighbours(data, et, 0) | _in_neighbours(data, et, 7)
    assert set(genes.tolist()) == want and len(genes) == len(want)
    assert full.node["Disease"].tolist() == [0, 7]  # seeds first, in order
    # with a fan-out every sampled edge is a real edge and each node keeps <= k per edge type
    s = NumpyNeighborSampler(data, [3, 2], seed=1, force_numpy=True)
    out = s._sample(seeds)
    for et2, row in out.row.items():
        src_t, _, dst_t = et2
        col = out.col[et2]
        g_src = out.node[src_t][row].numpy()
        g_dst = out.node[dst_t][col].numpy()
        ei = data[et2].edge_index.numpy()
        real = set(zip(ei[0].tolist(), ei[1].tolist()))
        assert set(zip(g_src.tolist(), g_dst.tolist())) <= real
        assert len(set(zip(g_src.tolist(), g_dst.tolist()))) == len(g_src)  # without replacement
        if col.numel():
            assert np.bincount(col.numpy()).max() <= 3
        # edge ids are positions in the sampler's CSC order; perm maps them back to the input edges
        perm = s.perm.get(et2)
        orig = out.edge[et2].numpy() if perm is None else perm[out.edge[et2]].numpy()
        assert np.array_equal(ei[0, orig], g_src) and np.array_equal(ei[1, orig], g_dst)
    # per-hop counts (for trim_to_layer) add up to what was sampled
    assert all(sum(out.num_sampled_nodes[t]) == out.node[t].numel() for t in out.node)
    assert all(sum(out.num_sampled_edges[k]) == out.row[k].numel() for k in out.row)
    assert out.num_sampled_nodes["Disease"][0] == 2
    # the same seed samples the same subgraph
    again = NumpyNeighborSampler(data, [3, 2], seed=1, force_numpy=True)._sample(seeds)
    assert all(torch.equal(out.node[t], again.node[t]) for t in out.node)


def test_split_edges_is_disjoint_and_complete(tables):
    key = ("Drug", "BINDS", "Gene")
    train, test = split_edges(tables, [key], 0.25, seed=3)
    e = tables.edges[key]
    tr = set(zip(*map(np.ndarray.tolist, train[key])))
    te = set(zip(*map(np.ndarray.tolist, test[key])))
    assert not tr & te and tr | te == set(zip(e.src.tolist(), e.dst.tolist()))
    assert abs(len(te) - 0.25 * len(e)) <= 1
    other = ("Gene", "ASSOCIATES", "Disease")
    assert other not in test and len(train[other][0]) == len(tables.edges[other])


def test_roc_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # rounding creates ties
    pos, neg = s[y == 1], s[y == 0]
    brute = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (pos.size * neg.size)
    assert roc_auc(y, s) == pytest.approx(brute, abs=1e-12)
    assert np.isnan(roc_auc(np.ones(3), np.arange(3)))


def test_planted_structure_is_learned(tables, trained):
    m = trained.metrics
    assert m["auc"] >= 0.8, m
    assert set(m["auc_per_edge_type"]) == {"Drug|BINDS|Gene", "Gene|ASSOCIATES|Disease"}
    assert len(m["epoch_seconds"]) == 10 and m["epoch_loss"][-1] < m["epoch_loss"][0]
    assert m["num_test_edges"] > 0 and m["device"] == "cpu"
    untrained = train_embeddings(tables, {**BASE, "epochs": 0})
    assert m["auc"] > untrained.metrics["auc"] + 0.05
    assert {k: v.shape for k, v in trained.embeddings.items()} == {"Drug": (40, 16), "Gene": (60, 16),
                                                                    "Disease": (20, 16)}
    assert trained.ids["Gene"][5] == "g5"


def test_deterministic_on_cpu(tables, two_epochs):
    again = train_embeddings(tables, {**BASE, "epochs": 2})
    for label in two_epochs.embeddings:
        assert np.array_equal(two_epochs.embeddings[label], again.embeddings[label])
    assert again.metrics["auc"] == two_epochs.metrics["auc"]
    other = train_embeddings(tables, {**BASE, "seed": 1, "epochs": 2})
    assert not np.array_equal(other.embeddings["Drug"], two_epochs.embeddings["Drug"])


def test_trimming_layers_does_not_change_the_result(tables, two_epochs):
    untrimmed = train_embeddings(tables, {**BASE, "epochs": 2, "trim": False})
    for label in two_epochs.embeddings:
        assert np.allclose(two_epochs.embeddings[label], untrimmed.embeddings[label], atol=1e-5)


def test_layerwise_inference_equals_full_graph_pass(tables, trained):
    data = to_hetero_data(tables)
    enc = trained.model.encoder.eval()
    num_nodes = {t: len(v) for t, v in tables.nodes.items()}
    with torch.no_grad():
        full = enc({t: torch.arange(n) for t, n in num_nodes.items()}, data.edge_index_dict)
    chunked = enc.embed_layerwise(num_nodes, data.edge_index_dict, "cpu", chunk_size=25)
    for t in full:
        assert torch.allclose(full[t], chunked[t], atol=1e-5)
    assert not torch.allclose(full["Gene"], enc.emb["Gene"].weight)  # message passing did something


def test_artifact_round_trip(tmp_path, tables, trained):
    d = trained.save(tmp_path / "emb")
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["format"] == ARTIFACT_FORMAT and manifest["fingerprint"] == tables.fingerprint()
    assert manifest["medkg_version"] and (d / "weights.pt").exists()
    back = load_embeddings(d, expect_fingerprint=tables.fingerprint())
    assert back.config == trained.config and back.metrics == trained.metrics
    for label in trained.embeddings:
        assert np.array_equal(back.embeddings[label], trained.embeddings[label])
        assert back.ids[label].tolist() == trained.ids[label].tolist()
    sd_a, sd_b = trained.model.state_dict(), back.model.state_dict()
    assert sd_a.keys() == sd_b.keys() and all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)
    with pytest.raises(ModelError, match="trained on data"):
        EmbeddingResult.load(d, expect_fingerprint="0" * 64)
    with pytest.raises(ModelError, match="missing"):
        EmbeddingResult.load(tmp_path / "nothing")
    manifest["format"] = "medkg-embeddings/999"
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="format"):
        EmbeddingResult.load(d)


def test_config_validation(tables):
    with pytest.raises(ModelError, match="one fan-out per layer"):
        EmbeddingConfig(num_layers=3, num_neighbors=[5, 5])
    with pytest.raises(ModelError, match="unknown embedding config keys"):
        EmbeddingConfig.from_dict({"dims": 3})
    with pytest.raises(ModelError, match="target edge"):
        train_embeddings(tables, {**BASE, "target_edges": ["Drug|TREATS|Disease"]})
    with pytest.raises(ModelError, match="test_ratio"):
        EmbeddingConfig(test_ratio=1.5)
    if not CUDA:
        with pytest.raises(ModelError, match="CUDA is not available"):
            train_embeddings(tables, {**BASE, "device": "cuda"})


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_trains_on_gpu(tables):
    r = train_embeddings(tables, {**BASE, "device": "cuda"})
    assert r.metrics["device"].startswith("cuda") and r.metrics["auc"] >= 0.8
