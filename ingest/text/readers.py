"""Streaming, encoding-robust readers for text corpora.

Every reader is a generator of :class:`~ingest.text.records.Document` that
holds at most one document (one XML article, one PubTator block, one JSONL
line) in memory. Problems with one document never stop the run: they are
handed to ``on_error`` as an :class:`~graph_engine.errors.IngestError` that
names the file and line, and reading continues with the next document. The
default ``on_error`` raises, which suits library callers that want strictness.

Offsets: for PubTator, PubMed XML and JSONL records with a title, the
document text is ``title + " " + abstract`` (the PubTator convention), so
mention offsets from every format refer to the same string.
"""

from __future__ import annotations

import gzip
import json
import re
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from graph_engine.errors import IngestError
from graph_engine.limits import index_key_problem, value_problem
from ingest.text.records import Document, GoldRelation, Mention

FORMATS: tuple[str, ...] = ("text", "jsonl", "pubmed-xml", "pubtator", "iob")

#: Documents longer than this many characters are rejected (spaCy's own default limit).
DEFAULT_MAX_CHARS = 1_000_000

ErrorHandler = Callable[[IngestError], None]


def _raise(err: IngestError) -> None:
    raise err


@dataclass
class ReadStats:
    """Counts kept while reading: every input document is read, then accepted or rejected
    (``read = accepted + rejected``).

    Attributes:
        read: input documents (accepted and rejected).
        accepted: documents handed on.
        rejected: documents refused (each has an entry in ``errors``).
        recoded: documents that were not valid UTF-8 and were decoded as cp1252/latin-1.
        errors: the per-document errors, in order.
        warnings: problems that did not cost a document (a bad annotation line).
    """

    read: int = 0
    accepted: int = 0
    rejected: int = 0
    recoded: int = 0
    errors: list[IngestError] = field(default_factory=list)
    warnings: list[IngestError] = field(default_factory=list)

    def accept(self) -> None:
        self.read += 1
        self.accepted += 1

    def reject(self, err: IngestError) -> None:
        self.read += 1
        self.rejected += 1
        self.errors.append(err)

    def warn(self, err: IngestError) -> None:
        self.warnings.append(err)


# --------------------------------------------------------------------------- mappings


