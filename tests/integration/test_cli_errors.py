"""What a user sees when things break (issue 21 item 12): every command against a stopped server, and broken
inputs, end with ONE 'Error: ...' line on stderr naming the server or file, and a non-zero exit — no traceback.

Runs the real CLI (``python -m jobs.cli``) in subprocesses; the "stopped server" is a closed loopback port, and
a Bolt endpoint that dies mid-command is a real TCP listener that accepts and then drops the connection."""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "MEDKG_HOME": str(home), "PYTHONPATH": str(REPO),
            "NEO4J_URI": f"bolt://127.0.0.1:{_closed_port()}", "NEO4J_USER": "neo4j", "NEO4J_PASSWORD": "x",
            "OMP_NUM_THREADS": "1"}


def medkg(env, *args, timeout=240):
    return subprocess.run([sys.executable, "-m", "jobs.cli", *map(str, args)], env=env, capture_output=True,
                          text=True, cwd=REPO, timeout=timeout)


def assert_one_line_error(out, *needles):
    assert out.returncode != 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "Aborted!" not in out.stderr, out.stderr
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], out.stderr
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    (d / "nodes.csv").write_text("id,label,name\nDOID:1,Disease,flu\n")
    (d / "edges.csv").write_text("source,target,type\n")
    (d / "notes.jsonl").write_text(json.dumps({"id": "n1", "text": "fever and chills"}) + "\n")
    return d


STOPPED = [
    ("query", "RETURN 1"),
    ("runs", "list"),
    ("top", "Drug", "--by", "pagerank"),
    ("similar", "DOID:1"),
    ("enrich", "pagerank", "--quiet"),
    ("enrich", "hits", "--quiet"),
    ("enrich", "ppr", "--quiet", "--seed", "DOID:1"),
    ("enrich", "embed", "--quiet"),
    ("recommend", "fit", "--method", "popularity"),
    ("evaluate", "recommend", "--source", "neo4j", "--methods", "random"),
]


@pytest.mark.parametrize("args", STOPPED, ids=lambda a: " ".join(a[:2]))
def test_stopped_server_is_one_line(env, args):
    assert_one_line_error(medkg(env, *args), env["NEO4J_URI"])


def test_ingest_against_stopped_server(env, files):
    assert_one_line_error(medkg(env, "ingest", "graph", "--format", "generic", "--nodes", files / "nodes.csv",
                                "--edges", files / "edges.csv", "--quiet"), env["NEO4J_URI"])


def test_server_dying_mid_command(env):
    """A Bolt port that accepts, then drops every connection (a crashing server): one line naming it."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            c.recv(64)
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        uri = f"bolt://127.0.0.1:{srv.getsockname()[1]}"
        out = medkg(dict(env, NEO4J_URI=uri), "query", "RETURN 1")
        assert_one_line_error(out, uri)
    finally:
        stop.set()
        t.join()
        srv.close()


def test_unwritable_output_path(env, files, tmp_path):
    out = medkg(env, "models", "predict", "--kind", "text", "--input", files / "notes.jsonl",
                "--output", files / "notes.jsonl" / "x.jsonl")
    assert_one_line_error(out, str(files / "notes.jsonl"))
    # a folder nobody can create, root included (CI runs as root, which ignores 0500 directories)
    ro = Path("/proc/medkg-not-writable")
    out = medkg(env, "extract", "--input", files / "notes.jsonl", "--no-ner", "--output", ro / "x.jsonl")
    assert_one_line_error(out, str(ro))


def test_truncated_gzip_names_the_file(env, files, tmp_path):
    gz = tmp_path / "notes.jsonl.gz"
    data = gzip.compress(("\n".join(json.dumps({"id": f"n{i}", "text": "fever " * 50}) for i in range(200))).encode())
    gz.write_bytes(data[: len(data) // 2])
    out = medkg(env, "extract", "--input", gz, "--format", "jsonl", "--no-ner", "--output", tmp_path / "o.jsonl")
    assert_one_line_error(out, str(gz), "truncated")


def _tampered_image_model(tmp_path, payload: bytes):
    d = tmp_path / "image-model"
    shutil.copytree(REPO / "models" / "artifacts" / "image-default", d)
    (d / "weights.pt").write_bytes(payload)
    manifest = json.loads((d / "model.json").read_text())
    manifest["files"]["weights.pt"] = hashlib.sha256(payload).hexdigest()  # an attacker rewrites both
    (d / "model.json").write_text(json.dumps(manifest))
    return d


class Payload:
    def __reduce__(self):
        return (print, ("payload ran",))


def test_model_file_refused_by_torch_load(env, tmp_path):
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"w": Payload()}, buf)
    d = _tampered_image_model(tmp_path, buf.getvalue())
    np.savez(tmp_path / "imgs.npz", images=np.zeros((2, 28, 28), dtype=np.uint8))
    out = medkg(env, "models", "predict", "--kind", "image", "--model", d, "--input", tmp_path / "imgs.npz",
                "--output", tmp_path / "p.jsonl")
    err = assert_one_line_error(out, "weights.pt")
    assert "payload ran" not in out.stdout + out.stderr
    assert "never load it with weights_only=False" in err or "weights_only=True" in err


def test_wrong_npz(env, tmp_path):
    obj = tmp_path / "objects.npz"
    np.savez(obj, images=np.array([{"a": 1}, None], dtype=object))
    out = medkg(env, "models", "predict", "--kind", "image", "--input", obj, "--output", tmp_path / "p.jsonl")
    assert_one_line_error(out, str(obj))
    shape = tmp_path / "shape.npz"
    np.savez(shape, images=np.zeros((3,), dtype=np.float32))
    out = medkg(env, "models", "predict", "--kind", "image", "--input", shape, "--output", tmp_path / "p.jsonl")
    assert_one_line_error(out, str(shape))
    pk = tmp_path / "pickle.npz"
    pk.write_bytes(pickle.dumps({"images": 1}))
    out = medkg(env, "models", "predict", "--kind", "image", "--input", pk, "--output", tmp_path / "p.jsonl")
    assert_one_line_error(out, str(pk))
