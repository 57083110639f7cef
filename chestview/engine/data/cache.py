"""Decoded images cached at training resolution: decoding a PNG / DICOM is the bottleneck of an
epoch, a 224x224 uint8 .npy loads in microseconds."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path

import numpy as np

from chestview.engine import paths

log = logging.getLogger(__name__)

CACHE_VERSION = "v1"  # bump when the decode / resize recipe changes


def default_cache_dir() -> Path:
    return paths.user_cache_dir() / "decoded"


def cache_key(path: str | Path, size: int) -> str:
    """Hash of the file's absolute path, mtime and byte size plus the target size: a replaced file
    gets a new entry, never a stale one."""
    p = Path(path).resolve()
    st = p.stat()
    text = f"{CACHE_VERSION}|{p}|{st.st_mtime_ns}|{st.st_size}|{size}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}.npy"


def load_cached(file: Path, size: int) -> np.ndarray | None:
    try:
        arr = np.load(file, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # a truncated entry (crash): decode again
        log.debug("%s: unreadable cache entry (%s)", file, exc)
        return None
    return arr if arr.shape == (size, size) and arr.dtype == np.uint8 else None


def store_cached(file: Path, arr: np.ndarray) -> None:
    """Atomic: a unique temp name then os.replace, so DataLoader workers racing on the same image
    each write a whole file and the last rename wins (same content)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
        os.replace(tmp, file)
    except OSError as exc:  # a full or read-only cache must not stop training
        log.warning("%s: cannot write cache entry (%s)", file, exc)
        try:
            tmp.unlink()
        except OSError:
            pass
