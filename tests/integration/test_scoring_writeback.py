"""Scores and embeddings written back to a real Neo4j, checked against networkx."""

from __future__ import annotations

import importlib
import json

import neo4j
import networkx as nx
import numpy as np
import pytest

from graph_engine.enrich import Projection, embed_job, hits_job, pagerank_job, ppr_job, replace_property

pytestmark = pytest.mark.neo4j


def nx_graph(g, directed):
    G = nx.DiGraph()
    for r in g.read("MATCH (n) WHERE n.id IS NOT NULL AND NOT n:Run RETURN n.id AS id"):
        G.add_node(r["id"])
    for r in g.read("MATCH (a)-[r]->(b) WHERE NOT a:Run RETURN a.id AS a, b.id AS b"):
        G.add_edge(r["a"], r["b"])
        if not directed:
            G.add_edge(r["b"], r["a"])
    return G


prm = importlib.import_module("graph_engine.scoring.pagerank")


def stored(g, prop):
    return {r["id"]: r["v"] for r in g.read(
        "MATCH (n) WHERE n[$p] IS NOT NULL RETURN n.id AS id, n[$p] AS v", {"p": prop})}


def test_pagerank_written_back_matches_networkx_and_run_is_recorded(demo):
    res = pagerank_job(demo, Projection(), dtype=np.float64, tol=1e-10, max_iter=500)
    ref = nx.pagerank(nx_graph(demo, directed=False), alpha=0.85, tol=1e-12, max_iter=1000)
    got = stored(demo, "pagerank")
    assert set(got) == set(ref)
    assert max(abs(got[k] - ref[k]) for k in ref) < 1e-6
    runs = demo.read("MATCH (n) WHERE n.pagerank IS NOT NULL RETURN DISTINCT n.pagerank_run AS r")
    assert runs == [{"r": res.run_id}]
    run = demo.read("MATCH (r:Run {id: $id}) RETURN r.algorithm AS a, r.status AS s, r.params AS p, r.metrics AS m",
                    {"id": res.run_id})[0]
    assert run["a"] == "pagerank" and run["s"] == "succeeded"
    assert json.loads(run["p"])["damping"] == 0.85 and json.loads(run["m"])["converged"] is True
    # which iteration ran is recorded with the run (the compiled sweeps wherever the extension is built)
    assert json.loads(run["m"])["method"] == ("gauss-seidel-point" if prm._gs_ext is not None else "gauss-seidel-block")
    top = demo.top("Drug", by="pagerank", k=5)
    best_drug = max((k for k in ref if k.startswith("DRUGBANK:")), key=ref.get)
    assert top[0].id == best_drug and [t.score for t in top] == sorted([t.score for t in top], reverse=True)


def test_rerun_replaces_property_and_failed_run_leaves_old_values(demo):
    first = pagerank_job(demo, Projection())
    assert stored(demo, "pagerank")
    # a run over a smaller projection: nodes outside it lose the stale values
    second = pagerank_job(demo, Projection(labels=("Drug", "Disease"), rel_types=("TREATS", "PALLIATES", "RESEMBLES")))
    got = demo.read("MATCH (n) WHERE n.pagerank IS NOT NULL RETURN DISTINCT labels(n)[0] AS l, n.pagerank_run AS r")
    assert {r["l"] for r in got} == {"Drug", "Disease"} and {r["r"] for r in got} == {second.run_id}
    assert first.run_id != second.run_id
    before = stored(demo, "pagerank")
    ids = sorted(i for i in before if i.startswith("DOID:"))  # Disease ids only: the bad value must hit a node
    bad_values = [0.5] * (len(ids) - 1) + [{"not": "a property value"}]
    with pytest.raises(neo4j.exceptions.CypherTypeError):
        replace_property(demo, {"Disease": (ids, bad_values)}, "pagerank", "run-bad", batch_size=100)
    assert stored(demo, "pagerank") == before  # the whole replacement rolled back


def test_hits_matches_networkx(demo):
    hits_job(demo, Projection(directed=True), tol=1e-10, max_iter=1000, dtype=np.float64)
    h_ref, a_ref = nx.hits(nx_graph(demo, directed=True), max_iter=5000, tol=1e-12)
    hubs, auth = stored(demo, "hub"), stored(demo, "authority")
    assert max(abs(hubs[k] - h_ref[k]) for k in h_ref) < 1e-6
    assert max(abs(auth[k] - a_ref[k]) for k in a_ref) < 1e-6


