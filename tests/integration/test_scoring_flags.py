"""An unconverged scoring job is flagged on its Run (issue 24), never silent."""

from __future__ import annotations

import json

import pytest

from graph_engine.enrich import Projection, hits_job, pagerank_job, ppr_job
from graph_engine.errors import ConvergenceWarning

pytestmark = pytest.mark.neo4j


def run_metrics(g, run_id):
    row = g.read("MATCH (r:Run {id: $id}) RETURN r.status AS s, r.metrics AS m", {"id": run_id})[0]
    return row["s"], json.loads(row["m"])


def test_unconverged_jobs_flag_their_run(demo):
    with pytest.warns(ConvergenceWarning):
        pr = pagerank_job(demo, Projection(), tol=1e-12, max_iter=1)
    status, m = run_metrics(demo, pr.run_id)
    assert m["converged"] is False and m["warning"].startswith("not converged") and "1 iterations" in m["warning"]
    with pytest.warns(ConvergenceWarning):
        hj = hits_job(demo, tol=1e-14, max_iter=1)
    assert run_metrics(demo, hj.run_id)[1]["converged"] is False
    with pytest.warns(ConvergenceWarning):
        pj = ppr_job(demo, tol=1e-12, max_iter=1)
    _, m = run_metrics(demo, pj.run_id)
    assert m["converged"] is False and "seeds" in m["warning"]


def test_converged_job_has_no_warning(demo):
    res = pagerank_job(demo, Projection())
    status, m = run_metrics(demo, res.run_id)
    assert status == "succeeded" and m["converged"] is True and "warning" not in m
