"""Write-backs become visible at one point (issue 21, item 4), on a real Neo4j.

The write-back is batched (many transactions) and published by one pointer switch; these tests
read the graph *between* two batches of a running write-back, through the real server.
"""

from __future__ import annotations

import pytest

from graph_engine.enrich import Projection, hits_job, pagerank_job, ppr_job, replace_properties
from graph_engine.published import PublishConflict, published, read_published

pytestmark = pytest.mark.neo4j

PUBLISHED_PAGERANK = (
    "MATCH (p:Published {property: 'pagerank'})\n"
    "WITH p.key AS key, p.run_key AS rk, p.run_id AS run\n"
    "MATCH (n) WHERE n[rk] = run RETURN n.id AS id, n[key] AS v, run"
)
PLAIN_PAGERANK = "MATCH (n) WHERE n.pagerank IS NOT NULL RETURN n.id AS id, n.pagerank AS v, n.pagerank_run AS run"


class BetweenBatches:
    """A client that calls ``probe()`` after the ``after``-th committed batch of a write-back (a transaction
    that ran the batched ``SET n += row.props``), and can fail the ``fail_at``-th batch before its commit."""

    def __init__(self, graph, probe, after=2, fail_at=None):
        self.graph, self.probe, self.after, self.fail_at = graph, probe, after, fail_at
        self.batches = []  # rows per committed batch transaction
        self.probes = []

    def __getattr__(self, name):
        return getattr(self.graph, name)

    def run_in_transaction(self, fn):
        spy = self
        rows = []

        class Tx:
            def __init__(self, tx):
                self.tx = tx

            def run(self, query, parameters=None, **kw):
                if "SET n += row.props" in query:
                    rows.append(len((parameters or {}).get("rows", kw.get("rows", []))))
                return self.tx.run(query, parameters, **kw)

        def work(tx):
            out = fn(Tx(tx))
            if rows and spy.fail_at is not None and len(spy.batches) + 1 == spy.fail_at:
                raise RuntimeError("connection lost before commit")
            return out

        out = self.graph.run_in_transaction(work)
        if rows:
            self.batches.append(sum(rows))
            if len(self.batches) == self.after:
                self.probes.append(self.probe())
        return out


def _by_id(rows):
    return {r["id"]: (r["v"], r["run"]) for r in rows}


def test_readers_see_the_old_run_until_the_switch_then_the_new_one(demo):
    first = pagerank_job(demo, Projection())
    before = _by_id(demo.read(PUBLISHED_PAGERANK))
    assert before and {run for _, run in before.values()} == {first.run_id}
    demo.batch_size = 100  # the demo graph (about 1,800 nodes) then needs many batches

    top_before = demo.top("Drug", "pagerank", 3)

    def probe():
        return _by_id(demo.read(PUBLISHED_PAGERANK)), _by_id(demo.read(PLAIN_PAGERANK)), demo.top("Drug", "pagerank", 3)

    spy = BetweenBatches(demo, probe, after=3)
    second = pagerank_job(spy, Projection(), damping=0.5)
    # batched: never one transaction for the whole graph, and no transaction over the batch size
    assert len(spy.batches) > 10 and max(spy.batches) <= 100 and sum(spy.batches) == len(before)
    (mid_published, mid_plain, mid_top), = spy.probes
    # the published view, mid-write: all of the first run, nothing of the second
    assert mid_published == before
    assert mid_top == top_before
    # the plain view, mid-write, sees both runs (documented: filter on pagerank_run or read the published view)
    assert {run for _, run in mid_plain.values()} == {first.run_id, second.run_id}
    # after the job: one run everywhere, plain and published agree
    after = _by_id(demo.read(PUBLISHED_PAGERANK))
    assert set(after) == set(before) and {run for _, run in after.values()} == {second.run_id}
    assert _by_id(demo.read(PLAIN_PAGERANK)) == after
    assert any(abs(after[k][0] - before[k][0]) > 1e-9 for k in after)
    p = published(demo, ["pagerank"])["pagerank"]
    assert p.run_id == second.run_id and set(p.labels) >= {"Drug", "Disease", "Gene"}


