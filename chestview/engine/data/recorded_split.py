"""A model's split as the images themselves: each split's file names and content hashes.

A split recorded this way cannot leak however the data folder is spelled, moved, grown, shrunk or
renamed: evaluation matches the folder's images to the lists by content (SHA-256), falling back to
the name only for reporting. Written by training into the run (``split.json``) and shipped in the
zoo entry; :func:`match_recorded_split` is the one place a folder is matched against it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chestview.engine.data.types import LabeledDataset
from chestview.engine.errors import ChestviewError
from chestview.engine.util import atomic_write_text, sha256_file

SPLIT_FILE = "split.json"
FORMAT = "chestview-split/1"
RECORDED_SPLITS = ("train", "val", "test")


def image_name(ds: LabeledDataset, index: int) -> str:
    """The image's path relative to the dataset root (its name in the label file's folder)."""
    path = Path(os.path.abspath(ds.samples[index].path))  # links are names too: not resolved
    try:
        return path.relative_to(os.path.abspath(ds.root)).as_posix()
    except ValueError:
        return path.name


def content_hashes(paths: Sequence[str], workers: int = 4) -> list[str]:
    with ThreadPoolExecutor(max_workers=workers) as pool:  # hashing is I/O plus C: threads overlap it
        return list(pool.map(sha256_file, paths))


def record_split(ds: LabeledDataset, split: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    """The JSON document of ``split`` (indices into ``ds``): per split, [name, sha256] pairs."""
    lists: dict[str, list[list[str]]] = {}
    for name in RECORDED_SPLITS:
        idx = list(split.get(name, []))
        hashes = content_hashes([ds.samples[i].path for i in idx])
        lists[name] = [[image_name(ds, i), h] for i, h in zip(idx, hashes)]
    return {"format": FORMAT, "data": ds.name, "lists": lists}


def write_split(path: str | Path, document: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(document, indent=0, sort_keys=True) + "\n")


def read_split(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChestviewError(f"{path}: cannot read the recorded split ({exc})") from None
    lists = doc.get("lists") if isinstance(doc, dict) else None
    if doc.get("format") != FORMAT or not isinstance(lists, dict) or not all(
            isinstance(lists.get(k, []), list) and all(isinstance(e, list) and len(e) == 2 for e in lists.get(k, []))
            for k in RECORDED_SPLITS):
        raise ChestviewError(f"{path}: not a chestview split record ({FORMAT})")
    return doc


@dataclass
class SplitMatch:
    """The data folder's images matched to a recorded split (indices into the dataset).

    ``unseen``: images in none of the lists (the model never saw them: an extra, unseen split);
    ``missing``: recorded names per split whose content is not in the folder; ``leaked``: test
    images whose content is also among the training or validation images (the split cannot be
    trusted for test metrics)."""

    indices: dict[str, list[int]]
    unseen: list[int]
    missing: dict[str, list[str]] = field(default_factory=dict)
    leaked: list[str] = field(default_factory=list)
    renamed: int = 0  # images found by content under another name

    def summary(self) -> str:
        parts = [f"{k} {len(v)}" for k, v in self.indices.items()]
        if self.unseen:
            parts.append(f"{len(self.unseen)} never seen by the model")
        gone = {k: len(v) for k, v in self.missing.items() if v}
        if gone:
            parts.append("missing from the folder: " + ", ".join(f"{n} {k}" for k, n in gone.items()))
        if self.renamed:
            parts.append(f"{self.renamed} found under another name")
        return "; ".join(parts)


def match_recorded_split(ds: LabeledDataset, document: Mapping[str, Any]) -> SplitMatch:
    """Match every image of ``ds`` to the recorded lists by content hash."""
    lists = document["lists"]
    where: dict[str, str] = {}  # sha -> split (training wins over val over test: a duplicate leaks)
    names: dict[str, set[str]] = {}  # sha -> every recorded name (a folder may hold identical files)
    for split in reversed(RECORDED_SPLITS):
        for name, sha in lists.get(split, []):
            where[sha] = split
            names.setdefault(sha, set()).add(name)
    test_hashes = {sha for _, sha in lists.get("test", [])}
    seen_hashes = {sha for k in ("train", "val") for _, sha in lists.get(k, [])}
    leaked = sorted(min(names[sha]) for sha in test_hashes & seen_hashes)
    hashes = content_hashes([s.path for s in ds.samples])
    indices: dict[str, list[int]] = {k: [] for k in RECORDED_SPLITS}
    unseen: list[int] = []
    found: set[str] = set()
    renamed = 0
    for i, sha in enumerate(hashes):
        split = where.get(sha)
        if split is None:
            unseen.append(i)
            continue
        if sha in found:
            continue  # the same image twice in the folder: evaluated once
        found.add(sha)
        indices[split].append(i)
        recorded_names = names[sha] | {Path(n).name for n in names[sha]}
        renamed += image_name(ds, i) not in recorded_names and Path(ds.samples[i].path).name not in recorded_names
    missing = {k: [name for name, sha in lists.get(k, []) if sha not in found] for k in RECORDED_SPLITS}
    return SplitMatch(indices=indices, unseen=unseen, missing=missing, leaked=leaked, renamed=renamed)
