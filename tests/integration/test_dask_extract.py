"""Extraction on a real Dask LocalCluster: same output as one process, a killed worker loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.text.distributed import dask_client, extract_on_cluster
from ingest.text.pipeline import extract_documents, load_pipeline, sample_abstracts
from ingest.text.readers import read_documents
from ingest.text.records import Document
from ingest.text.writer import write_documents
from tests.conftest import REPO, shared_data

pytestmark = pytest.mark.neo4j  # (integration: real services; only the last test writes to Neo4j)


def _corpus(n: int = 60) -> list[Document]:
    docs = list(read_documents(shared_data("ner", "BC5CDR_DevelopmentSet.PubTator.txt")))[:n]
    return docs + list(read_documents(sample_abstracts()))


def _as_json(docs) -> list[dict]:
    return [d.to_json() for d in docs]


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline(ner=False, gene_ner=False)


def test_cli_extract_on_local_cluster_equals_single_process(tmp_path):
    src = tmp_path / "docs.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for d in _corpus(40):
            fh.write(json.dumps({"id": d.id, "text": d.text}) + "\n")
        fh.write(json.dumps({"id": "empty", "text": ""}) + "\n")  # rejected alike in both runs
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    outs = {}
    for name, extra in (("single", []), ("cluster", ["--cluster", "local:2", "--partition-size", "7"])):
        out = tmp_path / f"{name}.jsonl"
        proc = subprocess.run([sys.executable, "-m", "jobs.cli", "extract", "--input", str(src), "--output", str(out),
                               "--no-ner", *extra], env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        outs[name] = (proc.stdout.strip(), out.read_bytes(), Path(f"{out}.rejects.tsv").read_text())
    assert outs["cluster"] == outs["single"]
    assert outs["single"][1].count(b"\n") == 45 and "rejected 1" in outs["single"][0]
    bad = subprocess.run([sys.executable, "-m", "jobs.cli", "extract", "--input", str(src), "--output",
                          str(tmp_path / "x.jsonl"), "--cluster", "local:zero"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "local:N" in bad.stderr and "Traceback" not in bad.stderr


def test_each_worker_builds_the_pipeline_once_and_order_is_kept(nlp):
    docs = _corpus(60)
    reference = _as_json(extract_documents(nlp, iter(docs)))
    stats: dict = {}
    with dask_client("local:2") as client:
        got = _as_json(extract_on_cluster(iter(docs), client, ner=False, gene_ner=False, partition_size=4,
                                          max_in_flight=3, stats=stats))
    assert got == reference
    assert stats["partitions"] == -(-len(docs) // 4)
    assert stats["workers"] and all(built == 1 for built in stats["workers"].values())


def test_killed_worker_mid_run_loses_and_duplicates_nothing(nlp):
    base = _corpus(60)
    # long documents (about 4,000 words each) so that partitions are still running when a worker is killed
    docs = [Document(id=f"long-{k}", text=" ".join(d.text for d in base[k * 6:(k + 1) * 6])) for k in range(10)]
    reference = _as_json(extract_documents(nlp, iter(docs)))
    killed = None
    got = []
    with dask_client("local:2") as client:
        stream = extract_on_cluster(iter(docs), client, ner=False, gene_ner=False, partition_size=1, max_in_flight=4)
        for d in stream:
            got.append(d.to_json())
            if killed is None:
                deadline = time.monotonic() + 60
                while killed is None and time.monotonic() < deadline:
                    busy = [w for w, keys in client.processing().items() if keys]
                    if busy:
                        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                        os.kill(pid, signal.SIGKILL)
                        killed = (busy[0], pid)
                    else:
                        time.sleep(0.05)
        assert killed is not None, "no partition was running: nothing was killed"
        pids_after = set(client.run(os.getpid).values())
    assert killed[1] not in pids_after
    assert got == reference  # every document once, in order


def test_ingest_text_from_the_cluster_writes_the_same_graph(graph, nlp):
    from tests.integration.test_ingest_graph import full_state

    docs = list(read_documents(sample_abstracts()))
    write_documents(graph, extract_documents(nlp, iter(docs)), batch_size=50)
    reference = full_state(graph)
    graph.write("MATCH (n) DETACH DELETE n")
    with dask_client("local:2") as client:
        write_documents(graph, extract_on_cluster(iter(docs), client, ner=False, gene_ner=False, partition_size=2),
                        batch_size=50)
        assert full_state(graph) == reference
        write_documents(graph, extract_on_cluster(iter(docs), client, ner=False, gene_ner=False, partition_size=3),
                        batch_size=50)  # again: idempotent
    assert full_state(graph) == reference
