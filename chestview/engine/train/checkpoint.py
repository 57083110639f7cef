"""Resumable checkpoints: written atomically every epoch, read back with ``weights_only=True``.

Everything in a checkpoint is a tensor, a number, a string or a list/dict of those (RNG states
included), so loading it can never run code, unlike a pickled checkpoint.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chestview.engine.errors import ChestviewError
from chestview.engine.util import atomic_write_bytes, remove_stale_temps

CHECKPOINT_FILE = "checkpoint.pt"
BEST_FILE = "best.safetensors"
FORMAT_VERSION = 1


# What a run folder holds (checkpoint, best weights, metrics, config, command; model/ and eval/ at the end).
_RUN_SUFFIXES = (".pt", ".safetensors", ".jsonl", ".json", ".toml", ".txt", ".md", ".png")


def remove_stale_run_temps(out: str | Path) -> int:
    """Delete the temporary files (``.checkpoint.pt.*.tmp``: up to a checkpoint's size each) that
    runs killed in the middle of a write left in the run folder ``out``; call it at a run's start."""
    out = Path(out)
    ours = lambda name: name.endswith(_RUN_SUFFIXES)  # noqa: E731
    return sum(remove_stale_temps(folder, ours) for folder in (out, out / "model", out / "eval"))


def capture_rng() -> dict[str, Any]:
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "python": {"version": int(py_version), "state": list(py_state), "gauss": py_gauss},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class TrainState:
    """Where a run stands after ``epoch`` completed epochs."""

    epoch: int = 0
    best_val_loss: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0  # epochs since the last val-loss improvement (early stopping)
    wall_seconds: float = 0.0


def save_checkpoint(
    path: str | Path,
    *,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    scheduler_state: dict[str, Any],
    state: TrainState,
    config: dict[str, Any],
    scaler_state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    payload = {
        **(extra or {}),
        "format": FORMAT_VERSION,
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
        "optimizer": optimizer_state,
        "scheduler": scheduler_state,
        "epoch": state.epoch,
        "best_val_loss": state.best_val_loss,
        "best_epoch": state.best_epoch,
        "bad_epochs": state.bad_epochs,
        "wall_seconds": state.wall_seconds,
        "rng": capture_rng(),
        "config": config,
        "scaler": scaler_state or {},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    # Written whole, then renamed: a run killed mid-write keeps the previous epoch's checkpoint.
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ChestviewError(f"{path}: no checkpoint to resume from") from None
    except Exception as exc:  # unpickling errors come in many types
        raise ChestviewError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise ChestviewError(f"{path}: not a chestview training checkpoint (format {FORMAT_VERSION})")
    return payload


def train_state_from(payload: dict[str, Any]) -> TrainState:
    return TrainState(
        epoch=int(payload["epoch"]),
        best_val_loss=float(payload["best_val_loss"]),
        best_epoch=int(payload["best_epoch"]),
        bad_epochs=int(payload["bad_epochs"]),
        wall_seconds=float(payload.get("wall_seconds", 0.0)),
    )


def save_best(path: str | Path, model_state: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save as save_bytes

    tensors = {k: v.detach().cpu().contiguous() for k, v in model_state.items()}
    atomic_write_bytes(path, save_bytes(tensors))


def load_best(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load as load_bytes

    return load_bytes(Path(path).read_bytes())
