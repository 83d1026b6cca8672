"""Issue 21 items 8-11 (bad input to `medkg ingest graph`), without a server.

The loader is the real one; its sink is :class:`graph_engine.bulk.BulkSink` (the
``--bulk`` path's writer: the neo4j-admin import CSVs it writes are read back), so
each test sees exactly what would be written. For Hetionet edges the sink's column
writer is used, as on the online column path. The same cases run against a real
server in ``tests/integration/test_bad_input.py``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from graph_engine.bulk import ARRAY_DELIMITER, BulkSink
from graph_engine.errors import IngestError
from graph_engine.limits import INDEX_KEY_MAX_BYTES, MAX_VALUE_CHARS, value_problem
from graph_engine.records import EdgeRecord, NodeRecord
from ingest.curated import LoadSummary, load_graph, record_problem

pytestmark = pytest.mark.unit

NODES_HEADER = "id\tname\tkind\n"
EDGES_HEADER = "source\tmetaedge\ttarget\n"
BIG_ID = "DOID:" + "9" * 20_000
WIDE_NAME = "é" * (INDEX_KEY_MAX_BYTES // 2 + 1)  # fewer characters than the limit, more bytes


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def load(tmp_path: Path, fmt: str, nodes: Path, edges: Path, **kw) -> tuple[LoadSummary, dict[str, dict[str, str]], list]:
    """Load into a BulkSink; returns the summary, the nodes written (id -> row) and the relationships."""
    sink = BulkSink(tmp_path / "bulk")
    sink.directory.mkdir(exist_ok=True)
    summary = load_graph(sink, fmt, nodes, edges, progress=False, rejects_path=tmp_path / "rejects.tsv", **kw)  # type: ignore[arg-type]
    node_files, rel_files = sink.close()
    written: dict[str, dict[str, str]] = {}
    for _, path in node_files:
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                written[row[next(k for k in row if k.startswith("id:ID"))]] = row
    rels = []
    for _, path in rel_files:
        with open(path, encoding="utf-8", newline="") as fh:
            rels += [tuple(r[:2]) for r in list(csv.reader(fh))[1:]]
    return summary, written, rels


def rejects(tmp_path: Path) -> list[list[str]]:
    lines = (tmp_path / "rejects.tsv").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""  # one reject per line: no raw line break leaks into the file
    return [line.split("\t") for line in lines[1:-1]]


def balanced(s: LoadSummary) -> None:
    assert s.read == s.written + s.rejected
    assert all(c.read == c.written + c.rejected for c in [*s.nodes.values(), *s.edges.values()])


# ------------------------------------------------------------------ 8: sizes
def test_oversized_id_and_name_rejected_with_line_generic(tmp_path):
    nodes = write(tmp_path / "nodes.csv", "id,label,name\n"
                  "DOID:1,Disease,one\n"
                  f"{BIG_ID},Disease,huge id\n"          # line 3
                  f"DOID:3,Disease,{WIDE_NAME}\n"        # line 4: 8,166 bytes in 4,083 characters
                  "DOID:4,Disease,four\n")
    edges = write(tmp_path / "edges.csv", "source,type,target,source_label,target_label\n"
                  "DOID:1,RESEMBLES,DOID:4,Disease,Disease\n"
                  f"DOID:1,RESEMBLES,{BIG_ID},Disease,Disease\n")  # line 3
    s, written, rels = load(tmp_path, "generic", nodes, edges, on_error="skip")
    balanced(s)
    assert (s.read, s.written, s.rejected) == (6, 3, 3)
    assert set(written) == {"DOID:1", "DOID:4"} and rels == [("DOID:1", "DOID:4")]
    got = {(Path(r[0]).name, r[1]): r[2] for r in rejects(tmp_path)}
    assert set(got) == {("nodes.csv", "3"), ("nodes.csv", "4"), ("edges.csv", "3")}
    assert got[("nodes.csv", "3")].startswith(f"id is 20,005 bytes (UTF-8); the limit is {INDEX_KEY_MAX_BYTES:,} bytes")
    assert got[("nodes.csv", "4")].startswith(f"name is {INDEX_KEY_MAX_BYTES + 2:,} bytes")
    assert got[("edges.csv", "3")].startswith("target id is 20,005 bytes")
    with pytest.raises(IngestError) as err:
        load(tmp_path, "generic", nodes, edges)
    assert (err.value.path, err.value.line) == (str(nodes), 3) and "limit is 8,164 bytes" in err.value.reason


def test_oversized_hetionet_ids_rejected_on_the_column_path(tmp_path):
    big = "Gene::" + "1" * 9000
    nodes = write(tmp_path / "n.tsv", NODES_HEADER + "Gene::1\tA1BG\tGene\nGene::2\tA2M\tGene\n"
                  f"{big}\tbig\tGene\n"                         # line 4
                  f"Gene::3\t{'n' * (INDEX_KEY_MAX_BYTES + 1)}\tGene\n")  # line 5: a name over the limit
    edges = write(tmp_path / "e.sif", EDGES_HEADER + "Gene::1\tGiG\tGene::2\n" + f"Gene::1\tGiG\t{big}\n")
    s, written, rels = load(tmp_path, "hetionet", nodes, edges, on_error="skip")
    balanced(s)
    assert set(written) == {"NCBIGene:1", "NCBIGene:2"} and rels == [("NCBIGene:1", "NCBIGene:2")]
    got = {(Path(r[0]).name, r[1]): r[2] for r in rejects(tmp_path)}
    assert set(got) == {("n.tsv", "4"), ("n.tsv", "5"), ("e.sif", "3")}
    assert "limit is 8,164 bytes" in got[("e.sif", "3")] and "missing endpoint" not in got[("e.sif", "3")]


def test_value_caps(tmp_path):
    nodes = write(tmp_path / "nodes.csv", "id,label,note,tags:list\n"
                  f"DOID:1,Disease,{'x' * MAX_VALUE_CHARS},a|b\n"
                  f"DOID:2,Disease,ok,a|{'y' * (MAX_VALUE_CHARS - 1)}\n"  # 131,073 characters in the cell
                  f"DOID:3,Disease,ok,{'z' * 2000}\n"
                  "DOID:4,Disease,line\nbreak,\n")  # an unquoted line break: a broken row, not an id with a newline
    edges = write(tmp_path / "edges.csv", "source,type,target\n")
    s, written, _ = load(tmp_path, "generic", nodes, edges, on_error="skip")
    balanced(s)
    assert set(written) == {"DOID:1", "DOID:3"}
    reasons = {r[1]: r[2] for r in rejects(tmp_path)}
    assert "longer than 131,072 characters" in reasons["3"]
    assert "expected 4 columns, got 3" in reasons["5"] and "expected 4 columns, got 2" in reasons["6"]


def test_ids_with_control_characters_are_refused():
    assert "control character" in (record_problem(NodeRecord("Disease", "DOID:1\nDOID:2")) or "")
    assert "control character" in (record_problem(EdgeRecord("TREATS", "Drug", "DB1", "Disease", "DOID\t1")) or "")
    assert record_problem(NodeRecord("Disease", "DOID:1", name="two\nlines")) is None  # names may hold line breaks


# ------------------------------------------------------------------ 9: multi-line records
@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_quoted_multiline_fields_are_kept_and_lines_stay_right(tmp_path, suffix, sep):
    rows = [
        ["id", "label", "name", "note"],
        ["DOID:1", "Disease", '"pain\nof the\nback"', '"a ""quoted"" word\r\nand a second line"'],  # lines 2-5
        ["DOID:2", "Disease", "two", "plain"],                                                     # line 6
        ["DOID:3", "Disease", "three"],                                                            # line 7: bad
        ["DOID:4", "Disease", '"four\n\nwith a blank line"', "x"],                                 # lines 8-10
        ["DOID:5", "Disease", "five", "y", "extra"],                                               # line 11: bad
    ]
    nodes = write(tmp_path / f"nodes{suffix}", "".join(sep.join(r) + "\n" for r in rows))
    edges = write(tmp_path / f"edges{suffix}", sep.join(["source", "type", "target"]) + "\n"
                  + sep.join(["DOID:1", "RESEMBLES", "DOID:4"]) + "\n")
    s, written, rels = load(tmp_path, "generic", nodes, edges, on_error="skip")
    balanced(s)
    assert (s.read, s.written, s.rejected) == (6, 4, 2)
    assert written["DOID:1"]["name"] == "pain\nof the\nback"
    assert written["DOID:1"]["note:string"] == 'a "quoted" word\nand a second line'
    assert written["DOID:4"]["name"] == "four\n\nwith a blank line" and written["DOID:2"]["name"] == "two"
    assert rels == [("DOID:1", "DOID:4")]
    assert [r[1] for r in rejects(tmp_path)] == ["7", "11"]
    with pytest.raises(IngestError) as err:
        load(tmp_path, "generic", nodes, edges)
    assert err.value.line == 7 and "expected 4 columns, got 3" in err.value.reason


def test_multiline_record_error_names_its_span_and_raw_stays_one_line(tmp_path):
    nodes = write(tmp_path / "nodes.csv", 'id,label,name\nDOID:1,Disease,ok\nDOID:2,Disease,"unclosed\nDOID:3,Disease,three\n')
    edges = write(tmp_path / "edges.csv", "source,type,target\n")
    s, written, _ = load(tmp_path, "generic", nodes, edges, on_error="skip")
    balanced(s)
    assert set(written) == {"DOID:1"}
    (rej,) = rejects(tmp_path)
    assert rej[1] == "3" and "spans lines 3-4" in rej[2] and "quote" in rej[2]
    assert rej[3] == 'DOID:2,Disease,"unclosed\\nDOID:3,Disease,three'


def test_bad_utf8_inside_a_multiline_record_names_its_line(tmp_path):
    nodes = tmp_path / "nodes.csv"
    nodes.write_bytes(b'id,label,name\nDOID:1,Disease,"two\nlines \xff"\nDOID:2,Disease,ok\n')
    edges = write(tmp_path / "edges.csv", "source,type,target\n")
    s, written, _ = load(tmp_path, "generic", nodes, edges, on_error="skip")
    balanced(s)
    assert set(written) == {"DOID:2"}
    (rej,) = rejects(tmp_path)
    assert rej[1] == "2" and "invalid UTF-8" in rej[2] and "(line 3)" in rej[2]


# ------------------------------------------------------------------ 10: NaN and infinity
def test_nan_and_infinity_are_rejected_with_line(tmp_path):
    nodes = write(tmp_path / "nodes.csv", "id,label,score:float\n"
                  "DOID:1,Disease,0.5\nDOID:2,Disease,NaN\nDOID:3,Disease,inf\nDOID:4,Disease,-Infinity\n"
                  "DOID:5,Disease,1e999\nDOID:6,Disease,2\n")
    edges = write(tmp_path / "edges.csv", "source,type,target,weight:float\n"
                  "DOID:1,RESEMBLES,DOID:6,nan\nDOID:1,RESEMBLES,DOID:6,2.5\n")
    s, written, rels = load(tmp_path, "generic", nodes, edges, on_error="skip")
    balanced(s)
    assert set(written) == {"DOID:1", "DOID:6"} and written["DOID:1"]["score:double"] == "0.5"
    assert len(rels) == 1
    got = {(Path(r[0]).name, r[1]): r[2] for r in rejects(tmp_path)}
    assert set(got) == {("nodes.csv", "3"), ("nodes.csv", "4"), ("nodes.csv", "5"), ("nodes.csv", "6"), ("edges.csv", "2")}
    assert got[("nodes.csv", "3")] == "bad value in column 'score': 'NaN' is not a finite number (NaN and ±infinity are refused)"
    assert "'1e999' is not a finite number" in got[("nodes.csv", "6")]


def test_non_finite_floats_in_lists_are_refused():
    assert value_problem([1.0, 2.0], "scores") is None
    assert value_problem([1.0, math.nan], "scores") == "scores[1] is nan: NaN and ±infinity are refused (expected a finite number)"
    assert "inf" in (record_problem(NodeRecord("Disease", "DOID:1", properties={"v": (0.1, -math.inf)})) or "")
    assert "column 'w'" in (record_problem(EdgeRecord("TREATS", "Drug", "DB1", "Disease", "DOID:1",
                                                      properties={"w": [math.inf]})) or "")


# ------------------------------------------------------------------ 11: column names, empty files
def test_long_column_name_names_file_line_and_limit(tmp_path):
    name = "c" * 70
    nodes = write(tmp_path / "nodes.csv", f"id,label,{name}\nDOID:1,Disease,x\n")
    edges = write(tmp_path / "edges.csv", "source,type,target\n")
    with pytest.raises(IngestError) as err:
        load(tmp_path, "generic", nodes, edges)
    assert (err.value.path, err.value.line) == (str(nodes), 1)
    assert "has 70 characters; the limit is 63" in err.value.reason and "c" * 40 in err.value.reason
    long_edge = write(tmp_path / "edges2.csv", f"source,type,target,{name}:float\n")
    with pytest.raises(IngestError) as err:
        load(tmp_path, "generic", write(tmp_path / "n.csv", "id,label\nDOID:1,Disease\n"), long_edge)
    assert (err.value.path, err.value.line) == (str(long_edge), 1) and "limit is 63" in str(err.value)
    dup = write(tmp_path / "dup.csv", "id,label,name,name\n")
    with pytest.raises(IngestError, match="duplicate column 'name'"):
        load(tmp_path, "generic", dup, edges)


@pytest.mark.parametrize("fmt, nodes_text, edges_text", [
    ("generic", "id,label\nDOID:1,Disease\n", "source,type,target\n"),
    ("hetionet", NODES_HEADER + "Gene::1\tA1BG\tGene\n", EDGES_HEADER),
])
def test_empty_files(tmp_path, fmt, nodes_text, edges_text):
    suffix = ".csv" if fmt == "generic" else ".tsv"
    empty = write(tmp_path / f"empty{suffix}", "")
    nodes = write(tmp_path / f"nodes{suffix}", nodes_text)
    edges = write(tmp_path / f"edges{suffix}", edges_text)
    for args in ((empty, edges), (nodes, empty)):
        with pytest.raises(IngestError) as err:  # no header at all: an error naming the file
            load(tmp_path, fmt, *args)
        assert err.value.path == str(empty) and err.value.reason.startswith("empty file: no header row")
    blank = write(tmp_path / f"blank{suffix}", "\n\n")
    with pytest.raises(IngestError, match="empty file"):
        load(tmp_path, fmt, blank, edges)
    # a header and no row: loads, with a warning naming the file
    s, written, rels = load(tmp_path, fmt, nodes, edges)
    assert len(written) == 1 and rels == [] and s.warnings == [f"{edges}: no data rows (a header only): no edges read from it"]
    header_only = write(tmp_path / f"header{suffix}", nodes_text.splitlines()[0] + "\n")
    s, written, _ = load(tmp_path, fmt, header_only, edges)
    assert written == {} and [w.split(":")[0] for w in s.warnings] == [str(header_only), str(edges)]
    assert s.as_dict()["warnings"] == s.warnings


def test_summary_json_balances(tmp_path):
    nodes = write(tmp_path / "nodes.csv", "id,label,score:float\nDOID:1,Disease,1\nDOID:2,Disease,nan\n")
    edges = write(tmp_path / "edges.csv", "source,type,target\nDOID:1,RESEMBLES,DOID:1\n")
    s, _, _ = load(tmp_path, "generic", nodes, edges, on_error="skip")
    d = s.as_dict()
    assert (d["read"], d["written"], d["rejected"]) == (3, 2, 1) and d["read"] == d["written"] + d["rejected"]
    assert d["nodes"]["(unparsable)"] == {"read": 1, "written": 0, "rejected": 1}
    assert d["rejects"] == str(tmp_path / "rejects.tsv")


def test_bulk_sink_marks_multiline_values(tmp_path):
    sink = BulkSink(tmp_path)
    sink.upsert_nodes([NodeRecord("Disease", "DOID:1", name="one line", synonyms=("a", "b"))])
    assert not sink.multiline
    sink.upsert_nodes([NodeRecord("Disease", "DOID:2", name="two\nlines", synonyms=("a", "b"))])
    assert sink.multiline and ARRAY_DELIMITER
    sink.close()
