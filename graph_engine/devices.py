"""The one device resolver: what ``device="auto" | "cpu" | "cuda[:N]"`` means everywhere
(scoring, embeddings, image / text / sequence models, generators).

``"auto"`` is CUDA when a GPU is visible, else the CPU; asking for CUDA where
there is none is an error naming the way out, never a silent fall-back.
"""

from __future__ import annotations

from typing import Any

from graph_engine.errors import MedkgError, ModelError


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False when torch cannot be imported)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return bool(torch.cuda.is_available())


def check_device_name(device: str, error: type[MedkgError] = ModelError) -> str:
    """``device`` if it is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, else ``error``."""
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise error(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return str(device)


def resolve_device_name(device: str, error: type[MedkgError] = ModelError) -> str:
    """``auto`` -> ``cuda`` or ``cpu``; CUDA asked for without a GPU -> ``error``."""
    device = check_device_name(device, error)
    cuda_ok = cuda_available()
    if device == "auto":
        return "cuda" if cuda_ok else "cpu"
    if device.startswith("cuda") and not cuda_ok:
        raise error(f"device={device!r} but CUDA is not available; use device='cpu' or 'auto'")
    return device


def torch_device(device: str, error: type[MedkgError] = ModelError) -> Any:
    """:func:`resolve_device_name` as a ``torch.device``."""
    import torch

    return torch.device(resolve_device_name(device, error))
