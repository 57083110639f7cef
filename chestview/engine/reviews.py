"""A reader's review of each film: read or not, a verdict per AI finding (agree / disagree / unsure)
and a free-text note, kept on disk so that a reading session survives a restart.

One SQLite file in the user data folder (``reviews-v{FORMAT}.sqlite``; data, not cache: a reader's
verdicts are never evicted). Reviews are keyed like the result cache: by the SHA-256 of the film's
bytes, so a renamed or moved film keeps its review and a changed file starts unread. Every write is
one transaction (all or nothing). A file that is not a database is moved aside (``.corrupt``) with one
warning and a fresh store is started; the app never fails on it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from chestview.engine.paths import user_data_dir
from chestview.engine.result_cache import file_sha256
from chestview.engine.results import ImageResult
from chestview.engine.sqlite_store import call_or_recover, close_quietly, connect_store, open_or_recover, set_aside
from chestview.engine.util import atomic_write_text

log = logging.getLogger(__name__)

FORMAT = 1
VERDICTS = ("agree", "disagree", "unsure")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT);
CREATE TABLE IF NOT EXISTS reviews (digest TEXT PRIMARY KEY, path TEXT, read INTEGER,
                                    verdicts TEXT, note TEXT, model TEXT, updated REAL);
"""


def default_review_path() -> Path:
    return user_data_dir() / f"reviews-v{FORMAT}.sqlite"


@dataclass(frozen=True)
class Review:
    """One film's review. ``verdicts``: finding label -> one of :data:`VERDICTS`; ``model``: the model
    whose findings were judged."""

    digest: str
    path: str = ""
    read: bool = False
    verdicts: Mapping[str, str] = field(default_factory=dict)
    note: str = ""
    model: str = ""
    updated: float = 0.0

    @property
    def disagreed(self) -> bool:
        return any(v == "disagree" for v in self.verdicts.values())

    def summary(self) -> str:
        """'2 agree, 1 disagree' (empty without verdicts)."""
        counts = [(v, sum(1 for x in self.verdicts.values() if x == v)) for v in VERDICTS]
        return ", ".join(f"{n} {v}" for v, n in counts if n)


