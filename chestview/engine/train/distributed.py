"""DistributedDataParallel set-up for ``torchrun --nproc_per_node N -m chestview train``.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; we use gloo on the CPU and nccl on CUDA. Only rank 0
logs, writes checkpoints and the zoo entry; every rank runs the same epochs (DistributedSampler).
Every decision (best epoch, early stop, learning rate) must be the same on every rank, or the ranks
drift apart and eventually wait on each other forever: before validating, BatchNorm statistics
(rank-local, each from its own shard) are averaged over the ranks (:func:`sync_buffers`), and rank
0's validation numbers are handed to all (:func:`from_main`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect() -> DistInfo:
    """The process's place in a torchrun job (a single process when not launched by torchrun)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        return DistInfo()
    return DistInfo(rank, world, local) if world > 1 else DistInfo()


def init(info: DistInfo, device: torch.device) -> None:
    if not info.enabled or (dist.is_available() and dist.is_initialized()):
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)


def device_for(info: DistInfo, device: torch.device) -> torch.device:
    """One GPU per process: cuda:LOCAL_RANK."""
    if info.enabled and device.type == "cuda":
        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return device


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(value: float, info: DistInfo, device: torch.device) -> float:
    if not info.enabled or not dist.is_initialized():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def broadcast_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """Rank 0's decision (stop early, cancel) for every rank, so that no rank waits forever."""
    if not info.enabled or not dist.is_initialized():
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def sync_buffers(modules: Iterable[nn.Module], info: DistInfo) -> None:
    """The same buffers on every rank: floating-point ones (BatchNorm running mean and variance)
    averaged over the ranks, the others (``num_batches_tracked``) rank 0's."""
    if not info.enabled or not dist.is_initialized():
        return
    seen: set[int] = set()
    for module in modules:
        if id(module) in seen:
            continue
        seen.add(id(module))
        for buf in module.buffers():
            if buf.dtype.is_floating_point:
                dist.all_reduce(buf)
                buf.div_(info.world_size)
            else:
                dist.broadcast(buf, src=0)


def from_main(fn: Callable[[], T], info: DistInfo) -> T:
    """``fn()`` computed on rank 0 only and its result given to every rank (one number for one
    decision). An exception on rank 0 is raised on every rank instead of leaving them waiting."""
    if not info.enabled or not dist.is_initialized():
        return fn()
    box: list = [None]
    if info.is_main:
        try:
            box[0] = ("ok", fn())
        except Exception as exc:  # noqa: BLE001 - re-raised below, on every rank
            box[0] = ("error", exc)
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise value
    return value


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
