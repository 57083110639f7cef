"""Writing DICOM objects: atomically, and never over an existing file."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import tempfile
from pathlib import Path

from pydicom.dataset import Dataset

from chestview.engine.errors import ChestviewError
from chestview.engine.util import remove_stale_temps

log = logging.getLogger(__name__)


def dicom_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_new(directory: str | Path, stem: str, ds: Dataset, *, protect: tuple[str | Path, ...] = ()) -> Path:
    """``<stem>.dcm`` in ``directory``, or ``<stem>_2.dcm``, ``_3``... when taken: a rerun adds files
    beside the earlier ones instead of replacing them. Written to a temporary file, fsynced and then
    hard-linked into place, which fails rather than replaces when another writer took the name first."""
    directory = Path(directory)
    data = dicom_bytes(ds)
    protected = {Path(p).resolve() for p in protect}
    tmp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        for n in range(1, 10_000):
            path = directory / (f"{stem}.dcm" if n == 1 else f"{stem}_{n}.dcm")
            if path.resolve() in protected:
                continue
            try:
                _place(tmp, path)
            except FileExistsError:
                continue
            return path
        raise ChestviewError(f"{directory}: too many earlier outputs named {stem}*.dcm")
    except OSError as exc:
        raise ChestviewError(f"{directory / (stem + '.dcm')}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


#: The hidden file whose lock the writers of one output folder share (see :class:`WriterClaim`).
LOCK_NAME = ".chestview-dicom.lock"
_KINDS = re.compile(r".+_(sr|pr|sc)")


def is_dicom_temp(target: str) -> bool:
    """Targets of write_new's temporary files (``<stem>_sr``, ``_pr``, ``_sc``)."""
    return _KINDS.fullmatch(target) is not None


class WriterClaim:
    """A shared lock on a DICOM output folder while one process writes it: several writers may
    share the folder (write_new never replaces a file), and the first one that finds no other
    removes the temporary files a killed writer left. No-op without ``fcntl`` (Windows)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._fd: int | None = None
        self._swept = False  # stale temporaries are looked for once per claim's owner

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            import fcntl
        except ImportError:
            return
        lock = self.directory / LOCK_NAME
        for _ in range(100):
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                return  # an unwritable folder: each write reports it
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except OSError:
                alone = False  # another writer is at work: its temporaries are not stale
                fcntl.flock(fd, fcntl.LOCK_SH)
            if not _same_file(fd, lock):  # the last holder removed the file meanwhile: start over
                os.close(fd)
                continue
            if alone and not self._swept:
                self._swept = True
                removed = remove_stale_temps(self.directory, is_dicom_temp)
                if removed:
                    log.info("%s: removed %d temporary file(s) left by an interrupted run", self.directory, removed)
                fcntl.flock(fd, fcntl.LOCK_SH)
            self._fd = fd
            return

    def release(self) -> None:
        """The last writer out removes the lock file: the folder holds only the DICOM objects."""
        if self._fd is None:
            return
        import fcntl

        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # another writer still holds it
        else:
            with contextlib.suppress(OSError):
                os.unlink(self.directory / LOCK_NAME)
        os.close(self._fd)
        self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def _place(tmp: str, path: Path) -> None:
    """Give the complete temporary file the name ``path`` unless it exists (FileExistsError)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: claim the name exclusively, then swap the content in
        pass
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    os.replace(tmp, path)