def test_ppr_top_k_matches_networkx_for_a_seed(demo):
    seed = "DOID:2377"
    ppr_job(demo, seeds=[seed], k=10, target_labels=("Drug", "Gene"), tol=1e-10, max_iter=500)
    G = nx_graph(demo, directed=False)
    ref = nx.pagerank(G, alpha=0.85, personalization={seed: 1.0}, tol=1e-12, max_iter=1000)
    want = sorted((k for k in ref if k.startswith(("DRUGBANK:", "NCBIGene:"))), key=lambda k: (-ref[k], k))[:10]
    row = demo.read("MATCH (d:Disease {id: $id}) RETURN d.ppr_ids AS ids, d.ppr_scores AS s, d.ppr_run AS r",
                    {"id": seed})[0]
    assert row["ids"][:5] == want[:5]
    assert np.allclose(row["s"], [ref[k] for k in row["ids"]], atol=1e-5)
    read_back = demo.query(
        "MATCH (d:Disease {id: $id}) UNWIND range(0, size(d.ppr_ids) - 1) AS i "
        "MATCH (n {id: d.ppr_ids[i]}) RETURN labels(n)[0] AS label, n.name AS name, d.ppr_scores[i] AS score",
        {"id": seed})
    assert len(read_back) == 10 and {r["label"] for r in read_back} <= {"Drug", "Gene"}


class FailWhenWriting:
    """A client whose transactions fail just before commit when they wrote ``prop``."""

    def __init__(self, graph, prop):
        self.graph, self.prop = graph, prop

    def __getattr__(self, name):
        return getattr(self.graph, name)

    def run_in_transaction(self, fn):
        prop = self.prop

        class Spy:
            wrote = False

            def run(self, query, parameters=None, **kw):
                self.wrote = self.wrote or prop in repr(parameters) + repr(kw)
                return tx_box[0].run(query, parameters, **kw)

        tx_box = []

        def work(tx):
            tx_box.append(tx)
            spy = Spy()
            out = fn(spy)
            if spy.wrote:
                raise RuntimeError(f"connection lost before commit of {prop}")
            return out

        return self.graph.run_in_transaction(work)


def test_ppr_ids_and_scores_are_replaced_in_one_transaction(demo):
    """A failure while writing the scores must not leave new ids next to old scores."""
    seeds = ["DOID:2377", "DOID:9352"]
    ppr_job(demo, seeds=seeds, k=10, target_labels=("Drug", "Gene"))
    q = "MATCH (d:Disease) WHERE d.id IN $ids RETURN d.id AS id, d.ppr_ids AS ids, d.ppr_scores AS s ORDER BY id"
    before = demo.read(q, {"ids": seeds})
    with pytest.raises(RuntimeError, match="before commit of ppr_scores"):
        ppr_job(FailWhenWriting(demo, "ppr_scores"), seeds=seeds, k=5, target_labels=("Drug",))
    assert demo.read(q, {"ids": seeds}) == before
    statuses = [r["s"] for r in demo.read("MATCH (r:Run) RETURN r.status AS s ORDER BY r.started_at")]
    assert statuses == ["succeeded", "failed"]


def test_embeddings_written_with_vector_index_and_similar(demo, tmp_path):
    res = embed_job(demo, {"dim": 16, "epochs": 2, "seed": 0, "num_neighbors": [5, 3], "device": "cpu"},
                    labels=("Drug", "Disease", "Gene"), rel_types=("TREATS", "BINDS", "ASSOCIATES", "RESEMBLES"),
                    artifact_dir=tmp_path)
    assert 0.0 <= res.metrics["auc"] <= 1.0
    assert (tmp_path / res.run_id).is_dir()
    indexes = {r["name"]: r for r in demo.read("SHOW VECTOR INDEXES YIELD name, labelsOrTypes, properties, state RETURN *")}
    assert "drug_embedding_vector" in indexes and indexes["drug_embedding_vector"]["state"] == "ONLINE"
    emb = {r["id"]: np.array(r["e"]) for r in demo.read(
        "MATCH (d:Drug) WHERE d.embedding IS NOT NULL RETURN d.id AS id, d.embedding AS e")}
    assert len(emb) == demo.read("MATCH (d:Drug) RETURN count(d) AS n")[0]["n"]
    query = sorted(emb)[0]
    sims = demo.similar(query, k=5)
    assert len(sims) == 5 and query not in [s.id for s in sims]
    assert all(s.id in emb for s in sims)  # same label
    q = emb[query] / np.linalg.norm(emb[query])
    brute = sorted(((float(q @ (v / np.linalg.norm(v))), k) for k, v in emb.items() if k != query), reverse=True)
    true_cos = {k: c for c, k in brute}
    # Neo4j reports cosine similarity as (1 + cos) / 2; every reported score is the node's true one
    for s in sims:
        assert s.score == pytest.approx((1 + true_cos[s.id]) / 2, abs=1e-4)
    # the index is approximate (HNSW): the best hit is the exact best up to near-ties, and the top-5 mostly agree
    assert true_cos[sims[0].id] >= brute[0][0] - 1e-3
    assert len({s.id for s in sims} & {k for _, k in brute[:5]}) >= 4


def test_similar_without_embeddings_says_what_to_run(demo):
    from graph_engine.errors import MedkgError

    with pytest.raises(MedkgError, match="enrich embed"):
        demo.similar("DRUGBANK:DB00563", k=3)
    with pytest.raises(MedkgError, match="no node"):
        demo.similar("DRUGBANK:DB_NOPE", k=3)
