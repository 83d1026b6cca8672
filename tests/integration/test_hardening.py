"""Issue 21 against a real Neo4j: stale runs abandoned, arguments checked before a Run, CLI errors in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ingest.curated import load_graph
from ingest.demo import demo_files
from tests.conftest import REPO

pytestmark = pytest.mark.neo4j


def cli(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], env=dict(env, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, cwd=REPO, timeout=timeout)


def runs(graph):
    return {r["id"]: r for r in graph.read(
        "MATCH (r:Run) RETURN r.id AS id, r.status AS status, r.owner_pid AS pid, r.heartbeat_at IS NOT NULL AS hb, "
        "r.abandoned_reason AS reason")}


def test_killed_job_leaves_no_running_run(graph, neo4j_env):
    """A job killed with SIGKILL mid-way: `medkg runs list` marks its Run abandoned (owner process gone)."""
    script = textwrap.dedent("""
        import sys, time
        from graph_engine.connect import open_client
        from graph_engine.runs import open_run
        with open_client(ensure_schema=False) as g:
            with open_run(g, "score", "pagerank", {}, heartbeat_s=0.2) as run:
                print(run.id, flush=True)
                time.sleep(120)
    """)
    job = subprocess.Popen([sys.executable, "-c", script], env=dict(neo4j_env, PYTHONPATH=str(REPO)),
                           stdout=subprocess.PIPE, text=True, cwd=REPO)
    run_id = job.stdout.readline().strip()
    assert run_id, "the job did not open its run"
    before = runs(graph)[run_id]
    assert before["status"] == "running" and before["pid"] == job.pid and before["hb"]
    os.kill(job.pid, signal.SIGKILL)
    job.wait(timeout=30)
    out = cli(neo4j_env, "runs", "list", "--json")
    assert out.returncode == 0, out.stderr
    listed = {r["id"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert listed[run_id]["status"] == "abandoned"
    assert f"owner process {job.pid}" in listed[run_id]["abandoned_reason"]
    assert "abandoned" in out.stderr and run_id in out.stderr
    # a live run is left alone, and a finished one is not touched either
    assert runs(graph)[run_id]["status"] == "abandoned"
    again = cli(neo4j_env, "runs", "list", "--status", "abandoned", "--json")
    assert [json.loads(l)["id"] for l in again.stdout.splitlines()] == [run_id] and again.stderr == ""


def test_ppr_bad_seed_fails_before_a_run(graph, neo4j_env):
    nodes, edges = demo_files()
    load_graph(graph, "hetionet", nodes, edges, progress=False)
    out = cli(neo4j_env, "enrich", "ppr", "--seed", "DOID:NOPE", "--quiet")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "KeyError" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: seed DOID:NOPE is not a Disease node"), out.stderr
    assert runs(graph) == {}  # no failed Run left behind
