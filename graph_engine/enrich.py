"""Write computed scores and embeddings back to the graph, with their run.

Every job runs inside :func:`graph_engine.runs.open_run` and leaves a ``(:Run)``
node (algorithm, parameters, timings, iterations, convergence, metrics). All the
properties a job writes (``ppr_ids`` with ``ppr_scores``, ``hub`` with
``authority``) are one family, written in batches and published at one point
(:mod:`graph_engine.published`): a reader of the published run sees the old or the
new values, never a mix; on one node the plain properties of a family are always
of one run; a failed job publishes nothing and restores the plain values
(re-running it is the resume).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from graph_engine import cypher
from graph_engine.client import GraphClient, Scored
from graph_engine.errors import MedkgError, ScoringError
from graph_engine.export import GraphMatrix, GraphTables
from graph_engine.published import publish_properties
from graph_engine.runs import open_run
from graph_engine.schema import check_property_key


@dataclass
class JobResult:
    """What an enrichment job did."""

    run_id: str
    written: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


def replace_properties(
    client: GraphClient,
    groups: Mapping[str, tuple[Any, Mapping[str, Sequence[Any]]]],
    run_id: str,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Replace a property family across the graph; it becomes visible at one point.

    ``groups`` maps a label to ``(ids, {prop: values})`` (values aligned with ids). Each node
    gets the new values and ``<prop>_run = run_id`` for every prop; every node, of any schema
    label, that an earlier run gave one of the props and this run does not, loses it. Writes are
    batched (any graph size fits Neo4j's transaction memory) and published by one pointer switch:
    see :mod:`graph_engine.published` for what a reader sees; a failure publishes nothing.

    Returns:
        Nodes written per label.
    """
    return publish_properties(client, groups, run_id, batch_size=batch_size, progress=progress)


