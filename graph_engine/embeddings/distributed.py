"""Data-parallel GNN training with ``torch.distributed`` (DDP): gloo on the CPU, NCCL on GPUs.

:func:`~graph_engine.embeddings.train_embeddings` with ``nproc=N`` spawns ``N`` worker
processes (``torch.multiprocessing``, file rendezvous in a temporary directory), or, called
inside an initialised process group (``torchrun``), trains as that group's rank. Every rank

* builds the same model from the same seed (DDP also broadcasts rank 0's parameters),
* trains on an equal-sized shard of each triple's training edges (the same shuffled order on
  every rank, rank ``r`` takes the ``r``-th slice; at most ``N - 1`` edges per triple are left
  out so that every rank runs the same number of steps, which DDP requires),
* with ``batch_size // N`` edges per step, so one optimiser step sees the same number of
  edges as a single-process step and DDP's gradient average equals the single-process mean loss.

After training the ranks check that their parameters are identical (``metrics
["max_param_diff_across_ranks"]``, 0.0), and rank 0 embeds all nodes and computes the
held-out AUC; in spawned mode it saves the artifact to a temporary directory that the parent
loads and returns.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from graph_engine.errors import ModelError


@dataclass(frozen=True)
class World:
    """This process's place in the training group (``rank 0 of 1`` without torch.distributed)."""

    rank: int = 0
    size: int = 1

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """The initialised default process group, or a single process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def shard(src: np.ndarray, dst: np.ndarray, world: World, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank ``world.rank``'s equal-sized slice of a seeded permutation of the edges.

    Shapes:
        src, dst: ``(E,)``; returns ``(E // world.size,)`` each.
    """
    if not world.distributed:
        return src, dst
    per = src.size // world.size
    order = np.random.default_rng(seed).permutation(src.size)[world.rank * per:(world.rank + 1) * per]
    return src[order], dst[order]


class LinkStep(nn.Module):
    """Encoder + decoder of one mini-batch as a single ``forward``, which DDP needs to wrap."""

    def __init__(self, model: Any) -> None:  # a LinkModel (typed Any: mypy sees submodules as Tensor | Module)
        super().__init__()
        self.model: Any = model

    def forward(self, n_id: dict[str, torch.Tensor], edge_index: dict[Any, torch.Tensor], nsn: Any, nse: Any,
                eli: torch.Tensor, key: tuple[str, str, str]) -> torch.Tensor:
        z = self.model.encoder(n_id, edge_index, nsn, nse)
        return self.model.decoder(z[key[0]][eli[0]], z[key[2]][eli[1]], key)


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """:class:`LinkStep` of ``model``, inside ``DistributedDataParallel`` when ``world`` is distributed.

    ``find_unused_parameters``: a batch of one triple leaves the other triples' relation
    vectors and some edge types' convolutions without gradient.
    """
    step = LinkStep(model)
    if not world.distributed:
        return step
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
    return DistributedDataParallel(step, device_ids=ids, find_unused_parameters=True)


def all_sum(values: list[float], world: World, device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over the ranks (themselves without a group)."""
    if not world.distributed:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.cpu().tolist()


def max_param_diff(model: nn.Module, world: World, device: torch.device) -> float:
    """Largest absolute difference between this rank's parameters and rank 0's, maximised over ranks."""
    if not world.distributed:
        return 0.0
    import torch.distributed as dist

    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).to(device)
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    diff = (flat - ref).abs().max().reshape(1).double()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff.item())


def threads_per_rank(config_threads: int, nproc: int) -> int:
    """``config_threads`` if set, else the machine's cores shared out between the ranks."""
    return config_threads if config_threads > 0 else max(1, (os.cpu_count() or 1) // nproc)


def spawn_training(tables: Any, config: Any, nproc: int,
                   progress: Callable[[int, int, float], None] | None = None) -> Any:
    """Train with ``nproc`` spawned DDP processes; returns rank 0's :class:`EmbeddingResult`.

    Raises:
        ModelError: ``nproc < 1``, more CUDA ranks than GPUs, or a worker failed (its error named).
    """
    import torch.multiprocessing as mp

    from graph_engine.devices import torch_device
    from graph_engine.embeddings.train import EmbeddingResult

    if nproc < 1:
        raise ModelError(f"nproc must be >= 1, got {nproc}")
    device = torch_device(config.device)
    if device.type == "cuda" and torch.cuda.device_count() < nproc:
        raise ModelError(f"nproc={nproc} CUDA ranks but only {torch.cuda.device_count()} GPU(s) visible; "
                         f"use --nproc {max(1, torch.cuda.device_count())} or --device cpu")
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="medkg-ddp-") as tmp:
        queue = ctx.SimpleQueue()
        procs = mp.start_processes(_worker, args=(tables, config, nproc, device.type, tmp, queue),
                                   nprocs=nproc, join=False, start_method="spawn")
        try:
            while not procs.join(timeout=0.2):
                _drain(queue, progress)
        except mp.ProcessRaisedException as e:
            raise ModelError(f"distributed training failed: {_last_line(str(e))}") from None
        except mp.ProcessExitedException as e:
            raise ModelError(f"distributed training failed: a worker exited ({e})") from None
        _drain(queue, progress)
        return EmbeddingResult.load(Path(tmp) / "result")


def _drain(queue: Any, progress: Callable[[int, int, float], None] | None) -> None:
    while not queue.empty():
        item = queue.get()
        if progress is not None:
            progress(*item)


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else text


def _worker(rank: int, tables: Any, config: Any, nproc: int, device_type: str, tmp: str, queue: Any) -> None:
    import torch.distributed as dist

    from graph_engine.embeddings.train import _train

    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=nproc)
    try:
        device = torch.device(f"cuda:{rank}") if device_type == "cuda" else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.set_num_threads(threads_per_rank(config.num_threads, nproc))
        report = (lambda e, n, loss: queue.put((e, n, loss))) if rank == 0 else None
        result = _train(tables, config, device, report, World(rank, nproc))
        if rank == 0:
            result.save(Path(tmp) / "result")
        dist.barrier()
    except Exception:
        traceback.print_exc()
        raise
    finally:
        dist.destroy_process_group()
