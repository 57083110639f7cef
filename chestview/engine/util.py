"""Small helpers shared by the engine: atomic writes and checksums."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterator


#: Longest file name (bytes) on the usual file systems (ext4, APFS, NTFS in UTF-16 units).
NAME_MAX = 255
#: What atomic_write adds to a target's name for its temporary file: "." + "." + 8 + ".tmp".
TEMP_OVERHEAD = 14


def fit_name(text: str, max_bytes: int) -> str:
    """``text`` cut (at a character boundary) to at most ``max_bytes`` bytes of UTF-8."""
    data = text.encode("utf-8", "surrogateescape")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place only on success.

    A crash or an exception leaves the old file (or none) intact, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name near NAME_MAX leaves no room for the temporary's additions: cut them from its prefix.
    fd, tmp = tempfile.mkstemp(prefix=f".{fit_name(path.name, NAME_MAX - TEMP_OVERHEAD)}.", suffix=".tmp",
                               dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file should look like any other
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            # a write that failed (a full disk) says which file it was writing
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


class NotRegularFileError(OSError):
    """A path that is a FIFO, a device, a socket or a folder: never read (a FIFO or /dev/zero never ends)."""


def open_regular(path: str | Path) -> IO[bytes]:
    """``path`` opened for reading in binary, only when it is a regular file (after links).

    Opened without blocking (a FIFO with no writer would block ``open`` itself) and checked on the
    open descriptor, so a file swapped for a pipe between a check and the open is still refused.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                 | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a special file")
            raise NotRegularFileError(errno.EINVAL, f"is {kind}, not a regular file", str(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a regular file's bytes (anything else: :class:`NotRegularFileError`)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# The name atomic_write gives its temporary files: "." + target name + "." + mkstemp's 8 characters + ".tmp".
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def stale_temp_target(name: str) -> str | None:
    """The target file name of one of atomic_write's temporary files, else None."""
    m = _TEMP_NAME.match(name)
    return m.group("target") if m else None


def remove_stale_temps(folder: str | Path, is_ours: Callable[[str], bool]) -> int:
    """Delete temporary files that an interrupted atomic_write left in ``folder`` (a killed run
    never reaches its clean-up); only those whose target name ``is_ours`` accepts. Call it only
    while no other writer uses the folder (a locked output folder, a run folder at its start)."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        target = stale_temp_target(entry.name)
        if target is None or not is_ours(target) or not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed += 1
    return removed


@contextlib.contextmanager
def native_output_captured() -> Iterator[Callable[[], str]]:
    """Send what C/C++ code writes to the process's stdout and stderr (file descriptors 1 and 2) to
    a temporary file for the duration, and hand back a function that reads it afterwards. For a
    library that prints below Python (torch's ONNX exporter dumps its whole graph to stdout on a
    failed export): the user sees one line of ours, the text goes to the log (-v). Process-wide
    while it lasts, so keep it short."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    captured = ""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield lambda: captured
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            captured = sink.read().decode("utf-8", "replace")