def test_top_reads_the_published_run_mid_write(demo):
    pagerank_job(demo, Projection())
    demo.batch_size = 100
    want = demo.top("Gene", "pagerank", 5)
    spy = BetweenBatches(demo, lambda: demo.top("Gene", "pagerank", 5), after=3)
    pagerank_job(spy, Projection(labels=("Gene", "Disease")), damping=0.3)
    assert spy.probes == [want]
    assert demo.top("Gene", "pagerank", 5) != want


def test_a_failed_write_back_publishes_nothing_and_restores_plain_values(demo):
    first = hits_job(demo, Projection(directed=True))
    q = ("MATCH (n) WHERE n.hub IS NOT NULL RETURN n.id AS id, n.hub AS h, n.authority AS a, n.hub_run AS r, "
         "n.authority_run AS ar ORDER BY id")
    before = demo.read(q)
    demo.batch_size = 100
    spy = BetweenBatches(demo, lambda: None, after=10**9, fail_at=3)  # 2 batches committed, the 3rd fails
    with pytest.raises(RuntimeError, match="before commit"):
        hits_job(spy, Projection(directed=True), tol=1e-3)
    assert demo.read(q) == before  # the two committed batches were undone from the published slot
    pubs = published(demo, ["hub", "authority"])
    assert {p.run_id for p in pubs.values()} == {first.run_id}
    writers = demo.read("MATCH (p:Published) WHERE p.writer IS NOT NULL RETURN p.property AS p")
    assert writers == []  # the claim was released
    statuses = [r["s"] for r in demo.read("MATCH (r:Run) RETURN r.status AS s ORDER BY r.started_at")]
    assert statuses == ["succeeded", "failed"]


def test_family_is_consistent_per_node_and_published_together(demo):
    seeds = ["DOID:2377", "DOID:9352", "DOID:1324"]
    ppr_job(demo, seeds=seeds, k=5, target_labels=("Drug",))
    second = ppr_job(demo, seeds=seeds[:2], k=3, target_labels=("Gene",))
    got = read_published(demo, "Disease", ["ppr_ids", "ppr_scores"])
    assert set(got) == set(seeds[:2])  # the seed left out lost its stale values
    for values in got.values():
        assert len(values["ppr_ids"]) == len(values["ppr_scores"]) == 3
        assert all(i.startswith("NCBIGene:") for i in values["ppr_ids"])
    pubs = published(demo, ["ppr_ids", "ppr_scores"])
    assert {p.run_id for p in pubs.values()} == {second.run_id}
    assert {p.slot for p in pubs.values()} == {"v1"}  # second write-back: the other slot


def test_a_second_live_writer_is_refused(demo):
    live = demo.create_run("score", "pagerank", {})  # a live run holds the claim
    ids = [r["id"] for r in demo.read("MATCH (d:Disease) RETURN d.id AS id LIMIT 5")]
    holder = BetweenBatches(demo, lambda: None)

    def probe():
        with pytest.raises(PublishConflict, match=f"run {live} is writing 'pagerank'"):
            replace_properties(demo, {"Disease": (ids, {"pagerank": [0.2] * 5})}, "run-other")
        return True

    holder.probe = probe
    replace_properties(holder, {"Disease": (ids, {"pagerank": [0.1] * 5})}, live, batch_size=2)
    assert holder.probes == [True]
    assert {r["r"] for r in demo.read(PUBLISHED_PAGERANK.replace("n.id AS id, n[key] AS v, run", "run AS r"))} \
        == {live}


def test_the_readme_read_pattern_reads_the_published_run_mid_write(demo):
    """The Cypher the README's Guarantees section documents is the pattern these tests hold to."""
    from tests.conftest import REPO

    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```cypher")[1:]]
    pattern = next(b for b in blocks if "Published" in b)
    pattern = "\n".join(line.strip() for line in pattern.splitlines() if line.strip())
    first = pagerank_job(demo, Projection())
    want = {(r["id"], r["pagerank"]) for r in demo.read(pattern)}
    assert len(want) == 10 and all(i.startswith("DRUGBANK:") for i, _ in want)
    demo.batch_size = 100
    spy = BetweenBatches(demo, lambda: {(r["id"], r["pagerank"]) for r in demo.read(pattern)}, after=5)
    second = pagerank_job(spy, Projection(), damping=0.4)
    assert spy.probes == [want]  # mid-write: still the first run's top 10
    got = {(r["id"], r["pagerank"]) for r in demo.read(pattern)}
    assert got != want and published(demo, ["pagerank"])["pagerank"].run_id == second.run_id != first.run_id
