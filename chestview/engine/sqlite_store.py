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
