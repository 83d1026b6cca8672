"""jobs.errors: driver and file failures become one line naming the server / file (issue 21 item 12)."""

from __future__ import annotations

import gzip

import click
import neo4j.exceptions as nx
import pytest
from click.testing import CliRunner

from jobs.errors import MedkgGroup, one_line, user_message

pytestmark = pytest.mark.unit


def test_messages_are_one_line_and_say_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:7999")
    msg = user_message(nx.ServiceUnavailable("Failed to read from defunct connection\nIPv4Address(('x', 1))"))
    assert "\n" not in msg and "bolt://127.0.0.1:7999" in msg and "medkg neo4j status" in msg
    p = tmp_path / "broken.gz"
    p.write_bytes(gzip.compress(b"x" * 10000)[:20])
    try:
        with gzip.open(p, "rb") as fh:
            fh.read()
    except EOFError as e:
        assert user_message(e).startswith(f"{p}: truncated")
    else:
        raise AssertionError("a truncated gzip must raise")
    try:
        open(tmp_path / "no" / "x.txt", "w")
    except OSError as e:
        assert user_message(e).startswith(str(tmp_path / "no" / "x.txt"))
    assert user_message(ZeroDivisionError("bug")) is None
    assert one_line("a\n  b\tc") == "a b c"


def test_group_turns_unexpected_errors_into_one_line(monkeypatch):
    monkeypatch.delenv("MEDKG_DEBUG", raising=False)

    @click.group(cls=MedkgGroup)
    def root():
        pass

    @root.command()
    def boom():
        raise nx.SessionExpired("gone")

    @root.command()
    def bug():
        raise ZeroDivisionError("x")

    out = CliRunner().invoke(root, ["boom"])
    assert out.exit_code == 1 and out.output.startswith("Error: lost the connection to Neo4j")
    out = CliRunner().invoke(root, ["bug"])
    assert out.exit_code == 1 and "internal error ZeroDivisionError" in out.output and "MEDKG_DEBUG=1" in out.output
