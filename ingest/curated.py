"""Loaders for curated node/edge files: Hetionet (nodes TSV + edges SIF) and the
generic medkg CSV/TSV format.

Streaming (line by line, gzip or plain), batched through
:class:`graph_engine.client.GraphClient`, idempotent (``MERGE`` on ids), with a
progress bar and a summary where, for every kind, ``read = written + rejected``.

Bad input (a malformed row, an unknown kind or label, a missing endpoint, bad
UTF-8) either stops the load with an :class:`IngestError` naming the file, the
line and the reason — before any row of the batch holding it is written — or,
with ``on_error="skip"``, goes to a rejects file (``file, line, reason, raw``)
and the load goes on. Batches written before a stop stay written; since writes
are idempotent, fixing the file and loading again resumes the load.

Every record is also checked against :mod:`graph_engine.limits` (ids and names
that fit Neo4j's index key limit, finite floats, cells of sane size) before it is
buffered, on every path (row, column, bulk): see :func:`record_problem`. An empty
file (no header) is an error; a header without rows loads nothing, with a warning
in :attr:`LoadSummary.warnings`.

Generic format (CSV for ``.csv``, TSV for ``.tsv``; ``.gz`` allowed; UTF-8; a header row;
parsed as CSV *records*, so a quoted field may span lines; a record is reported at the
line it starts on):

* nodes: ``id``, ``label`` required; ``name``, ``synonyms``, ``xrefs`` (``|``-separated) optional;
  any other column becomes a property. A header may carry a type: ``year:int``,
  ``score:float``, ``approved:bool``, ``tags:list`` (``|``-separated); default string.
* edges: ``source``, ``type``, ``target`` required; ``source_label``, ``target_label``
  optional when the ids are defined in the nodes file of the same load; other
  columns become relationship properties, typed as above.
* entity labels only: a record label (``Patient``, ``Case``, ``Run`` …, see
  :func:`graph_engine.phi.record_label_refusal`) is a bad row, and so is an edge touching one;
  such rows reach the rejects file without their raw text. An id that looks like PHI is never
  echoed in a message (:func:`graph_engine.phi.shown`).
"""

from __future__ import annotations

import contextlib
import functools
import csv
import gzip
import io
import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from graph_engine.client import GraphClient
from graph_engine.errors import IngestError, SchemaError
from graph_engine.hetionet import HetionetMapping, MappingError
from graph_engine.phi import record_label_refusal, shown
from graph_engine.records import EdgeRecord, NodeRecord
from graph_engine.limits import INDEX_KEY_MAX_BYTES, MAX_VALUE_CHARS, fits_index, index_key_problem, value_problem
from graph_engine.schema import MAX_PROPERTY_NAME, Schema, check_property_key
from graph_engine.settings import Settings


class RowError(Exception):
    """A bad row; the loader adds file and line."""


class RecordRowError(RowError):
    """A row the generic loader refuses because it writes a record label (``Patient`` …).

    Its raw text is withheld from the rejects file (it may hold PHI); ``node_id`` (kept in
    memory only) lets the loader refuse the relationships that touch the refused node.
    """

    def __init__(self, reason: str, node_id: str | None = None) -> None:
        super().__init__(reason)
        self.node_id = node_id


def _compose(outer: Callable[[Any], EdgeRecord], inner: Callable[[], Any]) -> EdgeRecord:
    return outer(inner())


def _located(error: IngestError, path: Path) -> IngestError:
    """``error`` with ``path`` filled in when the raiser did not know the file."""
    return error if error.path is not None else IngestError(error.reason, str(path), error.line)


# ----------------------------------------------------------------------------- reading
@dataclass
class Line:
    number: int
    text: str | None  # None when the bytes are not valid UTF-8
    raw: bytes
    error: str | None = None
    end: int | None = None  # last line of a multi-line CSV/TSV record

    @staticmethod
    def decode(number: int, body: bytes) -> "Line":
        """A line strictly decoded as UTF-8 (``text`` None and ``error`` set when it is not)."""
        try:
            return Line(number, body.decode("utf-8"), body)
        except UnicodeDecodeError as e:
            return Line(number, None, body, f"invalid UTF-8 at byte {e.start}: expected UTF-8 text")


