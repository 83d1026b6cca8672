"""Train link-prediction node embeddings on an exported heterogeneous graph.

Pipeline (all seeded, deterministic on the CPU):

1. Split the edges of every supervised triple into train and held-out test
   edges *before* training; held-out edges are removed from the graph the
   encoder sees (both directions).
2. Build ``HeteroData`` of the training graph with reverse edge types, and one
   PyG ``LinkNeighborLoader`` per supervised triple: mini-batches of training
   edges plus ``neg_ratio`` random negatives each, with the ``num_neighbors``
   fan-out sampled around their endpoints, so memory is bounded by the batch,
   not the graph (sampling by :class:`~graph_engine.embeddings.sampler.NumpyNeighborSampler`
   when pyg-lib / torch-sparse are absent).
3. Train :class:`~graph_engine.embeddings.model.LinkModel` with binary
   cross-entropy on positive vs. negative edges.
4. Embed every node exactly, layer by layer in chunks of target nodes (memory
   bounded by a chunk's in-edges, not the graph), and report the held-out
   link-prediction AUC against random corrupted edges of the same triple.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from graph_engine.devices import torch_device
from graph_engine.errors import ModelError
from graph_engine.export import EdgeKey, GraphTables
from graph_engine.embeddings.data import reverse_key, to_hetero_data
from graph_engine.embeddings.model import LinkModel
from graph_engine.embeddings.sampler import NumpyNeighborSampler, compiled_sampler_available

ARTIFACT_FORMAT = "medkg-embeddings/1"


@dataclass
class EmbeddingConfig:
    """Everything that defines a training run (saved as ``config.json``).

    Attributes:
        dim: embedding and hidden width.
        num_layers: message-passing layers; ``num_neighbors`` needs one entry per layer.
        num_neighbors: neighbours sampled per hop and edge type (``-1``: all).
        batch_size: supervised edges per mini-batch.
        epochs: passes over the training edges.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        dropout: dropout between layers.
        neg_ratio: negatives sampled per positive edge.
        test_ratio: share of each supervised triple's edges held out for the AUC.
        target_edges: ``"src|REL|dst"`` triples to supervise (default: all).
        seed: seeds torch, NumPy and the sampler.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        num_threads: torch CPU threads (0: leave torch's default).
        trim: skip work on nodes a layer's output does not need (``trim_to_layer``).
        rel_aggr: ``"mean"`` or ``"sum"`` of the per-relation messages of a node.
        inference_chunk: target nodes per chunk in the final layer-wise embedding pass.
    """

    dim: int = 64
    num_layers: int = 2
    num_neighbors: list[int] = field(default_factory=lambda: [10, 5])
    batch_size: int = 512
    epochs: int = 5
    lr: float = 0.01
    weight_decay: float = 0.0
    dropout: float = 0.0
    neg_ratio: float = 1.0
    test_ratio: float = 0.1
    target_edges: list[str] | None = None
    seed: int = 0
    device: str = "auto"
    num_threads: int = 0
    trim: bool = True
    rel_aggr: str = "mean"
    inference_chunk: int = 65536

    def __post_init__(self) -> None:
        if self.dim < 1 or self.num_layers < 1 or self.batch_size < 1 or self.epochs < 0 or self.inference_chunk < 1:
            raise ModelError(f"dim, num_layers, batch_size must be >= 1 and epochs >= 0; got {self}")
        if len(self.num_neighbors) != self.num_layers:
            raise ModelError(
                f"num_neighbors needs one fan-out per layer ({self.num_layers}), got {self.num_neighbors}")
        if not (0.0 < self.test_ratio < 1.0):
            raise ModelError(f"test_ratio must be in (0, 1), got {self.test_ratio}")
        if self.neg_ratio <= 0:
            raise ModelError(f"neg_ratio must be > 0, got {self.neg_ratio}")
        if self.rel_aggr not in ("mean", "sum"):
            raise ModelError(f"rel_aggr must be 'mean' or 'sum', got {self.rel_aggr!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ModelError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EmbeddingConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ModelError(f"unknown embedding config keys {unknown}; known: {sorted(known)}")
        return cls(**d)


@dataclass
class EmbeddingResult:
    """Trained embeddings and everything needed to trust and reuse them.

    Attributes:
        embeddings: label -> ``(N_label, dim)`` float32, rows in the export's id order.
        ids: label -> ``(N_label,)`` node ids.
        metrics: ``auc`` (held-out, all triples pooled), ``auc_per_edge_type``,
            ``epoch_seconds``, ``epoch_loss``, sizes, device.
        config: the :class:`EmbeddingConfig` used.
        fingerprint: :meth:`GraphTables.fingerprint` of the training export.
        model: the trained :class:`LinkModel` (CPU), or ``None`` if not loaded.
        meta: node counts and edge types needed to rebuild the model.
    """

    embeddings: dict[str, np.ndarray]
    ids: dict[str, np.ndarray]
    metrics: dict[str, Any]
    config: EmbeddingConfig
    fingerprint: str
    model: LinkModel | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: str | Path) -> Path:
        """Write the versioned artifact directory.

        Files: ``manifest.json`` (format, medkg/torch/PyG versions, fingerprint,
        creation time, model metadata), ``config.json``, ``metrics.json``,
        ``embeddings.npz`` (per label: ids and vectors) and ``weights.pt``.

        Returns:
            The directory.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        import torch_geometric

        manifest = {
            "format": ARTIFACT_FORMAT,
            "medkg_version": _medkg_version(),
            "torch_version": torch.__version__,
            "torch_geometric_version": torch_geometric.__version__,
            "fingerprint": self.fingerprint,
            "created_at": datetime.now(timezone.utc).isoformat(),
            "meta": self.meta,
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        (out / "config.json").write_text(json.dumps(asdict(self.config), indent=2, sort_keys=True))
        (out / "metrics.json").write_text(json.dumps(self.metrics, indent=2, sort_keys=True))
        arrays: dict[str, np.ndarray] = {}
        for label, emb in self.embeddings.items():
            arrays[f"emb::{label}"] = emb
            arrays[f"ids::{label}"] = np.asarray(self.ids[label]).astype(str)
        np.savez(out / "embeddings.npz", **arrays)
        if self.model is not None:
            torch.save(self.model.state_dict(), out / "weights.pt")
        return out

    @classmethod
    def load(cls, directory: str | Path, expect_fingerprint: str | None = None,
             load_model: bool = True) -> "EmbeddingResult":
        """Read an artifact written by :meth:`save`.

        Args:
            directory: the artifact directory.
            expect_fingerprint: if given, the data fingerprint the caller expects.
            load_model: also rebuild the model from ``weights.pt``.

        Raises:
            ModelError: missing files, another format version, or a fingerprint mismatch.
        """
        d = Path(directory)
        try:
            manifest = json.loads((d / "manifest.json").read_text())
            config = EmbeddingConfig.from_dict(json.loads((d / "config.json").read_text()))
            metrics = json.loads((d / "metrics.json").read_text())
            npz = np.load(d / "embeddings.npz", allow_pickle=False)
        except FileNotFoundError as e:
            raise ModelError(f"{d} is not an embedding artifact: {e.filename} is missing") from e
        if manifest.get("format") != ARTIFACT_FORMAT:
            raise ModelError(f"{d}: artifact format {manifest.get('format')!r}, this medkg reads {ARTIFACT_FORMAT!r}")
        if expect_fingerprint is not None and manifest["fingerprint"] != expect_fingerprint:
            raise ModelError(
                f"{d}: embeddings were trained on data {manifest['fingerprint'][:12]}…, "
                f"not the expected {expect_fingerprint[:12]}…; retrain with `medkg enrich embed`")
        emb = {k.split("::", 1)[1]: npz[k] for k in npz.files if k.startswith("emb::")}
        ids = {k.split("::", 1)[1]: npz[k].astype(object) for k in npz.files if k.startswith("ids::")}
        meta = manifest.get("meta", {})
        model = None
        if load_model and (d / "weights.pt").exists():
            model = _build_model(meta, config)
            model.load_state_dict(torch.load(d / "weights.pt", map_location="cpu", weights_only=True))
        return cls(emb, ids, metrics, config, manifest["fingerprint"], model, meta)


def _medkg_version() -> str:
    try:
        from importlib.metadata import version

        return version("medkg")
    except Exception:  # pragma: no cover - not installed as a distribution
        import graph_engine

        return str(graph_engine.__version__)


def _build_model(meta: dict[str, Any], config: EmbeddingConfig) -> LinkModel:
    return LinkModel(
        {t: int(n) for t, n in meta["num_nodes"].items()},
        [tuple(e) for e in meta["mp_edge_types"]],  # type: ignore[misc]
        [tuple(e) for e in meta["target_edge_types"]],  # type: ignore[misc]
        config.dim, config.num_layers, config.dropout, config.rel_aggr,
    )


def _targets(tables: GraphTables, config: EmbeddingConfig) -> list[EdgeKey]:
    if config.target_edges is None:
        keys = [k for k, e in tables.edges.items() if len(e) >= 2]
    else:
        keys = []
        for spec in config.target_edges:
            key = tuple(spec.split("|"))
            if len(key) != 3 or key not in tables.edges:
                raise ModelError(f"target edge {spec!r} is not 'src|REL|dst' of this export; "
                                 f"have {['|'.join(k) for k in tables.edges]}")
            keys.append(key)  # type: ignore[arg-type]
    if not keys:
        raise ModelError("no edges to train on: the export has no triple with at least 2 edges")
    return keys


def split_edges(tables: GraphTables, targets: list[EdgeKey], test_ratio: float, seed: int
                ) -> tuple[dict[EdgeKey, tuple[np.ndarray, np.ndarray]], dict[EdgeKey, tuple[np.ndarray, np.ndarray]]]:
    """Per triple, hold out ``test_ratio`` of the (deduplicated) edges; other triples stay whole.

    Returns:
        ``(train, test)``: triple -> ``(src, dst)`` index arrays.
    """
    rng = np.random.default_rng(seed)
    train, test = {}, {}
    for key, e in tables.edges.items():
        if key not in targets:
            train[key] = (e.src, e.dst)
            continue
        pairs = np.unique(np.vstack([e.src, e.dst]), axis=1)
        perm = rng.permutation(pairs.shape[1])
        n_test = max(1, int(round(test_ratio * pairs.shape[1])))
        te, tr = perm[:n_test], perm[n_test:]
        train[key] = (pairs[0, tr], pairs[1, tr])
        test[key] = (pairs[0, te], pairs[1, te])
    return train, test


def _negatives(tables: GraphTables, key: EdgeKey, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random (src, dst) pairs of the triple's types that are not edges of it."""
    s_label, _, d_label = key
    ns, nd = len(tables.nodes[s_label]), len(tables.nodes[d_label])
    e = tables.edges[key]
    known = np.unique(e.src * nd + e.dst)
    out_s, out_d = [], []
    need = n
    for _ in range(20):
        s = rng.integers(0, ns, 2 * need + 8)
        d = rng.integers(0, nd, 2 * need + 8)
        ok = ~np.isin(s * nd + d, known)
        out_s.append(s[ok][:need])
        out_d.append(d[ok][:need])
        need -= int(min(ok.sum(), need))
        if need == 0:
            break
    return np.concatenate(out_s), np.concatenate(out_d)


def train_embeddings(
    tables: GraphTables,
    config: EmbeddingConfig | dict[str, Any] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> EmbeddingResult:
    """Train node embeddings by link prediction and report held-out AUC.

    Args:
        tables: the heterogeneous export.
        config: :class:`EmbeddingConfig` or a dict of its fields (default config).
        progress: optional ``progress(epoch, epochs, loss)`` called after each epoch.

    Returns:
        :class:`EmbeddingResult` (``.save(dir)`` writes the artifact).

    Raises:
        ModelError: bad config, no trainable edges, or CUDA asked for but missing.

    Example:
        >>> from graph_engine.export import tables_from_edges
        >>> t = tables_from_edges({"Drug": ["a", "b"], "Gene": ["x", "y"]},
        ...                       {("Drug", "BINDS", "Gene"): [("a", "x"), ("b", "y"), ("a", "y")]})
        >>> r = train_embeddings(t, {"dim": 8, "epochs": 1, "test_ratio": 0.3, "device": "cpu"})
        >>> r.embeddings["Drug"].shape
        (2, 8)
    """
    if config is None:
        config = EmbeddingConfig()
    elif isinstance(config, dict):
        config = EmbeddingConfig.from_dict(config)
    device = torch_device(config.device)
    threads = torch.get_num_threads()
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    try:
        return _train(tables, config, device, progress)
    finally:
        torch.set_num_threads(threads)


def _train(tables: GraphTables, config: EmbeddingConfig, device: torch.device,
           progress: Callable[[int, int, float], None] | None) -> EmbeddingResult:
    from torch_geometric.loader import LinkNeighborLoader

    targets = _targets(tables, config)
    torch.manual_seed(config.seed)
    np_rng = np.random.default_rng(config.seed)

    train_edges, test_edges = split_edges(tables, targets, config.test_ratio, config.seed)
    data = to_hetero_data(tables, reverse=True, edges=train_edges)
    mp_types = list(data.edge_types)
    num_nodes = {t: len(ids) for t, ids in tables.nodes.items()}
    meta = {"num_nodes": num_nodes, "mp_edge_types": [list(e) for e in mp_types],
            "target_edge_types": [list(e) for e in targets]}
    model = _build_model(meta, config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()

    sampler = NumpyNeighborSampler(data, config.num_neighbors, seed=config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    loaders = []
    for key in targets:
        src, dst = train_edges[key]
        if src.size == 0:
            continue
        loaders.append((key, LinkNeighborLoader(
            data, num_neighbors=config.num_neighbors,
            edge_label_index=(key, torch.from_numpy(np.vstack([src, dst]))),
            neg_sampling_ratio=config.neg_ratio, batch_size=config.batch_size,
            shuffle=True, neighbor_sampler=sampler, generator=gen)))

    epoch_seconds, epoch_loss = [], []
    for epoch in range(config.epochs):
        model.train()
        t0 = time.perf_counter()
        total, count = 0.0, 0
        for key, loader in loaders:
            for batch in loader:
                batch = batch.to(device)
                n_id = {t: batch[t].n_id for t in batch.node_types}
                nsn = {t: batch[t].num_sampled_nodes for t in batch.node_types} if config.trim else None
                nse = {k: batch[k].num_sampled_edges for k in batch.edge_types} if config.trim else None
                z = model.encoder(n_id, batch.edge_index_dict, nsn, nse)
                s_t, _, d_t = key
                eli = batch[key].edge_label_index
                logits = model.decoder(z[s_t][eli[0]], z[d_t][eli[1]], key)
                loss = loss_fn(logits, batch[key].edge_label.float())
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * eli.shape[1]
                count += eli.shape[1]
        epoch_seconds.append(time.perf_counter() - t0)
        epoch_loss.append(total / max(1, count))
        if progress is not None:
            progress(epoch + 1, config.epochs, epoch_loss[-1])

    train_device = device
    try:
        z = _embed_all(model, data, device, config.inference_chunk)
    except torch.cuda.OutOfMemoryError:  # a chunk too large for what is left of the GPU
        torch.cuda.empty_cache()
        device = torch.device("cpu")
        model = model.cpu()
        z = _embed_all(model, data, device, config.inference_chunk)
    auc_per, scores_all, labels_all = {}, [], []
    model.eval()
    with torch.no_grad():
        for key in targets:
            ps, pd = test_edges[key]
            ns_, nd_ = _negatives(tables, key, ps.size, np_rng)
            s = np.concatenate([ps, ns_])
            d = np.concatenate([pd, nd_])
            y = np.r_[np.ones(ps.size), np.zeros(ns_.size)]
            logit = model.decoder(z[key[0]][torch.from_numpy(s).to(device)],
                                  z[key[2]][torch.from_numpy(d).to(device)], key).cpu().numpy()
            auc_per["|".join(key)] = roc_auc(y, logit)
            scores_all.append(logit)
            labels_all.append(y)
    y_all, s_all = np.concatenate(labels_all), np.concatenate(scores_all)
    auc = roc_auc(y_all, s_all)
    metrics = {
        "auc": auc,
        "auc_per_edge_type": auc_per,
        "epoch_seconds": epoch_seconds,
        "epoch_loss": epoch_loss,
        "num_train_edges": int(sum(len(v[0]) for k, v in train_edges.items() if k in targets)),
        "num_test_edges": int(sum(len(v[0]) for v in test_edges.values())),
        "device": str(train_device),
        "inference_device": str(device),
        "sampler": "compiled" if compiled_sampler_available() else "numpy",
    }
    model = model.cpu()
    embeddings = {t: z[t].cpu().numpy().astype(np.float32) for t in tables.nodes}
    ids = {t: np.asarray(v, dtype=object) for t, v in tables.nodes.items()}
    return EmbeddingResult(embeddings, ids, metrics, config, tables.fingerprint(), model, meta)


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); NaN without both classes.

    Shapes:
        y: ``(M,)`` 0/1 labels; score: ``(M,)``.
    """
    y = np.asarray(y).astype(bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    _, inv, counts = np.unique(np.asarray(score, np.float64), return_inverse=True, return_counts=True)
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based mean rank of each distinct score
    ranks = avg_rank[inv]
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def _embed_all(model: LinkModel, data: Any, device: torch.device, chunk_size: int) -> dict[str, torch.Tensor]:
    """Exact embeddings of every node over the training graph, layer by layer in chunks (see
    :meth:`HeteroSAGE.embed_layerwise`), returned on ``device``."""
    num_nodes = {t: int(data[t].num_nodes) for t in data.node_types}
    z = model.encoder.embed_layerwise(num_nodes, dict(data.edge_index_dict), device, chunk_size)
    return {t: v.to(device) for t, v in z.items()}


def load_embeddings(directory: str | Path, expect_fingerprint: str | None = None) -> EmbeddingResult:
    """Shorthand for :meth:`EmbeddingResult.load`."""
    return EmbeddingResult.load(directory, expect_fingerprint)


__all__ = ["ARTIFACT_FORMAT", "EmbeddingConfig", "EmbeddingResult", "load_embeddings", "reverse_key",
           "roc_auc", "split_edges", "train_embeddings"]
