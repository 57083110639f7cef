"""Results on disk: one entry per (file content, model, settings), so a folder opened again shows
its results at once and only new or changed files are run.

One SQLite file in the user cache (``results-v{FORMAT}.sqlite``): transactions make every write
all-or-nothing, so a crash mid-write leaves the previous state. A file that is not a database is
moved aside and a fresh one started; an entry that does not decode is deleted and recomputed. A
cache that is only unusable now (read-only, locked by another process, disk full) is left as it
is: the run goes on without it, with one warning. The key hashes the file's bytes (remembered per
path, size, modification time and first and last 64 KB, so unchanged files are not read whole again), the model card (weights SHA-256, thresholds, input gate), the settings
that change results (test-time augmentation, box threshold and mode, device, reduced precision) and the format and
chestview versions. The cache is bounded in bytes and entries; the least recently used go first.
Heatmaps are stored as they are kept in memory: low-resolution uint8, zlib-compressed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import struct
import threading
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import numpy as np

from chestview import __version__
from chestview.engine.paths import user_cache_dir
from chestview.engine.results import ImageResult
from chestview.engine.sqlite_store import call_or_recover, close_quietly, connect_store, open_or_recover, set_aside
from chestview.engine.util import open_regular

log = logging.getLogger(__name__)

FORMAT = 1
RESULTS_REVISION = 2  # what a result holds (see settings_key); a new revision is a new key, not a new file
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_ENTRIES = 50_000
_CHUNK = 1 << 20
_PROBE = 64 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT);
-- file_digests (with the content probe) is a table of its own, not a column added to
-- files: an older chestview sharing the file keeps writing files as it always did.
CREATE TABLE IF NOT EXISTS file_digests (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,
                                         probe TEXT, sha256 TEXT);
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, payload BLOB, nbytes INTEGER, last_used REAL);
CREATE INDEX IF NOT EXISTS results_lru ON results (last_used);
"""


def default_cache_path() -> Path:
    return user_cache_dir() / f"results-v{FORMAT}.sqlite"


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a regular file (a FIFO or a device raises instead of blocking or never ending)."""
    with open_regular(path) as f:
        return _sha256_of(f)


def _sha256_of(f: IO[bytes]) -> str:
    h = hashlib.sha256()
    while chunk := f.read(_CHUNK):
        h.update(chunk)
    return h.hexdigest()


def content_probe(f: IO[bytes], size: int) -> str:
    """A hash of the first and last 64 KB: catches a file replaced by another of the same size whose
    modification time was put back, for two small reads instead of the whole file."""
    h = hashlib.sha256()
    f.seek(0)
    h.update(f.read(_PROBE))
    if size > _PROBE:
        f.seek(max(size - _PROBE, _PROBE))
        h.update(f.read(_PROBE))
    return h.hexdigest()[:32]


def settings_key(
    card: Any, *, device_type: str, box_threshold: int, tta: str = "none", boxes: str = "positive",
    max_boxes: int = 3, precision: str = "f32",
) -> str:
    """What, besides the file, decides a result: the card and the settings of the run. Needs only the
    card, not the model: the app looks results up with it before (or without) building a predictor."""
    settings = {
        "format": FORMAT,
        # 2: boxes by the one box rule ("diffuse, no box"), the abnormality output's map stored
        "results": RESULTS_REVISION,
        "chestview": __version__,
        "card": card.to_json(),
        "tta": tta,
        "box_threshold": int(box_threshold),
        "boxes": boxes,
        "max_boxes": max_boxes,
        "backend": device_type,  # fp16 autocast on CUDA gives slightly different numbers
    }
    if precision != "f32":  # the exact backends agree to 1e-4 and share entries; bf16 does not
        settings["precision"] = precision
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def predictor_key(predictor: Any) -> str:
    """:func:`settings_key` of a predictor's card and settings."""
    return settings_key(predictor.card, device_type=predictor.device.type, box_threshold=predictor.box_threshold,
                        tta=predictor.tta, boxes=predictor.boxes, max_boxes=predictor.max_boxes,
                        precision=getattr(predictor, "precision", "f32"))


def encode_result(result: ImageResult) -> bytes:
    heat = {label: np.ascontiguousarray(m, dtype=np.uint8) for label, m in result.heatmaps.items()}
    header = {"result": result.to_json(), "heatmaps": [[label, list(m.shape)] for label, m in heat.items()]}
    head = json.dumps(header).encode()
    return zlib.compress(struct.pack("<I", len(head)) + head + b"".join(m.tobytes() for m in heat.values()), 6)