class LineReader:
    """Iterate over the lines of a plain or gzip file, decoding each line strictly as UTF-8.

    ``position`` is the number of bytes consumed from the file on disk (compressed
    bytes for gzip), for progress bars.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self._raw = open(self.path, "rb")
        magic = self._raw.read(2)
        self._raw.seek(0)
        self._fh: io.BufferedIOBase = gzip.GzipFile(fileobj=self._raw) if magic == b"\x1f\x8b" else self._raw  # type: ignore[assignment]

    @property
    def position(self) -> int:
        return self._raw.tell()

    def __iter__(self) -> Iterator[Line]:
        try:
            for number, raw in enumerate(self._fh, start=1):
                yield Line.decode(number, raw.rstrip(b"\r\n"))
        except (OSError, EOFError) as e:  # truncated or corrupt gzip
            raise IngestError(f"cannot read file: {e}", str(self.path)) from e

    def blocks(self, size: int = 1 << 22) -> Iterator[tuple[int, list[bytes]]]:
        """Raw lines (without line ends) in blocks of about ``size`` bytes: ``(first line number, lines)``."""
        number, rest = 1, b""
        try:
            while True:
                chunk = self._fh.read(size)
                if not chunk:
                    break
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                rest = data[cut:]
                lines = data[:cut - 1].split(b"\n")
                yield number, lines
                number += len(lines)
            if rest:
                yield number, [rest]
        except (OSError, EOFError) as e:  # truncated or corrupt gzip
            raise IngestError(f"cannot read file: {e}", str(self.path)) from e

    def close(self) -> None:
        self._raw.close()


class _RecordFeed:
    """Lines for :func:`csv.reader` (line ends kept, so quoted fields may span lines), remembering
    which lines the current record came from.

    ``csv.reader`` asks for one more line only while a record is unfinished, so the lines
    taken between :meth:`start` and the record's return are exactly that record's.
    """

    def __init__(self, lines: Iterator[Line]) -> None:
        self._lines = lines
        self.taken: list[Line] = []
        self.exhausted = False  # set when asked for a line after the last one

    def __iter__(self) -> Iterator[str]:
        append = self.taken.append
        for line in self._lines:
            append(line)
            text = line.text
            yield (text if text is not None else line.raw.decode("utf-8", errors="replace")) + "\n"
        self.exhausted = True  # (inside a record: the file ended in a quoted field)

    def start(self) -> None:
        self.taken.clear()

    def record(self) -> Line:
        """The record as one :class:`Line`: its first line number, its text and bytes (lines joined by ``\\n``)."""
        taken = self.taken
        if len(taken) == 1:
            line = taken[0]
            line.end = line.number
            return line
        if not taken:  # pragma: no cover - csv.reader always takes a line first
            return Line(0, "", b"")
        text = "\n".join(t.text or "" for t in taken)  # (an undecodable line: see bad())
        return Line(taken[0].number, text, b"\n".join(t.raw for t in taken), end=taken[-1].number)

    def bad(self) -> Line | None:
        """The record's first line that is not valid UTF-8."""
        return next((t for t in self.taken if t.text is None), None)

    def span(self) -> str:
        """`` (the record spans lines a-b: ...)`` for a multi-line record, else ``""``."""
        if len(self.taken) < 2:
            return ""
        return (f" (the record spans lines {self.taken[0].number}-{self.taken[-1].number}: "
                "a quoted field holds line breaks; is a quote unbalanced?)")


# ----------------------------------------------------------------------------- summary
@dataclass
class KindCount:
    read: int = 0
    written: int = 0
    rejected: int = 0


