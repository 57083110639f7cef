"""Choosing the compute device: CUDA when available, else Apple MPS, else the CPU."""

from __future__ import annotations

import torch

from chestview.engine.errors import ChestviewError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ChestviewError("device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ChestviewError("device mps: Apple MPS is not available here")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ChestviewError(f"device {name!r}: not a device name (auto, cpu, cuda, cuda:N, mps)") from None


def describe_device(device: torch.device) -> str:
    """A short human name: the GPU's name, or 'CPU (N threads)'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