def decode_result(blob: bytes) -> ImageResult:
    raw = zlib.decompress(blob)
    (n,) = struct.unpack("<I", raw[:4])
    header = json.loads(raw[4 : 4 + n])
    result = ImageResult.from_json(header["result"])
    offset = 4 + n
    for label, shape in header["heatmaps"]:
        size = int(np.prod(shape))
        chunk = raw[offset : offset + size]
        if len(chunk) != size:
            raise ValueError("heatmap data is truncated")
        result.heatmaps[label] = np.frombuffer(chunk, dtype=np.uint8).reshape(shape).copy()
        offset += size
    return result


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int


class ResultCache:
    """Thread-safe (one lock around one connection); several processes may share the file."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        busy_timeout: float = 5.0,
    ) -> None:
        """``busy_timeout``: seconds to wait for another process's write lock before going on
        without the cache this run."""
        self.path = Path(path) if path is not None else default_cache_path()
        self.busy_timeout = busy_timeout
        self.disabled = False
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._puts = 0
        with self._lock:
            self._open()

    # -- connection -------------------------------------------------------------------------
    def _open(self) -> None:
        self._conn = open_or_recover(self.path, self._connect, damaged=self._discard, unavailable=self._disable)

    def _connect(self) -> sqlite3.Connection:
        return connect_store(self.path, timeout=self.busy_timeout, schema=_SCHEMA, probe_table="results",
                             pragmas=("PRAGMA synchronous=NORMAL",))

    def _discard(self, exc: BaseException) -> None:
        """The file is not a usable database: move it aside (kept once, for a bug report) and start over."""
        log.warning("%s: result cache unreadable (%s); starting a new one", self.path, exc)
        self._close_quietly()
        set_aside(self.path)

    def _disable(self, exc: BaseException) -> None:
        """The cache cannot be used now (read-only, locked by another process, disk full): this run
        goes on without it, and the file is left as it is for the next run."""
        self._close_quietly()
        if not self.disabled:
            self.disabled = True
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            log.warning("%s: result cache not usable (%s); no cache this run", self.path, reason)

    def _close_quietly(self) -> None:
        close_quietly(self._conn)
        self._conn = None

    def _run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """``fn(conn)`` under the lock, or None once the cache is off for this run. Only a damaged
        database (SQLite's CORRUPT or NOTADB) is replaced, and ``fn`` tried once more: a locked,
        read-only or full one turns the cache off, never discards what it holds."""
        with self._lock:
            if self.disabled:
                return None
            return call_or_recover(self._connection, fn, damaged=self._discard, unavailable=self._disable)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and not self.disabled:
            self._open()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- keys -------------------------------------------------------------------------------
    def file_digests(self, paths: Iterable[str]) -> dict[str, str]:
        """SHA-256 of each readable regular file's bytes. Unchanged files (same size, mtime and
        first and last 64 KB) are not read whole again; FIFOs, devices and folders are never read
        (they get no digest: loading them reports why)."""
        paths = [str(p) for p in paths]
        known: dict[str, tuple[int, int, str, str | None]] = {}

        def read(conn: sqlite3.Connection) -> None:
            for start in range(0, len(paths), 500):
                part = [os.path.abspath(p) for p in paths[start : start + 500]]
                marks = ",".join("?" * len(part))
                sql = f"SELECT path, size, mtime_ns, sha256, probe FROM file_digests WHERE path IN ({marks})"
                for row in conn.execute(sql, part):
                    known[row[0]] = (row[1], row[2], row[3], row[4])

        self._run(read)
        out: dict[str, str] = {}
        fresh: list[tuple[str, int, int, str, str]] = []
        for p in paths:
            absolute = os.path.abspath(p)
            try:
                with open_regular(p) as fh:
                    st = os.fstat(fh.fileno())
                    probe = content_probe(fh, st.st_size)
                    memo = known.get(absolute)
                    if memo and memo[:2] == (st.st_size, st.st_mtime_ns) and memo[3] == probe:
                        out[p] = memo[2]
                        continue
                    fh.seek(0)
                    digest = _sha256_of(fh)
            except OSError:
                continue
            out[p] = digest
            fresh.append((absolute, st.st_size, st.st_mtime_ns, digest, probe))
        if fresh:
            self._run(lambda conn: conn.executemany(
                "INSERT OR REPLACE INTO file_digests (path, size, mtime_ns, sha256, probe) VALUES (?, ?, ?, ?, ?)", fresh))
        return out

    @staticmethod
    def key(file_digest: str, predictor_key: str) -> str:
        return hashlib.sha256(f"{file_digest}:{predictor_key}".encode()).hexdigest()

    # -- entries ----------------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, ImageResult]:
        keys = list(dict.fromkeys(keys))
        rows: dict[str, bytes] = {}

        def read(conn: sqlite3.Connection) -> None:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows.update(conn.execute(f"SELECT key, payload FROM results WHERE key IN ({marks})", part).fetchall())

        self._run(read)
        out: dict[str, ImageResult] = {}
        bad: list[tuple[str]] = []
        for key, blob in rows.items():
            try:
                out[key] = decode_result(bytes(blob))
            except Exception as exc:  # any damage to one entry: forget it, it will be recomputed
                log.warning("result cache entry %s… unreadable (%s); dropped", key[:12], exc)
                bad.append((key,))
        now = time.time()
        if out or bad:
            def touch(conn: sqlite3.Connection) -> None:
                conn.executemany("UPDATE results SET last_used = ? WHERE key = ?", [(now, k) for k in out])
                conn.executemany("DELETE FROM results WHERE key = ?", bad)

            self._run(touch)
        return out

    def get(self, key: str) -> ImageResult | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, result: ImageResult) -> None:
        """Store a successful result (errors are not cached: the file may become readable)."""
        if result.error is not None:
            return
        blob = encode_result(result)
        self._run(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)", (key, blob, len(blob), time.time())))
        self._puts += 1
        if self._puts % 32 == 1:
            self.evict()

    def stats(self) -> CacheStats:
        row = self._run(lambda conn: conn.execute("SELECT COUNT(*), COALESCE(SUM(nbytes), 0) FROM results").fetchone())
        return CacheStats(int(row[0]), int(row[1])) if row else CacheStats(0, 0)

    def evict(self) -> int:
        """Drop least recently used entries until under 90% of both bounds; returns how many."""
        def run(conn: sqlite3.Connection) -> int:
            count, total = conn.execute("SELECT COUNT(*), COALESCE(SUM(nbytes), 0) FROM results").fetchone()
            if count <= self.max_entries and total <= self.max_bytes:
                return 0
            keep_n, keep_b = int(self.max_entries * 0.9), int(self.max_bytes * 0.9)
            drop: list[tuple[str]] = []
            for key, nbytes in conn.execute("SELECT key, nbytes FROM results ORDER BY last_used ASC").fetchall():
                if count <= keep_n and total <= keep_b:
                    break
                drop.append((key,))
                count -= 1
                total -= nbytes
            conn.execute("BEGIN")
            conn.executemany("DELETE FROM results WHERE key = ?", drop)
            for table in ("files", "file_digests"):
                conn.execute(f"DELETE FROM {table} WHERE path NOT IN "
                             f"(SELECT path FROM {table} ORDER BY rowid DESC LIMIT ?)", (self.max_entries,))
            conn.execute("COMMIT")
            return len(drop)

        return int(self._run(run) or 0)


def cached_results(
    predictor: Any, paths: Iterable[str], cache: ResultCache, *, key: str | None = None,
) -> tuple[dict[str, ImageResult], dict[str, str]]:
    """(path -> cached result, path -> cache key) for ``paths``: no model runs. Fast enough to call
    on the GUI thread for a folder of a thousand unchanged files. ``key``: the :func:`settings_key`
    to look up instead of the predictor's (``predictor`` may then be None: no model is needed)."""
    paths = [str(p) for p in paths]
    pkey = key if key is not None else predictor_key(predictor)
    keys = {p: cache.key(d, pkey) for p, d in cache.file_digests(paths).items()}
    found = cache.get_many(keys.values())
    hits: dict[str, ImageResult] = {}
    used: set[str] = set()
    for p, k in keys.items():
        if k in found:
            r = found[k]
            if k in used:  # the same bytes under two names: two results, not one shared object
                r = replace(r, warnings=list(r.warnings), heatmaps=dict(r.heatmaps))
            used.add(k)
            r.path = p
            hits[p] = r
    return hits, keys