@dataclass
class LoadSummary:
    """Counters per kind (node label, or ``(Source)-[TYPE]->(Target)``)."""

    nodes: dict[str, KindCount] = field(default_factory=lambda: defaultdict(KindCount))
    edges: dict[str, KindCount] = field(default_factory=lambda: defaultdict(KindCount))
    rejects_path: Path | None = None
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (bulk path)
    warnings: list[str] = field(default_factory=list)  # problems that cost no row (a file without data rows)

    def _total(self, part: dict[str, KindCount], attr: str) -> int:
        return sum(getattr(c, attr) for c in part.values())

    @property
    def read(self) -> int:
        return self._total(self.nodes, "read") + self._total(self.edges, "read")

    @property
    def written(self) -> int:
        return self._total(self.nodes, "written") + self._total(self.edges, "written")

    @property
    def rejected(self) -> int:
        return self._total(self.nodes, "rejected") + self._total(self.edges, "rejected")

    def balanced(self) -> bool:
        return all(c.read == c.written + c.rejected for c in [*self.nodes.values(), *self.edges.values()])

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (``medkg ingest graph --json``): ``read = written + rejected``."""
        def part(p: dict[str, KindCount]) -> dict[str, dict[str, int]]:
            return {k: {"read": c.read, "written": c.written, "rejected": c.rejected} for k, c in sorted(p.items())}

        return {"read": self.read, "written": self.written, "rejected": self.rejected,
                "nodes": part(self.nodes), "relationships": part(self.edges),
                "rejects": str(self.rejects_path) if self.rejected and self.rejects_path else None,
                "warnings": list(self.warnings), "seconds": round(self.seconds, 3),
                **({"phases": {k: round(v, 3) for k, v in self.phases.items()}} if self.phases else {})}

    def render(self) -> str:
        lines = [f"{'kind':<48} {'read':>9} {'written':>9} {'rejected':>9}"]
        for title, part in (("nodes", self.nodes), ("relationships", self.edges)):
            lines.append(f"{title}:")
            for kind in sorted(part):
                c = part[kind]
                lines.append(f"  {kind:<46} {c.read:>9} {c.written:>9} {c.rejected:>9}")
            lines.append(
                f"  {'total':<46} {self._total(part, 'read'):>9} {self._total(part, 'written'):>9} "
                f"{self._total(part, 'rejected'):>9}"
            )
        rate = f" in {self.seconds:.1f}s" if self.seconds else ""
        lines.append(f"read {self.read} = written {self.written} + rejected {self.rejected}{rate}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- formats
_TYPED_HEADER = re.compile(r"^([a-z_][a-z0-9_]*)(?::(str|int|float|bool|list))?$")


def _convert(value: str, kind: str) -> Any:
    if kind == "str":
        return value
    if value == "":
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number (NaN and ±infinity are refused)")
        return number
    if kind == "bool":
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(f"expected a boolean (true/false), got {value!r}")
    return [v for v in value.split("|") if v]


def _split_list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split("|") if v.strip())


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _id_problem(value: str, what: str) -> str | None:
    if not value.isprintable() and _CONTROL.search(value):
        return f"{what} {value[:60]!r} contains a control character (a line break, tab ...); ids are single-line text"
    return index_key_problem(value, what)


#: any string of at most this many characters fits the index (4 bytes per character at most)
_SHORT = INDEX_KEY_MAX_BYTES // 4


def record_problem(rec: NodeRecord | EdgeRecord) -> str | None:
    """Why a parsed record cannot be written (an oversized id or name, a NaN, a huge value), or ``None``.

    Checked for every row of every format, before any write, so the row is rejected
    with its file and line instead of failing its whole batch at commit
    (see :mod:`graph_engine.limits`). Cheap checks first: most rows pass them all.
    """
    if isinstance(rec, NodeRecord):
        ident, name = rec.id, rec.name
        if not (len(ident) <= _SHORT and ident.isprintable()):
            problem = _id_problem(ident, "id")
            if problem:
                return problem
        if name and len(name) > _SHORT:
            problem = index_key_problem(name, "name")
            if problem:
                return problem
        for group, what in ((rec.synonyms, "synonyms"), (rec.xrefs, "xrefs")):
            if group and max(map(len, group)) > MAX_VALUE_CHARS:
                return value_problem(list(group), what)
    else:
        for ident, what in ((rec.source_id, "source id"), (rec.target_id, "target id")):
            if not (len(ident) <= _SHORT and ident.isprintable()):
                problem = _id_problem(ident, what)
                if problem:
                    return problem
    for key, value in rec.properties.items():
        kind = type(value)
        if kind is int or kind is bool or (kind is str and len(value) <= MAX_VALUE_CHARS):
            continue
        problem = value_problem(value, f"column {key!r}")
        if problem:
            return problem
    return None


class HetionetFormat:
    """Hetionet v1.0: ``id name kind`` TSV nodes (``Kind::local`` ids) and ``source metaedge target`` SIF edges."""

    name = "hetionet"

    def __init__(self, mapping_path: Path | None = None) -> None:
        self.mapping = HetionetMapping.load(mapping_path)
        self.source = self.mapping.source

    def curie(self, hetionet_id: str) -> tuple[str, str, str]:
        """``Kind::local`` -> ``(kind, label, CURIE)``; raises RowError if unknown."""
        try:
            return self.mapping.curie(hetionet_id)
        except MappingError as e:
            raise RowError(str(e)) from None

    @staticmethod
    def _data_lines(lines: Iterator[Line], header: list[str], what: str) -> Iterator[Line]:
        """Check the header row, then yield the data lines (blank lines skipped, undecodable ones kept)."""
        header_seen = False
        for line in lines:
            if line.text is not None and not header_seen:
                if not line.text.strip():
                    continue  # blank lines before the header
                header_seen = True
                if line.text.split("\t")[:3] != header:
                    raise IngestError(f"expected the Hetionet {what} header '{'<TAB>'.join(header)}'", line=line.number)
                continue
            if line.text is not None and not line.text.strip():
                continue
            yield line
        if not header_seen:
            raise IngestError(f"empty file: no header row (expected the Hetionet {what} header "
                              f"'{'<TAB>'.join(header)}')")

    def node_rows(self, lines: Iterator[Line]) -> Iterator[tuple[Line, Callable[[], NodeRecord]]]:
        for line in self._data_lines(lines, ["id", "name", "kind"], "nodes"):
            yield line, functools.partial(self._node, line.text or "")

    def _node(self, text: str) -> NodeRecord:
        parts = text.split("\t")
        if len(parts) != 3:
            raise RowError(f"expected 3 tab-separated columns (id, name, kind), got {len(parts)}")
        hid, name, kind = parts
        id_kind, label, curie = self.curie(hid)
        if id_kind != kind:
            raise RowError(f"kind column {kind!r} does not match the id's kind {id_kind!r}")
        if not name.strip():
            raise RowError("empty name")
        return NodeRecord(label=label, id=curie, name=name, source=self.source)

    def edge_rows(self, lines: Iterator[Line]) -> Iterator[tuple[Line, Callable[[], EdgeRecord]]]:
        for line in self._data_lines(lines, ["source", "metaedge", "target"], "SIF"):
            yield line, functools.partial(self._edge, line.text or "")

    def _edge(self, text: str) -> EdgeRecord:
        parts = text.split("\t")
        if len(parts) != 3:
            raise RowError(f"expected 3 tab-separated columns (source, metaedge, target), got {len(parts)}")
        src, metaedge, dst = parts
        try:
            s_kind, rel, t_kind = self.mapping.metaedge(metaedge)
        except MappingError as e:
            raise RowError(str(e)) from None
        sk, s_label, s_id = self.curie(src)
        tk, t_label, t_id = self.curie(dst)
        if sk != s_kind or tk != t_kind:
            raise RowError(f"metaedge {metaedge} joins {s_kind} to {t_kind}, but the row joins {sk} to {tk}")
        return EdgeRecord(rel, s_label, s_id, t_label, t_id, source=self.source)


class GenericFormat:
    """The documented medkg node/edge CSV/TSV format (see the module docstring)."""

    name = "generic"

    def __init__(self, schema: Schema, source: str) -> None:
        self.schema = schema
        self.source = source

    @staticmethod
    def _delimiter(path: Path, header: str) -> str:
        suffixes = [s.lower() for s in path.suffixes]
        if ".tsv" in suffixes or ".tab" in suffixes:
            return "\t"
        if ".csv" in suffixes:
            return ","
        return "\t" if "\t" in header else ","

    @staticmethod
    def _header(path: Path, line: Line, delim: str, required: tuple[str, ...]) -> list[tuple[str, str]]:
        """The typed columns of the header row; an :class:`IngestError` naming the column when one is bad."""
        header: list[tuple[str, str]] = []
        for c in next(csv.reader([line.text or ""], delimiter=delim)):
            m = _TYPED_HEADER.match(c.strip())
            if not m:
                raise IngestError(
                    f"bad column name {c!r}: expected snake_case, optionally typed (name:int|float|bool|list)",
                    str(path), line.number,
                )
            try:
                check_property_key(m.group(1))
            except SchemaError:
                raise IngestError(
                    f"column name {m.group(1)[:40]!r}... has {len(m.group(1))} characters; the limit is "
                    f"{MAX_PROPERTY_NAME}: a column becomes a property, and medkg writes property names into Cypher "
                    "text, so it accepts only snake_case names of at most that length (shorten it)",
                    str(path), line.number,
                ) from None
            if m.group(1) in {h for h, _ in header}:
                raise IngestError(f"duplicate column {m.group(1)!r}", str(path), line.number)
            header.append((m.group(1), m.group(2) or ("list" if m.group(1) in ("synonyms", "xrefs") else "str")))
        missing = [r for r in required if r not in {h for h, _ in header}]
        if missing:
            raise IngestError(f"missing required column(s) {missing}; header has {[h for h, _ in header]}",
                              str(path), line.number)
        return header

    def _rows(self, path: Path, lines: Iterator[Line], required: tuple[str, ...]) -> Iterator[tuple[Line, dict[str, Any] | RowError]]:
        """Typed rows, one per CSV/TSV *record*: a quoted field may hold line breaks, and the
        record is reported at the line it starts on."""
        lines = iter(lines)
        header: list[tuple[str, str]] | None = None
        delim = ","
        for line in lines:
            if line.text is None:
                yield line, RowError(line.error or "invalid UTF-8")
                continue
            if line.text.strip():
                line.text = line.text.removeprefix("\ufeff")  # a byte-order mark (spreadsheet exports)
                delim = self._delimiter(path, line.text)
                header = self._header(path, line, delim, required)
                break
        if header is None:
            raise IngestError(f"empty file: no header row (expected at least the columns {list(required)})", str(path))
        what = "TSV" if delim == "\t" else "CSV"
        feed = _RecordFeed(lines)
        reader = csv.reader(feed, delimiter=delim)
        while True:
            feed.start()
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                line = feed.record()
                if "field larger than field limit" in str(e):
                    yield line, RowError(f"a field is longer than {csv.field_size_limit():,} characters, the limit for "
                                         f"one value (an unclosed quote?){feed.span()}")
                else:
                    yield line, RowError(f"malformed {what} row: {e}{feed.span()}")
                continue
            line = feed.record()
            if feed.exhausted and feed.taken:
                yield line, RowError(f"unclosed quote: a quoted field starting on line {line.number} runs to the end "
                                     f"of the file{feed.span()}")
                continue
            if line.text is None:  # one line, not UTF-8
                yield line, RowError(line.error or "invalid UTF-8")
                continue
            if line.end == line.number:
                if not line.text.strip():
                    continue  # a blank line
            elif (bad := feed.bad()) is not None:
                yield line, RowError(f"{bad.error or 'invalid UTF-8'} (line {bad.number})")
                continue
            if len(values) != len(header):
                yield line, RowError(f"expected {len(header)} columns, got {len(values)}{feed.span()}")
                continue
            row: dict[str, Any] = {}
            try:
                for (name, kind), value in zip(header, values):
                    try:
                        row[name] = value if name in ("synonyms", "xrefs") else _convert(value, kind)
                    except ValueError as e:
                        raise ValueError(f"column {name!r}: {e}") from None
            except ValueError as e:
                yield line, RowError(f"bad value in {e}")
                continue
            yield line, row

    def node_rows(self, path: Path, lines: Iterator[Line]) -> Iterator[tuple[Line, Callable[[], NodeRecord]]]:
        for line, row in self._rows(path, lines, ("id", "label")):
            yield line, functools.partial(self._node, row)

    def _node(self, row: dict[str, Any] | RowError) -> NodeRecord:
        if isinstance(row, RowError):
            raise row
        node_id, label = (row.get("id") or "").strip(), (row.get("label") or "").strip()
        if not node_id:
            raise RowError("empty id")
        try:
            self.schema.check_label(label)
        except SchemaError as e:
            raise RowError(str(e)) from None
        self.check_loadable(label, node_id)
        props = {k: v for k, v in row.items() if k not in ("id", "label", "name", "synonyms", "xrefs") and v is not None}
        return NodeRecord(
            label=label, id=node_id, name=(row.get("name") or None), synonyms=_split_list(row.get("synonyms")),
            xrefs=_split_list(row.get("xrefs")), source=self.source, properties=props,
        )

    def check_loadable(self, label: str, node_id: str | None = None, end: str | None = None) -> None:
        """Raise :class:`RecordRowError` if ``label`` is a record label (never the row's values in the message)."""
        why = record_label_refusal(label, self.schema.record_labels)
        if why:
            raise RecordRowError(f"{end} {why}" if end else why, node_id)

    def edge_rows(self, path: Path, lines: Iterator[Line]) -> Iterator[tuple[Line, Callable[[], dict[str, Any]]]]:
        for line, row in self._rows(path, lines, ("source", "type", "target")):
            yield line, functools.partial(self._edge, row)

    def _edge(self, row: dict[str, Any] | RowError) -> dict[str, Any]:
        if isinstance(row, RowError):
            raise row
        for key in ("source", "target", "type"):
            if not (row.get(key) or "").strip():
                raise RowError(f"empty {key}")
        try:
            self.schema.check_relationship_type(row["type"].strip())
            for key in ("source_label", "target_label"):
                if row.get(key):
                    self.schema.check_label(row[key].strip())
        except SchemaError as e:
            raise RowError(str(e)) from None
        for key in ("source_label", "target_label"):
            if row.get(key):
                self.check_loadable(row[key].strip(), end=key)
        return row


# ----------------------------------------------------------------------------- loader
_PIPELINE_DEPTH = 2


class _WritePipeline:
    """Runs ``write(key, *args)`` calls on one background thread, in submission order.

    ``submit`` returns the ``(key, result)`` of the calls finished so far and blocks while
    more than ``_PIPELINE_DEPTH`` are waiting (bounded memory). The first failure is raised
    by the next ``submit`` / ``drain``; leaving the ``with`` block waits for every call
    still running, so nothing writes after the load returns or raises.
    """

    def __init__(self, write: Callable[..., int]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._write = write
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medkg-write")
        self._pending: list[tuple[Any, Any]] = []

    def submit(self, key: Any, *args: Any) -> list[tuple[Any, int]]:
        self._pending.append((key, self._pool.submit(self._write, key, *args)))
        done = []
        while self._pending and (self._pending[0][1].done() or len(self._pending) > _PIPELINE_DEPTH):
            k, fut = self._pending.pop(0)
            done.append((k, fut.result()))
        return done

    def drain(self) -> list[tuple[Any, int]]:
        done = [(k, fut.result()) for k, fut in self._pending]
        self._pending = []
        return done

    def __enter__(self) -> "_WritePipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        # a failure: batches not yet started are dropped; the running one ends before we return
        self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)


class _Loader:
    def __init__(self, client: GraphClient, on_error: str, rejects_path: Path, batch_size: int, progress: bool) -> None:
        if on_error not in ("fail", "skip"):
            raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
        self.client = client
        self.on_error = on_error
        self.rejects_path = rejects_path
        self.batch_size = batch_size
        self.progress = progress
        self.summary = LoadSummary()
        self.known: dict[str, set[str]] = defaultdict(set)  # label -> ids defined in this load
        self.label_of: dict[str, str | None] = {}  # id -> label (None when ambiguous)
        self.refused: dict[str, int] = {}  # id of a node row refused for its record label -> its line
        self._rejects: TextIO | None = None
        make_writer = getattr(client, "column_writer", None)
        self.writer = make_writer() if callable(make_writer) else None  # the column path, where the sink has one

    # -- rejects
    def reject(self, path: Path, line: Line, reason: str, counter: KindCount, withhold: bool = False) -> None:
        """Stop, or write the row to the rejects file (``withhold``: without its raw text, which may hold PHI)."""
        if self.on_error == "fail":
            raise IngestError(reason, str(path), line.number)
        if self._rejects is None:
            self.rejects_path.parent.mkdir(parents=True, exist_ok=True)
            self._rejects = open(self.rejects_path, "w", encoding="utf-8", newline="")
            self._rejects.write("file\tline\treason\traw\n")
        raw = line.raw.decode("utf-8", errors="backslashreplace")
        raw = "(withheld)" if withhold else raw.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        self._rejects.write(f"{path}\t{line.number}\t{reason}\t{raw}\n")
        counter.rejected += 1
        self.summary.rejects_path = self.rejects_path

    def close(self) -> None:
        if self._rejects is not None:
            self._rejects.close()

    def _bar(self, reader: LineReader, desc: str) -> Any:
        from tqdm.auto import tqdm

        return tqdm(total=reader.size, unit="B", unit_scale=True, desc=desc, disable=not self.progress, leave=False)

    @contextlib.contextmanager
    def _reading(self, path: Path, reader: LineReader, what: str) -> Iterator[Any]:
        """A progress bar over ``reader``; errors get the file name; the reader is closed at the end."""
        bar = self._bar(reader, f"{what} {path.name}")
        try:
            yield bar
        except IngestError as e:
            raise _located(e, path) from e
        finally:
            bar.close()
            reader.close()
        part = self.summary.edges if what == "edges" else self.summary.nodes
        if not part["(unparsable)"].read:
            del part["(unparsable)"]
        self._warn_if_empty(path, part, what)

    def _warn_if_empty(self, path: Path, part: dict[str, KindCount], what: str) -> None:
        """A file with a header and no data row loads nothing: say so (a file without a header is an error)."""
        if not sum(c.read for c in part.values()):
            self.summary.warnings.append(f"{path}: no data rows (a header only): no {what} read from it")

    def _record(self, path: Path, line: Line, make: Callable[[], Any], unknown: KindCount) -> Any:
        """The record of a data line, or ``None`` when the line is rejected (counted in ``unknown``)."""
        if line.text is None:
            unknown.read += 1
            self.reject(path, line, line.error or "invalid UTF-8", unknown)
            return None
        try:
            rec = make()
            problem = record_problem(rec)
            if problem:
                raise RowError(problem)
            return rec
        except RowError as e:
            unknown.read += 1
            if isinstance(e, RecordRowError) and e.node_id:
                self.refused.setdefault(e.node_id, line.number)
            self.reject(path, line, str(e), unknown, withhold=isinstance(e, RecordRowError))
            return None

    # -- nodes
    def load_nodes(self, path: Path, rows: Callable[[Iterator[Line]], Iterator[tuple[Line, Callable[[], NodeRecord]]]]) -> None:
        reader = LineReader(path)
        buffers: dict[str, list[NodeRecord]] = defaultdict(list)
        bar = self._bar(reader, f"nodes {path.name}")
        unknown = self.summary.nodes["(unparsable)"]
        try:
            for line, make in rows(iter(reader)):
                rec = self._record(path, line, make, unknown)
                if rec is None:
                    continue
                self.summary.nodes[rec.label].read += 1
                buffers[rec.label].append(rec)
                self.known[rec.label].add(rec.id)
                self.label_of[rec.id] = rec.label if self.label_of.get(rec.id, rec.label) == rec.label else None
                if len(buffers[rec.label]) >= self.batch_size:
                    self._flush_nodes(rec.label, buffers)
                if line.number % 5000 == 0:
                    bar.update(reader.position - bar.n)
            for label in list(buffers):
                self._flush_nodes(label, buffers)
        except IngestError as e:
            raise _located(e, path) from e
        finally:
            bar.close()
            reader.close()
        if not unknown.read:
            del self.summary.nodes["(unparsable)"]
        self._warn_if_empty(path, self.summary.nodes, "nodes")

    def _flush_nodes(self, label: str, buffers: dict[str, list[NodeRecord]]) -> None:
        batch = buffers.pop(label, [])
        if not batch:
            return
        write_nodes = getattr(self.writer, "write_nodes", None)
        source = batch[0].source
        if write_nodes and all(not (r.synonyms or r.xrefs or r.properties) and r.source == source for r in batch):
            self.summary.nodes[label].written += write_nodes(label, [r.id for r in batch], [r.name for r in batch], source)
        else:
            self.summary.nodes[label].written += self.client.upsert_nodes(batch, batch_size=len(batch))

    # -- edges
    def load_edges(self, path: Path, reader: LineReader,
                   rows: Callable[[Iterator[Line]], Iterator[tuple[Line, Callable[[], Any]]]],
                   to_record: Callable[[Any], EdgeRecord]) -> None:
        buffers: dict[tuple[str, str, str], list[tuple[Line, EdgeRecord]]] = defaultdict(list)
        unknown = self.summary.edges["(unparsable)"]
        with self._reading(path, reader, "edges") as bar:
            for line, make in rows(iter(reader)):
                if line.number % 5000 == 0:
                    bar.update(reader.position - bar.n)
                self._take_edge(path, line, functools.partial(_compose, to_record, make), buffers, unknown)
            for key in list(buffers):
                self._flush_edges(path, key, buffers)

    # -- edges, column path (Hetionet SIF through a sink with a column writer)
    def load_hetionet_edges(self, path: Path, het: "HetionetFormat") -> None:
        """Same result, errors and rejects as :meth:`load_edges` with ``het.edge_rows``, faster.

        Blocks of lines are checked and converted column-wise; a block with anything
        irregular (bad UTF-8, CR, blank lines, wrong column count, unknown metaedge or
        id, kind mismatch, missing endpoint) goes through the row path, which reports
        it exactly as before. Rows of a block are written only after the whole block is
        checked.
        """
        writer = self.writer
        reader = LineReader(path)
        blocks = reader.blocks()
        first = next(blocks, None)
        header = first[1][0].rstrip(b"\r\n").split(b"\t")[:3] if first else None
        if writer is None or header != [b"source", b"metaedge", b"target"]:
            reader.close()
            return self.load_edges(path, LineReader(path), het.edge_rows, lambda rec: rec)
        assert first is not None
        first = (2, first[1][1:])
        columns: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {}
        slow: dict[tuple[str, str, str], list[tuple[Line, EdgeRecord]]] = defaultdict(list)
        unknown = self.summary.edges["(unparsable)"]

        # Batches are written by one background thread, in order, while this thread reads and checks
        # the next block (the server's work and ours overlap); at most `_PIPELINE_DEPTH` batches wait.
        pipe = _WritePipeline(writer.write)

        def count(done: list[tuple[tuple[str, str, str], int]]) -> None:
            for done_key, written in done:
                self.summary.edges[self.edge_kind(done_key)].written += written

        def flush(key: tuple[str, str, str]) -> None:
            s_ids, t_ids = columns.pop(key, ([], []))
            if s_ids:
                count(pipe.submit(key, s_ids, t_ids, het.source))

        with pipe, self._reading(path, reader, "edges") as bar:
            for start, lines in itertools.chain([first], blocks):
                groups = self._hetionet_block(lines, het, writer)
                if groups is None:
                    self._slow_block(path, start, lines, het, slow, unknown)
                else:
                    for key, s_ids, t_ids in groups:
                        self.summary.edges[self.edge_kind(key)].read += len(s_ids)
                        col = columns.setdefault(key, ([], []))
                        col[0].extend(s_ids)
                        col[1].extend(t_ids)
                        if len(col[0]) >= self.batch_size:
                            flush(key)
                bar.update(reader.position - bar.n)
            for key in list(columns):
                flush(key)
            count(pipe.drain())
            for key in list(slow):
                self._flush_edges(path, key, slow)

    def _hetionet_block(self, lines: list[bytes], het: "HetionetFormat", writer: Any) -> list[tuple[tuple[str, str, str], list[str], list[str]]] | None:
        """Column-wise check and conversion of a block of SIF lines; ``None`` if any line needs the row path."""
        if not lines:
            return []
        try:
            text = b"\n".join(lines).decode("utf-8")
        except UnicodeDecodeError:
            return None
        if "\r" in text:
            return None
        rows = text.split("\n")
        if len(rows) != len(lines) or any(c != 2 for c in map(str.count, rows, itertools.repeat("\t"))):
            return None
        flat = "\t".join(rows).split("\t")
        src, met, dst = flat[0::3], flat[1::3], flat[2::3]
        metas = set(met)
        if not metas <= het.mapping.metaedges.keys():
            return None
        try:
            curies = {hid: het.curie(hid) for hid in {*src, *dst}}
        except RowError:
            return None
        if not all(fits_index(c[2]) for c in curies.values()):
            return None  # an oversized id: the row path rejects it with its line
        curie_of = {hid: c[2] for hid, c in curies.items()}.__getitem__
        if len(metas) == 1:
            parts = [(next(iter(metas)), src, dst)]
        else:
            import numpy as np

            names = sorted(metas)
            code = {m: k for k, m in enumerate(names)}
            inverse = np.fromiter(map(code.__getitem__, met), dtype=np.int32, count=len(met))
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
            s_arr, t_arr = np.array(src, dtype=object)[order], np.array(dst, dtype=object)[order]
            parts = [(m, s_arr[bounds[k]:bounds[k + 1]].tolist(), t_arr[bounds[k]:bounds[k + 1]].tolist())
                     for k, m in enumerate(names)]
        out = []
        for metaedge, s_hids, t_hids in parts:
            s_kind, rel, t_kind = het.mapping.metaedges[metaedge]
            s_set, t_set = set(s_hids), set(t_hids)
            if any(curies[h][0] != s_kind for h in s_set) or any(curies[h][0] != t_kind for h in t_set):
                return None
            s_label, t_label = curies[s_hids[0]][1], curies[t_hids[0]][1]
            s_ids = list(map(curie_of, s_hids))
            t_ids = list(map(curie_of, t_hids))
            if writer.missing(s_label, set(map(curie_of, s_set)), self.known[s_label]) or \
                    writer.missing(t_label, set(map(curie_of, t_set)), self.known[t_label]):
                return None
            out.append(((s_label, rel, t_label), s_ids, t_ids))
        return out

    def _slow_block(self, path: Path, start: int, lines: list[bytes], het: "HetionetFormat",
                    buffers: dict[tuple[str, str, str], list[tuple[Line, EdgeRecord]]], unknown: KindCount) -> None:
        """The row path of :meth:`load_edges` for one block (same rejects and errors)."""
        for number, body in enumerate(lines, start=start):
            body = body.rstrip(b"\r")
            line = Line.decode(number, body)
            if line.text is None or line.text.strip():
                self._take_edge(path, line, functools.partial(het._edge, line.text or ""), buffers, unknown)

    def _take_edge(self, path: Path, line: Line, make: Callable[[], EdgeRecord],
                   buffers: dict[tuple[str, str, str], list[tuple[Line, EdgeRecord]]], unknown: KindCount) -> None:
        """One data line of the row path: reject it, or buffer its record (flushing a full batch)."""
        rec = self._record(path, line, make, unknown)
        if rec is None:
            return
        key = (rec.source_label, rec.type, rec.target_label)
        self.summary.edges[self.edge_kind(key)].read += 1
        buffers[key].append((line, rec))
        if len(buffers[key]) >= self.batch_size:
            self._flush_edges(path, key, buffers)

    @staticmethod
    def edge_kind(key: tuple[str, str, str]) -> str:
        return f"({key[0]})-[{key[1]}]->({key[2]})"

    def _flush_edges(self, path: Path, key: tuple[str, str, str], buffers: dict) -> None:
        batch: list[tuple[Line, EdgeRecord]] = buffers.pop(key, [])
        if not batch:
            return
        s_label, _, t_label = key
        counter = self.summary.edges[self.edge_kind(key)]
        # endpoints defined in this load are known; only the others are looked up in the graph
        missing_s = self.client.missing_ids(s_label, {r.source_id for _, r in batch if r.source_id not in self.known[s_label]})
        missing_t = self.client.missing_ids(t_label, {r.target_id for _, r in batch if r.target_id not in self.known[t_label]})
        good = []
        for line, rec in batch:
            if rec.source_id in missing_s or rec.target_id in missing_t:
                which = [f"source ({s_label} {shown(rec.source_id)})"] if rec.source_id in missing_s else []
                which += [f"target ({t_label} {shown(rec.target_id)})"] if rec.target_id in missing_t else []
                self.reject(path, line, f"missing endpoint: {' and '.join(which)} not in the nodes file or the graph", counter)
            else:
                good.append(rec)
        if good:
            counter.written += self.client.upsert_relationships(good, batch_size=len(good))


def load_graph(
    client: GraphClient,
    fmt: str,
    nodes: Path,
    edges: Path,
    on_error: str = "fail",
    rejects_path: Path | None = None,
    batch_size: int | None = None,
    source: str | None = None,
    progress: bool = True,
) -> LoadSummary:
    """Load a nodes file then an edges file into the graph.

    Args:
        client: graph client (schema ensured by the caller).
        fmt: ``"hetionet"`` or ``"generic"``.
        nodes, edges: input files (plain or gzip).
        on_error: ``"fail"`` (stop at the first bad row) or ``"skip"`` (reject it and go on).
        rejects_path: where rejected rows go (default ``<edges>.rejects.tsv``, or in
            the current directory if the input's directory is not writable).
        batch_size: rows per transaction (default: the client's).
        source: provenance tag (default: the format's, or the nodes file's stem).
        progress: show progress bars.

    Returns:
        The :class:`LoadSummary`; ``read = written + rejected`` for every kind.

    Raises:
        IngestError: with ``on_error="fail"``, at the first bad row (file, line, reason).
    """
    import time

    start = time.perf_counter()
    summary = _run_loader(client, fmt, Path(nodes), Path(edges), on_error, rejects_path,
                          batch_size or client.batch_size, source, progress)
    summary.seconds = time.perf_counter() - start
    return summary


def _run_loader(
    client: GraphClient,
    fmt: str,
    nodes: Path,
    edges: Path,
    on_error: str,
    rejects_path: Path | None,
    batch_size: int,
    source: str | None,
    progress: bool,
) -> LoadSummary:
    if rejects_path is None:
        default = edges.with_name(edges.name + ".rejects.tsv")
        rejects_path = default if _writable(default.parent) else Path.cwd() / default.name
    loader = _Loader(client, on_error, rejects_path, batch_size, progress)
    try:
        if fmt == "hetionet":
            het = HetionetFormat()
            loader.load_nodes(nodes, het.node_rows)
            loader.load_hetionet_edges(edges, het)
        elif fmt == "generic":
            gen = GenericFormat(client.schema, source or nodes.stem.split(".")[0])
            loader.load_nodes(nodes, lambda lines: gen.node_rows(nodes, lines))

            def to_record(row: dict[str, Any]) -> EdgeRecord:
                for end in ("source", "target"):
                    if row[end].strip() in loader.refused:
                        raise RecordRowError(f"{end} is the node refused at {nodes.name} line "
                                             f"{loader.refused[row[end].strip()]} (a record label)")
                s_label = (row.get("source_label") or "").strip() or loader.label_of.get(row["source"].strip())
                t_label = (row.get("target_label") or "").strip() or loader.label_of.get(row["target"].strip())
                for end, label in (("source", s_label), ("target", t_label)):
                    if not label:
                        raise RowError(
                            f"cannot tell the label of {end} {shown(row[end])}: it is not (uniquely) defined in the nodes "
                            f"file; add a {end}_label column"
                        )
                    gen.check_loadable(str(label), end=end)
                props = {k: v for k, v in row.items()
                         if k not in ("source", "target", "type", "source_label", "target_label") and v is not None}
                for k in props:
                    check_property_key(k)
                return EdgeRecord(row["type"].strip(), str(s_label), row["source"].strip(), str(t_label),
                                  row["target"].strip(), source=gen.source, properties=props)

            loader.load_edges(edges, LineReader(edges), lambda lines: gen.edge_rows(edges, lines), to_record)
        else:
            raise IngestError(f"unknown format {fmt!r}: expected 'hetionet' or 'generic'")
    finally:
        loader.close()
    if not loader.summary.balanced():  # an internal invariant; never silently lose rows
        raise IngestError(f"internal error: counts do not balance:\n{loader.summary.render()}")
    return loader.summary


def bulk_load_graph(
    settings: Settings,
    fmt: str,
    nodes: Path,
    edges: Path,
    on_error: str = "fail",
    rejects_path: Path | None = None,
    source: str | None = None,
    progress: bool = True,
    force: bool = False,
) -> LoadSummary:
    """First load of an empty database through ``neo4j-admin database import``.

    The files are validated exactly as by :func:`load_graph` (same errors, same
    rejects, same summary) and written to import CSVs; only if that succeeds is
    the managed server stopped, the database replaced by the import, the server
    restarted and the schema bootstrapped. Works with the managed local server
    only (neo4j-admin needs the server's files).

    Args:
        settings: settings of the managed server (``settings.uri`` must be unset).
        force: replace a non-empty database (its data is lost).

    Raises:
        IngestError: bad input (nothing is imported), a non-empty database without
            ``force``, or a configured ``NEO4J_URI``.
    """
    import time

    from graph_engine.bulk import BulkSink, temp_directory
    from graph_engine.client import GraphClient
    from graph_engine.connect import connect
    from graph_engine.server import ManagedNeo4j

    if settings.uri:
        raise IngestError("the bulk path works with the managed local server only; unset NEO4J_URI "
                          "or use the online path (without --bulk)")
    server = ManagedNeo4j(settings)
    start = time.perf_counter()
    info = server.running()
    if info is not None and not force:
        with connect(settings.with_overrides(uri=info.uri, password=info.password)) as driver:
            n = GraphClient(driver, settings.database, batch_size=settings.batch_size).read("MATCH (n) RETURN count(n) AS n")[0]["n"]
        if n:
            raise IngestError(f"the database holds {n} nodes; the bulk path replaces it: pass --force to "
                              "overwrite, or load without --bulk (online, idempotent)")
    nodes, edges = Path(nodes), Path(edges)
    with temp_directory(settings.home) as tmp:
        sink = BulkSink(Path(tmp))
        summary = _run_loader(sink, fmt, nodes, edges, on_error, rejects_path, 50000, source, progress)  # type: ignore[arg-type]
        node_files, rel_files = sink.close()
        summary.phases["validate_and_write_csv"] = time.perf_counter() - start
        t = time.perf_counter()
        server.stop()
        summary.phases["stop_server"] = time.perf_counter() - t
        t = time.perf_counter()
        # quoted line breaks in a value need neo4j-admin's (slower) multi-line parser
        server.bulk_import(node_files, rel_files, database=settings.database,
                           extra_args=["--multiline-fields=true"] if sink.multiline else [])
        summary.phases["neo4j_admin_import"] = time.perf_counter() - t
    t = time.perf_counter()
    info = server.start()
    summary.phases["start_server"] = time.perf_counter() - t
    t = time.perf_counter()
    with connect(settings.with_overrides(uri=info.uri, password=info.password)) as driver:
        GraphClient(driver, settings.database, batch_size=settings.batch_size).ensure_schema()
    summary.phases["schema_and_indexes"] = time.perf_counter() - t
    summary.seconds = time.perf_counter() - start
    return summary


def _writable(directory: Path) -> bool:
    import os

    return os.access(directory, os.W_OK)