class ReviewStore:
    """Thread-safe (one lock around one connection)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_review_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._open()

    # -- connection -------------------------------------------------------------------------
    def _open(self) -> None:
        """Connect; a damaged store is set aside and a new one started. A store that is only unusable
        now (locked by another process, read-only, a full disk) is never set aside: the reader's
        verdicts stay in it, this call goes without it and the next one tries again."""
        self._conn = open_or_recover(self.path, self._connect, damaged=self._set_aside, unavailable=self._unavailable)

    def _unavailable(self, exc: BaseException) -> None:
        log.warning("%s: review store unavailable (%s); verdicts are not saved until it is", self.path, exc)
        close_quietly(self._conn)
        self._conn = None

    def _connect(self) -> sqlite3.Connection:
        return connect_store(self.path, timeout=10.0, schema=_SCHEMA, probe_table="reviews")

    def _set_aside(self, exc: BaseException) -> None:
        log.warning("%s: review store unreadable (%s); set aside as .corrupt, starting a new one", self.path, exc)
        close_quietly(self._conn)
        self._conn = None
        set_aside(self.path)

    def _run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            return call_or_recover(self._connection, fn, damaged=self._set_aside, unavailable=self._unavailable)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            self._open()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- keys -------------------------------------------------------------------------------
    def digests(self, paths: Iterable[str]) -> dict[str, str]:
        """SHA-256 of each readable file; unchanged files (same size and mtime) are not read again."""
        out: dict[str, str] = {}
        fresh: list[tuple[str, int, int, str]] = []
        for p in dict.fromkeys(str(p) for p in paths):
            try:
                st = os.stat(p)
            except OSError:
                continue
            absolute = os.path.abspath(p)
            row = self._run(lambda c: c.execute("SELECT size, mtime_ns, sha256 FROM files WHERE path = ?",
                                                (absolute,)).fetchone())
            if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
                out[p] = row[2]
                continue
            try:
                out[p] = file_sha256(p)
            except OSError:
                continue
            fresh.append((absolute, st.st_size, st.st_mtime_ns, out[p]))
        if fresh:
            self._run(lambda c: c.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", fresh))
        return out

    # -- reviews ----------------------------------------------------------------------------
    def get_many(self, paths: Iterable[str]) -> dict[str, Review]:
        """path -> its review (an empty, unread one when there is none); unreadable files are left out."""
        digests = self.digests(paths)
        found: dict[str, Review] = {}

        def read(conn: sqlite3.Connection) -> None:
            keys = list(set(digests.values()))
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                for row in conn.execute(f"SELECT * FROM reviews WHERE digest IN ({marks})", part):
                    found[row[0]] = _from_row(row)

        self._run(read)
        return {p: replace(found[d], path=p) if d in found else Review(d, p) for p, d in digests.items()}

    def get(self, path: str) -> Review | None:
        return self.get_many([path]).get(str(path))

    def _update(self, path: str, change: Callable[[Review], Review]) -> Review | None:
        review = self.get(path)
        if review is None:  # the file is gone or unreadable: nothing to key the review on
            return None
        new = replace(change(review), path=str(path), updated=time.time())
        self._run(lambda c: c.execute(
            "INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?)",
            (new.digest, new.path, int(new.read), json.dumps(dict(new.verdicts), sort_keys=True), new.note,
             new.model, new.updated)))
        return new

    def set_read(self, path: str, read: bool = True) -> Review | None:
        return self._update(path, lambda r: replace(r, read=bool(read)))

    def set_verdict(self, path: str, label: str, verdict: str | None, *, model: str = "") -> Review | None:
        """``verdict`` one of :data:`VERDICTS`, or None to take it back. A verdict marks the film read."""
        if verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")

        def change(r: Review) -> Review:
            verdicts = dict(r.verdicts)
            if verdict is None:
                verdicts.pop(label, None)
            else:
                verdicts[label] = verdict
            return replace(r, verdicts=verdicts, read=True, model=model or r.model)

        return self._update(path, change)

    def set_note(self, path: str, note: str) -> Review | None:
        return self._update(path, lambda r: replace(r, note=note))

    def all(self) -> list[Review]:
        rows = self._run(lambda c: c.execute("SELECT * FROM reviews ORDER BY updated").fetchall()) or []
        return [_from_row(r) for r in rows]


def _from_row(row: tuple) -> Review:
    digest, path, read, verdicts, note, model, updated = row
    try:
        judged = {str(k): str(v) for k, v in json.loads(verdicts or "{}").items() if v in VERDICTS}
    except (ValueError, AttributeError):
        judged = {}
    return Review(digest, path or "", bool(read), judged, note or "", model or "", float(updated or 0.0))


# -- reader feedback as a table --------------------------------------------------------------
REVIEW_COLUMNS = ("file", "sha256", "model", "finding", "probability", "threshold", "model_positive", "verdict",
                  "reader_label", "read", "note")


def reader_label(model_positive: bool, verdict: str) -> str:
    """The reader's own label implied by a verdict: agreeing keeps the model's call, disagreeing turns
    it over; unsure gives none ("")."""
    if verdict == "agree":
        return "1" if model_positive else "0"
    if verdict == "disagree":
        return "0" if model_positive else "1"
    return ""


def review_rows(reviews: Mapping[str, Review], results: Mapping[str, ImageResult]) -> list[list[str]]:
    """One row per judged finding (the model's probability beside the reader's verdict), and one per
    film that was read or noted without a verdict (finding empty)."""
    rows: list[list[str]] = []
    for path, review in reviews.items():
        result = results.get(path)
        common = [path, review.digest]
        if not review.verdicts:
            if review.read or review.note:
                rows.append([*common, review.model, "", "", "", "", "", "", str(int(review.read)), review.note])
            continue
        for label, verdict in sorted(review.verdicts.items()):
            finding = result.finding(label) if result is not None else None
            if finding is None:
                prob = thr = pos = ""
                label_text = ""
            else:
                prob, thr = f"{finding.probability:.4f}", f"{finding.threshold:.4f}"
                pos = str(int(finding.positive))
                label_text = reader_label(finding.positive, verdict)
            rows.append([*common, review.model, label, prob, thr, pos, verdict, label_text, str(int(review.read)),
                         review.note])
    return rows


def reviews_csv(reviews: Mapping[str, Review], results: Mapping[str, ImageResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(REVIEW_COLUMNS)
    writer.writerows(review_rows(reviews, results))
    return buf.getvalue()


def write_reviews_csv(path: str | Path, reviews: Mapping[str, Review], results: Mapping[str, ImageResult]) -> Path:
    path = Path(path)
    atomic_write_text(path, reviews_csv(reviews, results))
    return path