def predict_with_cache(
    predictor: Any,
    paths: Iterable[str],
    cache: ResultCache | None,
    *,
    batch_size: int = 8,
    num_workers: int | None = None,
    on_progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[ImageResult]:
    """Every path's result: cached ones first (in input order, no model run), then the rest as the
    model produces them, each stored. ``cache=None`` runs everything. ``result.timings_ms`` of a
    cached result are those of the run that made it."""
    # deferred: imports torch
    from chestview.engine.inference import PredictProgress

    paths = [str(p) for p in paths]
    if cache is None:
        yield from predictor.predict_paths(paths, batch_size=batch_size, num_workers=num_workers,
                                           on_progress=on_progress, should_stop=should_stop)
        return
    hits, keys = cached_results(predictor, paths, cache)
    done = 0
    for p in paths:
        if p in hits:
            done += 1
            if on_progress is not None:
                on_progress(PredictProgress(done, len(paths), p))
            yield hits[p]
    misses = [p for p in paths if p not in hits]
    offset = done

    def progress(ev: Any) -> None:
        if on_progress is not None:
            on_progress(PredictProgress(offset + ev.done, len(paths), ev.path))

    for result in predictor.predict_paths(misses, batch_size=batch_size, num_workers=num_workers,
                                          on_progress=progress, should_stop=should_stop):
        key = keys.get(result.path)
        if key is not None:
            cache.put(key, result)
        yield result
