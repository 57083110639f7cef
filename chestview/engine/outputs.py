"""Output folders that can never touch a source: checked, planned and locked before anything is written.

Every writer of a folder of results (``chestview predict``, the app's batch export) goes through
:func:`open_output_folder`: the inputs are listed first, every output path is planned from them,
and the folder is refused (one line, exit 2) when it is not a folder or when a planned output would
land on an input, as happens with ``--out`` set to (or inside) a source folder that already holds
a file named like an output. While it writes, the folder is locked against a second writer, and
temporary files a killed earlier run left behind are removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from chestview.engine.errors import ChestviewError
from chestview.engine.io.scan import IMAGE_SUFFIXES
from chestview.engine.util import remove_stale_temps

log = logging.getLogger(__name__)

LOCK_NAME = ".chestview.lock"  # hidden: never listed as an input
RESULTS_NAME = "results.json"


class OutputFolderError(ChestviewError):
    """The output folder cannot be used (exit 2: nothing was written)."""


def _key(path: str | Path) -> Path:
    return Path(os.path.realpath(path))  # never raises, even on a symlink loop


def _is_within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output_folder(out: str | Path) -> Path:
    """``out`` as a folder path; refused when it exists as something other than a folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out}: exists and is not a folder (the output folder is created if missing)")
    return out


def check_output_file(
    path: str | Path, *, roots: Iterable[str | Path] = (), inputs: Iterable[str | Path] = ()
) -> Path:
    """A file to be written (``--csv``, ``--json``…), checked before anything runs: refused (exit 2)
    when it is one of the inputs (by name, symbolic or hard link), is a folder or a special file, or
    would lie in an input folder named like an image (the next run would read it as one). The same
    rule as :func:`open_output_folder`'s: an output never lands on, or is read back as, a source."""
    path = Path(path)

    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OutputFolderError(f"{path}: exists and is {kind}; give a file name to write")
    key = _key(path)
    inputs = list(inputs)
    for source in inputs:
        if _key(source) == key or (st is not None and _same_file(source, st)):
            raise OutputFolderError(f"{path}: is an input (writing it would overwrite the source {source}); "
                                    "choose another output file")
    if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
        for root in roots:
            if Path(root).is_dir() and _is_within(key, _key(root)):
                raise OutputFolderError(f"{path}: lies inside the input folder {root} and is named like an image "
                                        "(it would be read back as an input); choose another output file")
    return path


def _same_file(source: str | Path, st: os.stat_result) -> bool:
    try:
        return os.path.samestat(os.stat(source), st)
    except OSError:
        return False


def refuse_overwriting_inputs(
    out: str | Path, roots: Iterable[str | Path], inputs: Iterable[str | Path], planned: Iterable[str | Path]
) -> None:
    """Raise when any planned output path is one of the inputs (or the same file by another name).

    ``roots``: the paths as the user gave them (folders among them), for a message that says which
    input folder the output folder is, or lies in.
    """
    out_key = _key(out)
    by_key = {_key(p): Path(p) for p in inputs}
    for target in planned:
        source = by_key.get(_key(target))
        if source is None:
            continue
        inside = [Path(r) for r in roots if Path(r).is_dir() and _is_within(out_key, _key(r))]
        where = (
            f"is the input folder {inside[0]}" if inside and _key(inside[0]) == out_key
            else f"lies inside the input folder {inside[0]}" if inside
            else "holds an input"
        )
        raise OutputFolderError(
            f"{out}: output folder {where} and writing {Path(target).name} would overwrite the source "
            f"{source}; choose another output folder"
        )


def is_output_temp(name: str) -> bool:
    """Targets of our own atomic writes in an output folder (annotated images and JSON reports)."""
    stem, _, ext = name.rpartition(".")
    return name == RESULTS_NAME or (stem.endswith("_annotated") and ext in ("png", "jpg", "jpeg", "json"))


class FolderLock:
    """An exclusive lock on an output folder while one process writes it.

    POSIX: ``flock`` on ``.chestview.lock``, released by the kernel when the holder dies, so a lock
    left by a dead process is free. Elsewhere: the file is created exclusively and holds the PID;
    a file naming a process that no longer runs is taken over.
    """

    def __init__(self, folder: str | Path, what: str = "chestview", suffix: str = "") -> None:
        self.folder = Path(folder)
        self.path = self.folder / (LOCK_NAME + suffix)
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _busy(self, pid: str) -> OutputFolderError:
        holder = f"process {pid}" if pid else "another process"
        return OutputFolderError(
            f"{self.folder}: {holder} is writing this output folder; wait for it to finish or choose another one"
        )

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows
            self._acquire_pid_file()
            return
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = _read_pid(fd)
                os.close(fd)
                raise self._busy(pid) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed the file between our open and our lock: try again
                os.close(fd)
                continue
            previous = _read_pid(fd)
            if previous:
                log.info("%s: took over the lock of process %s, which has ended", self.folder, previous)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return
        raise self._busy("")

    def _acquire_pid_file(self) -> None:
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    pid = self.path.read_text(encoding="ascii").strip()
                except OSError:
                    pid = ""
                if pid.isdigit() and _alive(int(pid)):
                    raise self._busy(pid) from None
                log.info("%s: took over a stale lock of process %s", self.folder, pid or "?")
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return
        raise self._busy("")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # while still locked: a waiting opener sees another inode and retries
        os.close(self._fd)
        self._fd = None


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # Windows: no such process
        return False
    return True


@contextlib.contextmanager
def open_output_folder(
    out: str | Path,
    *,
    roots: Iterable[str | Path],
    inputs: Iterable[str | Path],
    outputs: Mapping[str, str] | Iterable[str],
    what: str = "chestview",
    shard: str = "",
) -> Iterator[Path]:
    """Check ``out`` against the (already listed) ``inputs``, lock it and clear our stale temporaries.

    ``outputs``: the file names to be written into ``out`` (results.json is added). ``shard`` (e.g.
    "1-of-2"): one of several processes that share the folder by design, each writing its own
    files: each locks its own share, and none removes temporaries another may be writing.
    """
    out = check_output_folder(out)
    inputs = list(inputs)
    names = list(outputs.values()) if isinstance(outputs, Mapping) else list(outputs)
    refuse_overwriting_inputs(out, roots, inputs, [out / n for n in [*names, RESULTS_NAME]])
    with FolderLock(out, what, suffix=f".{shard}" if shard else ""):
        removed = 0 if shard else remove_stale_temps(out, is_output_temp)
        if removed:
            log.info("%s: removed %d temporary file(s) left by an interrupted run", out, removed)
        yield out