@lru_cache(maxsize=1)
def label_mapping() -> dict[str, Any]:
    """The corpus-type -> graph-label table shipped in ``ingest/text/data/labels.toml``."""
    text = resources.files("ingest.text").joinpath("data/labels.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def corpus_label(kind: str) -> str | None:
    """Map a corpus annotation type (``Chemical``, ``SpecificDisease``, ``GENE``) to a graph label."""
    return label_mapping()["corpus_types"].get(kind)


def corpus_id(raw: str) -> str | None:
    """Turn a corpus identifier into a CURIE: ``D003924`` -> ``MESH:D003924``; ``-1`` -> ``None``.

    Composite ids (``D003110|D009369``) have no single referent and give ``None``.
    """
    raw = raw.strip()
    if not raw or raw in {"-1", "-"} or "|" in raw or "," in raw:
        return None
    if ":" in raw:
        prefix, _, rest = raw.partition(":")
        return f"{prefix.upper()}:{rest}"
    prefix = label_mapping()["id_prefixes"].get(raw[:1])
    return f"{prefix}{raw}" if prefix else raw


# --------------------------------------------------------------------------- decoding

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_bytes(data: bytes, path: str | None = None, line: int | None = None) -> tuple[str, str]:
    """Decode ``data`` robustly and refuse binary content.

    UTF-8 (with or without BOM) and BOM-marked UTF-16 are decoded as such; other
    bytes are decoded as cp1252, and failing that latin-1, which never fails.

    Returns:
        ``(text, encoding)``.

    Raises:
        IngestError: the bytes look binary (NUL bytes or many control characters).
    """
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise IngestError("binary content (NUL bytes): expected text", path, line)
    try:
        text, enc = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, enc = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, enc = data.decode("latin-1"), "latin-1"
    sample = text[:4096]
    if sample and len(_CONTROL.findall(sample)) > max(8, len(sample) // 20):
        raise IngestError("binary content (control characters): expected text", path, line)
    return text, enc


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_line_without_newline)``; handles ``\\r\\n`` and gzip."""
    with _open_binary(path) as fh:
        for no, raw in enumerate(fh, start=1):
            yield no, raw.rstrip(b"\r\n")


def _decode_line(raw: bytes, path: str, no: int, stats: ReadStats | None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        text, _ = decode_bytes(raw, path, no)
        if stats is not None:
            stats.recoded += 1
        return text


# --------------------------------------------------------------------------- plain text


def read_text(path: str | Path, on_error: ErrorHandler = _raise, stats: ReadStats | None = None) -> Iterator[Document]:
    """Plain text: one document per file; a directory is read recursively (``*.txt``, sorted).

    The document id is the file's stem; the text is the whole file, undecorated.
    """
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".txt", ".gz"}) if root.is_dir() else [root]
    for file in files:
        try:
            with _open_binary(file) as fh:
                data = fh.read()
            text, enc = decode_bytes(data, str(file))
        except IngestError as err:
            on_error(err)
            continue
        except OSError as err:
            on_error(IngestError(f"cannot read file: {err}", str(file)))
            continue
        if enc not in {"utf-8"} and stats is not None:
            stats.recoded += 1
        stem = file.name.removesuffix(".gz").removesuffix(".txt")
        yield Document(id=stem, text=text, source="text", metadata={"encoding": enc}, path=str(file), line=1)


# --------------------------------------------------------------------------- JSONL


def read_jsonl(path: str | Path, on_error: ErrorHandler = _raise, stats: ReadStats | None = None) -> Iterator[Document]:
    """JSON Lines: ``{"id": ..., "title": ..., "text": ..., <metadata>...}`` per line.

    ``id`` and ``text`` are required; ``title`` and ``year`` are optional; other
    keys are kept as metadata. With a title, the document text is
    ``title + " " + text`` (offsets refer to that string).
    """
    p = Path(path)
    for no, raw in _iter_lines(p):
        if not raw.strip():
            continue
        try:
            line = _decode_line(raw, str(p), no, stats)
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise IngestError(f"invalid JSON ({err.msg} at column {err.colno}); expected one object per line", str(p), no) from err
            if not isinstance(obj, dict):
                raise IngestError(f"expected a JSON object, got {type(obj).__name__}", str(p), no)
            doc_id = obj.get("id", obj.get("pmid"))
            body = obj.get("text", obj.get("abstract"))
            if doc_id is None or (isinstance(doc_id, str) and not doc_id.strip()):
                raise IngestError("missing 'id'", str(p), no)
            if not isinstance(body, str):
                raise IngestError("missing or non-string 'text'", str(p), no)
            title = obj.get("title")
            title = title if isinstance(title, str) and title.strip() else None
            text = f"{title} {body}" if title else body
            year = _year(obj.get("year"))
            meta = {k: v for k, v in obj.items() if k not in {"id", "pmid", "text", "abstract", "title", "year"}}
        except IngestError as err:
            on_error(err)
            continue
        yield Document(id=str(doc_id), text=text, title=title, year=year, source=str(meta.pop("source", "jsonl")), metadata=meta, path=str(p), line=no)


def _year(value: Any) -> int | None:
    try:
        y = int(str(value)[:4])
    except (TypeError, ValueError):
        return None
    return y if 1000 <= y <= 3000 else None


# --------------------------------------------------------------------------- PubTator


def read_pubtator(path: str | Path, on_error: ErrorHandler = _raise, stats: ReadStats | None = None) -> Iterator[Document]:
    """PubTator: ``PMID|t|title``, ``PMID|a|abstract``, then optional annotation lines.

    Annotation lines are ``PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>id`` (types are
    mapped with ``labels.toml``; ids become CURIEs), relation lines
    ``PMID<TAB>CID<TAB>chemical<TAB>disease``. The text is ``title + " " + abstract``.
    An annotation whose offsets do not reproduce its text is dropped with a warning.
    """
    p = Path(path)
    block: list[tuple[int, str]] = []
    for no, raw in _iter_lines(p):
        try:
            line = _decode_line(raw, str(p), no, stats)
        except IngestError as err:
            on_error(err)
            continue
        if line.strip():
            block.append((no, line))
            continue
        if block:
            doc = _pubtator_block(block, str(p), on_error, stats)
            block = []
            if doc is not None:
                yield doc
    if block:
        doc = _pubtator_block(block, str(p), on_error, stats)
        if doc is not None:
            yield doc


def _pubtator_block(block: list[tuple[int, str]], path: str, on_error: ErrorHandler, stats: ReadStats | None) -> Document | None:
    first = block[0][0]
    title: str | None = None
    abstract: str | None = None
    pmid: str | None = None
    annotations: list[tuple[int, list[str]]] = []
    for no, line in block:
        m = re.match(r"^([^|\t]+)\|([ta])\|(.*)$", line)
        if m:
            pmid = pmid or m.group(1)
            if m.group(2) == "t":
                title = m.group(3)
            else:
                abstract = m.group(3)
        elif "\t" in line:
            annotations.append((no, line.split("\t")))
        else:
            on_error(IngestError(f"unrecognised PubTator line {line[:60]!r}: expected 'PMID|t|', 'PMID|a|' or a tab-separated annotation", path, no))
            return None
    if pmid is None or (title is None and abstract is None):
        on_error(IngestError("PubTator block without 'PMID|t|' / 'PMID|a|' lines", path, first))
        return None
    text = " ".join(part for part in (title, abstract) if part is not None)
    doc = Document(id=pmid, text=text, title=title, source="pubtator", path=path, line=first)
    relations = label_mapping()["corpus_relations"]
    for no, cols in annotations:
        if len(cols) >= 4 and cols[1] in relations:
            rel_type, _, _ = relations[cols[1]]
            s, o = corpus_id(cols[2]), corpus_id(cols[3])
            if s and o:
                doc.gold_relations.append(GoldRelation(pmid, rel_type, s, o))
            continue
        if len(cols) < 5:
            _warn(stats, on_error, IngestError(f"annotation line has {len(cols)} columns, expected 6 (PMID, start, end, text, type, id)", path, no))
            continue
        try:
            start, end = int(cols[1]), int(cols[2])
        except ValueError:
            _warn(stats, on_error, IngestError(f"annotation offsets {cols[1]!r}, {cols[2]!r} are not integers", path, no))
            continue
        label = corpus_label(cols[4])
        if label is None:
            continue  # a type we do not model (species, mutations ...)
        if text[start:end] != cols[3]:
            _warn(stats, on_error, IngestError(f"annotation {cols[3]!r} does not match text[{start}:{end}]={text[start:end]!r}", path, no))
            continue
        ident = corpus_id(cols[5]) if len(cols) > 5 else None
        doc.gold_mentions.append(Mention(pmid, start, end, cols[3], label, ident, 1.0, "gold"))
    return doc


def _warn(stats: ReadStats | None, on_error: ErrorHandler, err: IngestError) -> None:
    if stats is not None:
        stats.warn(err)
    # a bad annotation costs the annotation, not the document: never raised


# --------------------------------------------------------------------------- PubMed XML


def read_pubmed_xml(path: str | Path, on_error: ErrorHandler = _raise, stats: ReadStats | None = None) -> Iterator[Document]:
    """PubMed / MEDLINE XML (``PubmedArticleSet``), streamed article by article.

    The text is ``ArticleTitle + " " + AbstractText`` (structured abstracts are
    joined with spaces). Broken XML ends the file with an error naming the line;
    articles before it are kept.
    """
    p = Path(path)
    try:
        fh = _open_binary(p)
    except OSError as err:
        on_error(IngestError(f"cannot read file: {err}", str(p)))
        return
    with fh:
        stack: list[str] = []
        try:
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                if event == "start":
                    stack.append(elem.tag)
                    continue
                stack.pop()
                parent = stack[-1] if stack else None
                wanted = elem.tag in {"PubmedArticle", "PubmedBookArticle"} or (elem.tag == "MedlineCitation" and parent != "PubmedArticle")
                if not wanted:
                    continue
                doc = _pubmed_article(elem, str(p))
                elem.clear()
                if doc is None:
                    on_error(IngestError("article without PMID", str(p)))
                    continue
                yield doc
        except ET.ParseError as err:
            line = err.position[0] if err.position else None
            on_error(IngestError(f"broken XML ({err}); expected a PubmedArticleSet document", str(p), line))


def _pubmed_article(elem: ET.Element, path: str) -> Document | None:
    citation = elem if elem.tag == "MedlineCitation" else elem.find(".//MedlineCitation")
    scope = citation if citation is not None else elem
    pmid_el = scope.find(".//PMID")
    pmid = (pmid_el.text or "").strip() if pmid_el is not None else ""
    if not pmid:
        return None
    title_el = scope.find(".//ArticleTitle")
    title = "".join(title_el.itertext()).strip() if title_el is not None else ""
    parts = ["".join(a.itertext()).strip() for a in scope.iter("AbstractText")]
    abstract = " ".join(p for p in parts if p)
    text = " ".join(x for x in (title, abstract) if x)
    year = None
    for tag in (".//PubDate/Year", ".//PubDate/MedlineDate", ".//DateCompleted/Year"):
        y = scope.find(tag)
        if y is not None and y.text:
            year = _year(y.text)
            if year:
                break
    journal = scope.find(".//Journal/Title")
    meta = {"journal": journal.text} if journal is not None and journal.text else {}
    return Document(id=pmid, text=text, title=title or None, year=year, source="pubmed", metadata=meta, path=path)


# --------------------------------------------------------------------------- IOB


def read_iob(path: str | Path, on_error: ErrorHandler = _raise, stats: ReadStats | None = None) -> Iterator[Document]:
    """IOB tokens: ``token<TAB>tag`` per line, a blank line between sentences.

    Each sentence becomes a document ``<file stem>:<n>`` whose text is the tokens
    joined by single spaces; ``B-X``/``I-X`` runs become gold mentions with
    ``X`` mapped through ``labels.toml``. A malformed line rejects its sentence.
    """
    p = Path(path)
    stem = p.name.split(".")[0]
    words: list[str] = []
    tags: list[str] = []
    start_line = 1
    bad: IngestError | None = None
    n = 0

    def flush() -> Document | None:
        nonlocal n
        n += 1
        doc_id = f"{stem}:{n}"
        if bad is not None:
            on_error(bad)
            return None
        return _iob_doc(doc_id, words, tags, str(p), start_line)

    for no, raw in _iter_lines(p):
        line = _decode_line(raw, str(p), no, stats) if raw else ""
        if not line.strip():
            if words or bad:
                doc = flush()
                if doc is not None:
                    yield doc
            words, tags, bad, start_line = [], [], None, no + 1
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0] or not re.match(r"^(O|[BI]-\S+)$", cols[-1].strip()):
            bad = bad or IngestError(f"malformed IOB line {line[:60]!r}: expected 'token<TAB>O|B-TYPE|I-TYPE'", str(p), no)
            continue
        words.append(cols[0])
        tags.append(cols[-1].strip())
    if words or bad:
        doc = flush()
        if doc is not None:
            yield doc


def _iob_doc(doc_id: str, words: list[str], tags: list[str], path: str, line: int) -> Document:
    text_parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        text_parts.append(w)
        pos += len(w) + 1
    text = " ".join(text_parts)
    doc = Document(id=doc_id, text=text, source="iob", path=path, line=line)
    cur: tuple[int, str] | None = None  # (token start index, type)

    def close(end_tok: int) -> None:
        if cur is None:
            return
        label = corpus_label(cur[1])
        if label is None:
            return
        s, e = offsets[cur[0]][0], offsets[end_tok][1]
        doc.gold_mentions.append(Mention(doc_id, s, e, text[s:e], label, None, 1.0, "gold"))

    for i, tag in enumerate(tags):
        if tag == "O":
            close(i - 1)
            cur = None
        elif tag.startswith("B-") or cur is None or cur[1] != tag[2:]:
            close(i - 1)
            cur = (i, tag[2:])
    close(len(tags) - 1)
    return doc


# --------------------------------------------------------------------------- dispatch

_READERS: dict[str, Callable[..., Iterator[Document]]] = {
    "text": read_text,
    "jsonl": read_jsonl,
    "pubmed-xml": read_pubmed_xml,
    "pubtator": read_pubtator,
    "iob": read_iob,
}


def detect_format(path: str | Path) -> str:
    """Guess the format from the name, and for ``.txt`` from the first line.

    Raises:
        IngestError: the format cannot be told; pass ``--format``.
    """
    p = Path(path)
    if p.is_dir():
        return "text"
    name = p.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".xml"):
        return "pubmed-xml"
    if name.endswith((".iob", ".iob.tsv", ".bio", ".conll")):
        return "iob"
    if name.endswith((".pubtator", ".pubtator.txt")) or "pubtator" in name:
        return "pubtator"
    try:
        with _open_binary(p) as fh:
            head = fh.read(4096)
    except OSError as err:
        raise IngestError(f"cannot read file: {err}", str(p)) from err
    first = head.lstrip().split(b"\n", 1)[0]
    if re.match(rb"^[^|\t\s]+\|t\|", first):
        return "pubtator"
    if name.endswith(".txt") or not head.strip():
        return "text"
    raise IngestError(f"cannot tell the format of {p.name}; pass --format ({'|'.join(FORMATS)})", str(p))


def read_documents(
    path: str | Path,
    fmt: str | None = None,
    *,
    on_error: ErrorHandler | None = None,
    stats: ReadStats | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    unique_ids: bool = True,
) -> Iterator[Document]:
    """Read any supported format, rejecting empty, binary and oversized documents.

    A document is also rejected when its id is longer than Neo4j's index key limit
    (:data:`graph_engine.limits.INDEX_KEY_MAX_BYTES`, UTF-8 bytes: the ``Article`` id is
    indexed), and, with ``unique_ids``, when an earlier document of the input had the
    same id: the first one wins, the later one is rejected with its line and the first
    one's (writing both would merge them into one ``Article``).

    Args:
        path: a file (or a directory for ``text``).
        fmt: one of :data:`FORMATS`; guessed from the name when ``None``.
        on_error: receives each per-document :class:`IngestError`; by default they are
            only counted in ``stats`` (or raised when ``stats`` is also ``None``).
        stats: counters updated while reading.
        max_chars: longer documents are rejected with a clear error.
        unique_ids: reject a document whose id an earlier one had (ids are kept in memory,
            about 200 bytes per document).

    Yields:
        Documents with non-empty text of at most ``max_chars`` characters.

    Raises:
        IngestError: unknown format or missing input (at the boundary, before reading).

    Example:
        >>> stats = ReadStats()
        >>> docs = list(read_documents("abstracts.pubtator", stats=stats))  # doctest: +SKIP
    """
    p = Path(path)
    if not p.exists():
        raise IngestError("input not found", str(p))
    fmt = fmt or detect_format(p)
    if fmt not in _READERS:
        raise IngestError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", str(p))

    count = 0  # documents read so far, accepted or rejected

    def handle(err: IngestError) -> None:
        nonlocal count
        count += 1
        if stats is not None:
            stats.reject(err)
        if on_error is not None:
            on_error(err)
        elif stats is None:
            raise err

    seen: dict[str, tuple[str | None, int | None, int]] = {}  # id -> where the first document with it was
    for doc in _READERS[fmt](p, on_error=handle, stats=stats):
        number = count + 1
        problem = index_key_problem(doc.id, "its id") or value_problem(doc.source, "its source")
        if problem:
            handle(IngestError(f"document {_short(doc.id)}: {problem}", doc.path, doc.line))
            continue
        if not doc.text.strip():
            handle(IngestError(f"document {doc.id!r} is empty", doc.path, doc.line))
            continue
        if len(doc.text) > max_chars:
            handle(IngestError(f"document {doc.id!r} has {len(doc.text):,} characters; the limit is {max_chars:,} (raise --max-chars or split it)", doc.path, doc.line))
            continue
        if _CONTROL.search(doc.text[:4096]) and len(_CONTROL.findall(doc.text[:4096])) > max(8, min(len(doc.text), 4096) // 20):
            handle(IngestError(f"document {doc.id!r} looks binary (control characters)", doc.path, doc.line))
            continue
        if unique_ids:
            first = seen.setdefault(doc.id, (doc.path, doc.line, number))
            if first[2] != number:
                handle(IngestError(f"duplicate document id {_short(doc.id)}: the first one, at {_where(*first, doc.path)}, "
                                   "is kept and this one is rejected", doc.path, doc.line))
                continue
        count += 1
        if stats is not None:
            stats.accept()
        yield doc


def _short(doc_id: str) -> str:
    """A document id for a message (the start of a long one)."""
    return repr(doc_id) if len(doc_id) <= 80 else f"{doc_id[:60]!r}... ({len(doc_id):,} characters)"


def _where(path: str | None, line: int | None, number: int, this_path: str | None) -> str:
    place = f"line {line}" if line is not None else f"document {number} of the input"
    return place if path == this_path else f"{path}, {place}"