def replace_property(
    client: GraphClient,
    groups: Mapping[str, tuple[Any, Iterable[Any]]],
    prop: str,
    run_id: str,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """:func:`replace_properties` for one property: ``groups`` maps label -> (ids, values)."""
    return replace_properties(client, {label: (ids, {prop: list(values)}) for label, (ids, values) in groups.items()},
                              run_id, batch_size=batch_size, progress=progress)


def write_scores(
    client: GraphClient,
    matrix: GraphMatrix,
    scores: Mapping[str, np.ndarray],
    run_id: str,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write per-node score vectors (aligned with ``matrix`` rows) as properties, all in one transaction."""
    labels = list(dict.fromkeys(matrix.labels.tolist()))
    masks = {label: matrix.labels == label for label in labels}
    groups = {label: (matrix.ids[m], {prop: values[m] for prop, values in scores.items()}) for label, m in masks.items()}
    written = replace_properties(client, groups, run_id, progress=progress)
    return {f"{label}.{prop}": n for label, n in written.items() for prop in scores}


def run_job(client: GraphClient, kind: str, algorithm: str, params: Mapping[str, Any],
            body: Callable[[str], dict[str, Any]]) -> JobResult:
    """Run ``body(run_id) -> metrics`` inside :func:`graph_engine.runs.open_run`."""
    with open_run(client, kind, algorithm, params) as run:
        run.metrics.update(body(run.id))
    return JobResult(run.id, run.metrics.get("written", {}), run.metrics)


def write_embeddings(
    client: GraphClient,
    embeddings: Mapping[str, np.ndarray],
    ids: Mapping[str, np.ndarray],
    run_id: str,
    prop: str = "embedding",
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write embeddings per label and make sure a vector index exists for each."""
    groups = {}
    for label, matrix in embeddings.items():
        if label not in client.schema.labels or len(matrix) == 0:
            continue
        client.ensure_vector_index(label, prop, int(matrix.shape[1]))
        groups[label] = (ids[label], list(matrix.astype(np.float32)))
    written = replace_properties(client, {label: (ids_, {prop: vals}) for label, (ids_, vals) in groups.items()},
                                 run_id, batch_size=2000, progress=progress)
    return {f"{label}.{prop}": n for label, n in written.items()}


def similar(client: GraphClient, node_id: str, k: int = 10, label: str | None = None,
            prop: str = "embedding") -> list[Scored]:
    """Nearest neighbours of a node by its embedding, through the Neo4j vector index.

    Args:
        node_id: the query node's id.
        k: how many neighbours.
        label: the node's label (default: looked up); neighbours have the same label.

    Raises:
        MedkgError: the node is missing or has no embedding.
    """
    if label is None:
        node = client.get(node_id)
        if node is None:
            raise MedkgError(f"no node with id {node_id!r}")
        label = node.label
    client.schema.check_label(label)
    check_property_key(prop)
    index = f"{label.lower()}_{prop}_vector"
    rows = client.read(cypher.VECTOR_SIMILAR, {"id": node_id, "label": label, "prop": prop, "index": index, "k": int(k)})
    if not rows:
        node = client.get(node_id, label)
        if node is None:
            raise MedkgError(f"no {label} node with id {node_id!r}")
        if prop not in node.properties:
            raise MedkgError(f"{label} {node_id} has no {prop!r}: run `medkg enrich embed` first")
    return [Scored(r["id"], r["name"], float(r["score"])) for r in rows]


@dataclass(frozen=True)
class Projection:
    """Which part of the graph a scoring job runs on.

    Attributes:
        labels: node labels (default: all entity labels).
        rel_types: relationship types (default: all).
        weight: relationship property used as edge weight (missing -> 1).
        directed: respect edge direction; ``False`` (default) symmetrises, which
            suits knowledge graphs whose edge directions are conventions.
    """

    labels: tuple[str, ...] | None = None
    rel_types: tuple[str, ...] | None = None
    weight: str | None = None
    directed: bool = False

    def params(self) -> dict[str, Any]:
        return {"labels": list(self.labels or []), "rel_types": list(self.rel_types or []),
                "weight": self.weight, "directed": self.directed}

    def matrix(self, client: GraphClient, progress: bool = False) -> tuple[GraphTables, GraphMatrix]:
        tables = client.export(self.labels, self.rel_types, weight=self.weight, progress=progress)
        return tables, tables.to_matrix(symmetric=not self.directed)


def _bar(total: int | None, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="nodes", disable=not enabled, leave=False)


def pagerank_job(client: GraphClient, projection: Projection = Projection(), damping: float = 0.85,
                 tol: float = 1e-6, max_iter: int = 100, device: str = "auto", dtype: Any = np.float32,
                 progress: bool = False) -> JobResult:
    """PageRank over a projection, written back as ``pagerank`` / ``pagerank_run``."""
    from graph_engine.scoring import pagerank

    params = {**projection.params(), "damping": damping, "tol": tol, "max_iter": max_iter,
              "device": device, "dtype": np.dtype(dtype).name}

    def body(run_id: str) -> dict[str, Any]:
        tables, m = projection.matrix(client, progress)
        res = pagerank(m.matrix, damping=damping, tol=tol, max_iter=max_iter, device=device, dtype=dtype)
        with _bar(len(m.ids), "write pagerank", progress) as bar:
            written = write_scores(client, m, {"pagerank": res.scores}, run_id, bar.update)
        return {"iterations": res.iterations, "residual": res.residual, "converged": res.converged,
                "device": res.device, "method": res.method, "nodes": int(m.matrix.shape[0]), "edges": int(m.matrix.nnz),
                "compute_seconds": res.seconds, "written": written,
                # flagged, never silent: the scorer warned (ConvergenceWarning) and the Run says so
                **({} if res.converged else {"warning": f"not converged: L1 change {res.residual:.3g} >= tol {tol:g} "
                                                        f"after {res.iterations} iterations"})}

    return run_job(client, "score", "pagerank", params, body)


def hits_job(client: GraphClient, projection: Projection = Projection(directed=True), tol: float = 1e-6,
             max_iter: int = 100, device: str = "auto", dtype: Any = np.float32, progress: bool = False) -> JobResult:
    """HITS over a projection, written back as ``hub`` and ``authority`` (with ``*_run``)."""
    from graph_engine.scoring import hits

    params = {**projection.params(), "tol": tol, "max_iter": max_iter, "device": device, "dtype": np.dtype(dtype).name}

    def body(run_id: str) -> dict[str, Any]:
        tables, m = projection.matrix(client, progress)
        res = hits(m.matrix, tol=tol, max_iter=max_iter, device=device, dtype=dtype)
        with _bar(2 * len(m.ids), "write hits", progress) as bar:
            written = write_scores(client, m, {"hub": res.hubs, "authority": res.authorities}, run_id, bar.update)
        return {"iterations": res.iterations, "residual": res.residual, "converged": res.converged,
                "device": res.device, "nodes": int(m.matrix.shape[0]), "edges": int(m.matrix.nnz),
                "compute_seconds": res.seconds, "written": written,
                # flagged, never silent: the scorer warned (ConvergenceWarning) and the Run says so
                **({} if res.converged else {"warning": f"not converged: L1 change {res.residual:.3g} >= tol {tol:g} "
                                                        f"after {res.iterations} iterations"})}

    return run_job(client, "score", "hits", params, body)


def seed_rows(m: GraphMatrix, seeds: Sequence[str] | None, seed_label: str) -> np.ndarray:
    """Row indexes of the seeds (default: every ``seed_label`` node).

    Raises:
        ScoringError: a seed is not a ``seed_label`` node of the projection (naming up to five), or none is.
    """
    if seeds:
        present = {str(i) for i in m.ids[m.labels == seed_label]}
        missing = [s for s in dict.fromkeys(seeds) if s not in present]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise ScoringError(f"seed {', '.join(missing[:5])}{more} is not a {seed_label} node of the projection "
                               f"(check the id, --seed-label and --labels)")
        return np.array([m.index_of(seed_label, s) for s in seeds], dtype=np.int64)
    idx = np.flatnonzero(m.labels == seed_label)
    if len(idx) == 0:
        raise ScoringError(f"no {seed_label} seeds in the projection")
    return idx


def ppr_job(client: GraphClient, seeds: Sequence[str] | None = None, seed_label: str = "Disease",
            target_labels: Sequence[str] = ("Drug", "Gene"), k: int = 20,
            projection: Projection = Projection(), damping: float = 0.85, tol: float = 1e-6,
            max_iter: int = 100, device: str = "auto", progress: bool = False) -> JobResult:
    """Batched personalized PageRank from each seed node (default: every ``seed_label`` node).

    The top-``k`` nodes of ``target_labels`` per seed are stored on the seed as
    parallel lists ``ppr_ids`` / ``ppr_scores`` with ``ppr_run``, read back by::

        MATCH (d:Disease {id: $id})
        UNWIND range(0, size(d.ppr_ids) - 1) AS i
        MATCH (n {id: d.ppr_ids[i]}) RETURN labels(n)[0] AS label, n.name AS name, d.ppr_scores[i] AS score
    """
    from graph_engine.scoring import personalized_pagerank

    client.schema.check_label(seed_label)
    for l in target_labels:
        client.schema.check_label(l)
    params = {**projection.params(), "seeds": list(seeds or []), "seed_label": seed_label,
              "target_labels": list(target_labels), "k": k, "damping": damping, "tol": tol,
              "max_iter": max_iter, "device": device}

    # arguments are checked against the export BEFORE the Run is opened: a bad seed leaves no failed Run
    _, m = projection.matrix(client, progress)
    idx = seed_rows(m, seeds, seed_label)

    def body(run_id: str) -> dict[str, Any]:
        cand = np.isin(m.labels, list(target_labels))
        with _bar(len(idx), "ppr seeds", progress) as bar:
            done = [0]

            def tick(d: int, total: int) -> None:
                bar.update(d - done[0])
                done[0] = d

            res = personalized_pagerank(m.matrix, idx, k=k, damping=damping, tol=tol, max_iter=max_iter,
                                        device=device, candidates=cand, exclude_seeds=True, progress=tick)
        top_ids = [[str(m.ids[j]) for j, sc in zip(row, srow) if sc > 0] for row, srow in zip(res.indices, res.scores)]
        top_scores = [[float(sc) for sc in srow if sc > 0] for srow in res.scores]
        seed_ids = m.ids[idx]
        # ids and scores in ONE transaction: a reader never pairs new ids with old scores
        w = replace_properties(client, {seed_label: (seed_ids, {"ppr_ids": top_ids, "ppr_scores": top_scores})},
                               run_id)
        unconverged = int((~res.converged).sum())  # flagged, never silent (the scorer warned too)
        return {"seeds": int(len(idx)), "converged": unconverged == 0,
                **({"warning": f"not converged for {unconverged} of {len(idx)} seeds after {max_iter} "
                               f"iterations (tol {tol:g})"} if unconverged else {}),
                "max_iterations": int(np.max(res.iterations)), "compute_seconds": res.seconds,
                "device": res.device,
                "written": {f"{seed_label}.ppr_ids": w[seed_label], f"{seed_label}.ppr_scores": w[seed_label]}}

    return run_job(client, "score", "personalized_pagerank", params, body)


def embed_job(client: GraphClient, config: Mapping[str, Any] | None = None,
              labels: Sequence[str] | None = None, rel_types: Sequence[str] | None = None,
              artifact_dir: Any = None, progress: bool = False, nproc: int = 1) -> JobResult:
    """Train GNN embeddings on the graph (link prediction), write ``embedding`` per node
    with vector indexes, save the artifact (under ``artifact_dir/<run id>`` when given).
    ``nproc > 1`` trains with that many DDP processes (see ``train_embeddings``)."""
    from pathlib import Path

    from graph_engine.embeddings import EmbeddingConfig, train_embeddings

    cfg = EmbeddingConfig.from_dict(dict(config or {}))
    params = {"labels": list(labels or []), "rel_types": list(rel_types or []), **cfg.__dict__, "nproc": nproc}

    def body(run_id: str) -> dict[str, Any]:
        tables = client.export(labels, rel_types, progress=progress)
        with _bar(cfg.epochs, "train embeddings", progress) as bar:
            result = train_embeddings(tables, cfg, progress=lambda e, n, loss: bar.update(1), nproc=nproc)
        saved = None
        if artifact_dir is not None:
            saved = str(result.save(Path(artifact_dir) / run_id))
        total = sum(len(v) for v in result.ids.values())
        with _bar(total, "write embeddings", progress) as bar:
            written = write_embeddings(client, result.embeddings, result.ids, run_id, progress=bar.update)
        return {"auc": result.metrics.get("auc"), "fingerprint": result.fingerprint, "artifact": saved,
                "epoch_seconds": result.metrics.get("epoch_seconds"), "written": written}

    return run_job(client, "embed", "gnn-link-prediction", params, body)
