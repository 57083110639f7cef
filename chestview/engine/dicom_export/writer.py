"""Writing DICOM objects: atomically, and never over an existing file."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

from pydicom.dataset import Dataset

from chestview.engine.errors import ChestviewError


def dicom_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_new(directory: str | Path, stem: str, ds: Dataset, *, protect: tuple[str | Path, ...] = ()) -> Path:
    """``<stem>.dcm`` in ``directory``, or ``<stem>_2.dcm``, ``_3``... when taken: a rerun adds files
    beside the earlier ones instead of replacing them. Written to a temporary file, fsynced and then
    hard-linked into place, which fails rather than replaces when another writer took the name first."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = dicom_bytes(ds)
    protected = {Path(p).resolve() for p in protect}
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=directory)
    try:
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
        raise ChestviewError(f"{directory}: cannot write {stem}.dcm ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


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
