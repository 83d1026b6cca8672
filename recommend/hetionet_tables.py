"""A minimal reader of the shared Hetionet files into :class:`GraphTables`.

Only for evaluating recommenders without Neo4j: it follows the same label,
id and relationship conventions as the ingest loader (the one mapping,
``graph_engine/mappings/hetionet.toml``), so a model fitted here and one fitted
on ``client.export`` see the same graph (the same ``GraphTables.fingerprint()``).

Example:
    >>> tables = read_hetionet(default_hetionet_dir())   # or any folder with the Hetionet files
"""

from __future__ import annotations

import csv
import gzip
import os
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np

from graph_engine.errors import IngestError
from graph_engine.export import EdgeList, GraphTables
from graph_engine.hetionet import MappingError, default_mapping

NODES_FILE = "hetionet-v1.0-nodes.tsv"
EDGES_GLOB = ("hetionet-v1.0-edges.sif.gz", "hetionet-v1.0-edges-sample.sif.gz")
HETIONET_DIR_ENV = "MEDKG_HETIONET_DIR"


def default_hetionet_dir() -> Path:
    """The Hetionet folder used when none is given: ``$MEDKG_HETIONET_DIR`` if set, else
    ``shared/data/hetionet`` beside the checkout (``<checkout>/../shared``, the project layout)."""
    env = os.environ.get(HETIONET_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "hetionet"


def _node(raw: str, path: Path, line: int) -> tuple[str, str]:
    try:
        _, label, curie = default_mapping().curie(raw)
    except MappingError as e:
        raise IngestError(str(e), str(path), line) from None
    return label, curie


def read_hetionet(
    directory: str | Path,
    edges_file: str | None = None,
    labels: Iterable[str] | None = None,
    nodes_file: str = NODES_FILE,
) -> GraphTables:
    """Read ``hetionet-v1.0-nodes.tsv`` and the edges SIF into GraphTables.

    Args:
        directory: folder with the Hetionet files.
        edges_file: SIF(.gz) name; default the full edges file if present, else the sample.
        labels: keep only these labels (and edges between them); default all.
        nodes_file: the nodes TSV's name in ``directory``.

    Raises:
        IngestError: a file is missing or a line is malformed.
    """
    d = Path(directory)
    nodes_path = d / nodes_file
    if edges_file is None:
        found = [d / n for n in EDGES_GLOB if (d / n).exists()]
        if not found:
            raise IngestError(f"no Hetionet edges file ({' or '.join(EDGES_GLOB)})", str(d))
        edges_path = found[0]
    else:
        edges_path = d / edges_file
    for p in (nodes_path, edges_path):
        if not p.exists():
            raise IngestError("file not found", str(p))
    keep = set(labels) if labels is not None else None
    ids: dict[str, list[str]] = defaultdict(list)
    with nodes_path.open(encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader)
        if header[:3] != ["id", "name", "kind"]:
            raise IngestError(f"expected header 'id name kind', got {header}", str(nodes_path), 1)
        for n, row in enumerate(reader, start=2):
            label, nid = _node(row[0], nodes_path, n)
            if keep is None or label in keep:
                ids[label].append(nid)
    tables = GraphTables(nodes={l: np.asarray(v, dtype=object) for l, v in ids.items()})
    index = tables.index_maps()
    mapping = default_mapping()
    src_l: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    dst_l: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    opener = gzip.open if edges_path.suffix == ".gz" else open
    with opener(edges_path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        reader = csv.reader(fh, delimiter="\t")
        next(reader)
        for n, row in enumerate(reader, start=2):
            if len(row) != 3:
                raise IngestError(f"expected 3 tab-separated fields, got {len(row)}", str(edges_path), n)
            s, me, t = row
            try:
                rel = mapping.metaedge(me)[1]
            except MappingError as e:
                raise IngestError(str(e), str(edges_path), n) from None
            sl, sid = _node(s, edges_path, n)
            tl, tid = _node(t, edges_path, n)
            if keep is not None and (sl not in keep or tl not in keep):
                continue
            try:
                si, ti = index[sl][sid], index[tl][tid]
            except KeyError as e:
                raise IngestError(f"edge endpoint {e.args[0]!r} is not in {nodes_file}", str(edges_path), n) from None
            key = (sl, rel, tl)
            src_l[key].append(si)
            dst_l[key].append(ti)
    for key in src_l:
        tables.edges[key] = EdgeList(np.asarray(src_l[key]), np.asarray(dst_l[key]))
    return tables
