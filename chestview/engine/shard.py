"""Sharded prediction: split one input list across processes, merge their parts in input order.

A shard is ``(index, count)``: from ``--shard i/n`` or, under ``torchrun``, from ``RANK`` and
``WORLD_SIZE``. Every shard sees the same ordered input list and takes every ``count``-th item
from ``index``, so the split needs no communication. Each writes its part atomically; whichever
shard finds all ``count`` parts of the same run present merges them into one ``results.json``
(atomic again, so two shards finishing together both write the same complete file). A run key
(inputs, model and settings) keeps parts of another run in the same folder out of the merge.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from chestview.engine.errors import ChestviewError
from chestview.engine.util import atomic_write_text

PART_GLOB = "results.part-*.json"


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def take(self, n_items: int) -> list[int]:
        """The global indices of this shard's items, in input order."""
        return list(range(self.index, n_items, self.count))

    def part_name(self) -> str:
        return f"results.part-{self.index + 1:04d}-of-{self.count:04d}.json"


def parse_shard(text: str) -> Shard:
    """``i/n`` with 1 <= i <= n: one-based, as job schedulers number array tasks."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ChestviewError(f"--shard {text!r}: expected i/n, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise ChestviewError(f"--shard {text!r}: i must be between 1 and n")
    return Shard(i - 1, n)


def shard_from_env(environ: dict[str, str] | None = None) -> Shard | None:
    """The shard of this process under torchrun (RANK of WORLD_SIZE), or None outside it."""
    env = os.environ if environ is None else environ
    try:
        world, rank = int(env.get("WORLD_SIZE", "1")), int(env.get("RANK", "0"))
    except ValueError:
        return None
    return Shard(rank, world) if world > 1 and 0 <= rank < world else None


def shard_device(device: str, environ: dict[str, str] | None = None) -> str:
    """Under torchrun on GPUs, each process takes its own (``cuda:LOCAL_RANK``)."""
    env = os.environ if environ is None else environ
    if device in ("auto", "cuda") and "LOCAL_RANK" in env:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{int(env['LOCAL_RANK']) % torch.cuda.device_count()}"
    return device


def run_key(inputs: Sequence[str], **settings: Any) -> str:
    blob = json.dumps({"inputs": list(inputs), "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def write_part(out_dir: Path, shard: Shard, key: str, indices: Sequence[int], document: dict[str, Any]) -> Path:
    """This shard's results document, with each row's global index, written atomically."""
    if len(indices) != len(document["results"]):
        raise ValueError("one global index per result row")
    path = Path(out_dir) / shard.part_name()
    part = {**document, "shard": {"index": shard.index, "count": shard.count, "key": key, "indices": list(indices)}}
    atomic_write_text(path, json.dumps(part, indent=2) + "\n")
    return path


def merge_parts(out_dir: Path, count: int, key: str, target: str = "results.json") -> Path | None:
    """Merge the ``count`` parts of run ``key`` into ``target`` in input order; None until all are there."""
    out_dir = Path(out_dir)
    parts: dict[int, dict[str, Any]] = {}
    for path in out_dir.glob(PART_GLOB):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            info = doc["shard"]
        except (OSError, ValueError, KeyError):
            continue  # another shard's merge removed it, or it is not ours
        if info.get("key") == key and info.get("count") == count:
            parts[int(info["index"])] = doc
    if len(parts) < count:
        return None
    rows: list[tuple[int, dict[str, Any]]] = []
    for doc in parts.values():
        rows += zip(doc["shard"]["indices"], doc["results"])
    merged = {k: v for k, v in parts[0].items() if k != "shard"}
    merged["results"] = [row for _, row in sorted(rows, key=lambda r: r[0])]
    merged["settings"] = {**merged.get("settings", {}), "shards": count}
    path = out_dir / target
    atomic_write_text(path, json.dumps(merged, indent=2) + "\n")
    for i in range(count):
        (out_dir / Shard(i, count).part_name()).unlink(missing_ok=True)
    return path
