"""Opening the app's SQLite stores (the result cache, the reviews) and setting a damaged one aside.

Owns what the stores share: connecting with a schema and a probe read (so a file that is not a
database fails here, not at the first query), telling damage (SQLite's CORRUPT / NOTADB) from a store
that is only unusable now (busy, locked, read-only, full), moving a damaged file and its journals
aside as ``.corrupt``, and closing a connection that may already be broken. What to do about each
case (start over, go on without the store, warn) stays with the store.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Callable

# SQLite's result codes for a damaged file; anything else (busy, locked, read-only, full) is not damage.
CORRUPTION_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})

# The files SQLite keeps beside a database: moved aside with it, so a fresh store never replays them.
COMPANION_SUFFIXES = ("", "-journal", "-wal", "-shm")


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """Whether ``exc`` says the file is damaged (not merely busy, locked, read-only or full)."""
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:  # extended codes (SQLITE_CORRUPT_VTAB) count as their primary code
        return any(name == code or name.startswith(code + "_") for code in CORRUPTION_CODES)
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def connect_store(path: Path, *, timeout: float, schema: str, probe_table: str,
                  pragmas: tuple[str, ...] = ()) -> sqlite3.Connection:
    """A connection to ``path`` with ``schema`` applied and ``probe_table`` read once (autocommit,
    usable from any thread). Any DatabaseError closes the connection and is raised."""
    conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
    try:
        for pragma in pragmas:
            conn.execute(pragma)
        conn.executescript(schema)
        conn.execute(f"SELECT COUNT(*) FROM {probe_table}").fetchone()
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn


def close_quietly(conn: sqlite3.Connection | None) -> None:
    """Close ``conn`` (None is fine); a connection to a broken file may fail to close, which is ignored."""
    if conn is None:
        return
    try:
        conn.close()
    except sqlite3.Error:
        pass


def set_aside(path: Path) -> None:
    """Move the database at ``path`` and its journals aside as ``<name>.corrupt`` (kept once, for a
    bug report); one that cannot be moved is deleted, so that a fresh store can start."""
    for suffix in COMPANION_SUFFIXES:
        p = Path(str(path) + suffix)
        if p.exists():
            try:
                os.replace(p, Path(str(p) + ".corrupt"))
            except OSError:
                p.unlink(missing_ok=True)


def open_or_recover(path: Path, connect: Callable[[], sqlite3.Connection], *,
                    damaged: Callable[[BaseException], None],
                    unavailable: Callable[[BaseException], None]) -> sqlite3.Connection | None:
    """A connection to the store at ``path`` made by ``connect``. A damaged file goes to ``damaged``
    (which sets it aside) and a fresh store is connected; a store unusable only now (locked, read-only,
    a folder that cannot be made) goes to ``unavailable`` and None is returned: its file is left as
    it is for the next try."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return connect()
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            unavailable(exc)
            return None
        damaged(exc)
        try:
            return connect()
        except sqlite3.DatabaseError as again:
            unavailable(again)
            return None
    except OSError as exc:  # the folder cannot be made (read-only, a file in the way)
        unavailable(exc)
        return None


def call_or_recover(connection: Callable[[], sqlite3.Connection | None], fn: Callable[[sqlite3.Connection], Any], *,
                    damaged: Callable[[BaseException], None],
                    unavailable: Callable[[BaseException], None]) -> Any:
    """``fn(conn)`` on the store's connection (``connection()``, opened on demand; None: none now).
    A damaged database goes to ``damaged`` and ``fn`` is tried once more on a fresh store; anything
    else (locked, read-only, full) goes to ``unavailable``. None whenever ``fn`` could not run."""
    conn = connection()
    if conn is None:
        return None
    try:
        return fn(conn)
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            unavailable(exc)
            return None
        damaged(exc)
    conn = connection()
    if conn is None:
        return None
    try:
        return fn(conn)
    except sqlite3.DatabaseError as again:
        unavailable(again)
        return None
