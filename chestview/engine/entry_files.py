"""The files a model card names, confined to its entry folder: the one check every reader uses.

A card is data from wherever the entry came from (an import, a download, a shared folder), so the
names in it (weights, box prior, input gate, graph and its reference, split record) are checked
before anything is opened: a relative name that resolves (links followed) inside the entry
folder, a regular file (never a FIFO or ``/dev/zero``), and no larger than its kind can be.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from chestview.engine.errors import ModelError
from chestview.engine.util import NotRegularFileError, open_regular

_MiB = 1 << 20
#: The largest file of each kind an entry may hold (a large DenseNet's fp32 weights are ~30 MB).
LIMITS = {
    "weights": 2048 * _MiB,
    "graph": 2048 * _MiB,
    "graph reference": 64 * _MiB,
    "check outputs": 64 * _MiB,
    "box prior": 64 * _MiB,
    "input gate": 64 * _MiB,
    "split record": 512 * _MiB,
}


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a file of an entry (from the card alone), or None: a plain relative
    name, no ``..``, no absolute or drive path."""
    if not isinstance(name, str) or not name.strip():
        return "must be a file name"
    if "\0" in name or PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() \
            or PureWindowsPath(name).drive or name.startswith(("/", "\\")):
        return f"{name!r} must be a name inside the model's folder, not an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return f"{name!r} must be a name inside the model's folder (no '..')"
    return None


def entry_file(directory: str | Path, name: object, what: str) -> Path:
    """The checked path of the file ``name`` that a card in ``directory`` names as its ``what``
    (a key of :data:`LIMITS`); :class:`ModelError` (one line) when it is not one."""
    directory = Path(directory)
    problem = name_problem(name)
    if problem is not None:
        raise ModelError(f"{directory}: the card's {what} file {problem}")
    path = directory / str(name)
    root = Path(os.path.realpath(directory))
    real = Path(os.path.realpath(path))
    if real != root and root not in real.parents:
        raise ModelError(f"{path}: the card's {what} file lies outside the model's folder (-> {real}); refusing it")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise ModelError(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"{path}: the {what} file is not a regular file; refusing it")
    limit = LIMITS[what]
    if st.st_size > limit:
        raise ModelError(f"{path}: the {what} file is {st.st_size / _MiB:.0f} MB, more than a model's "
                         f"{what} can be ({limit // _MiB} MB); refusing it")
    return path


def read_entry_file(directory: str | Path, name: object, what: str) -> bytes:
    """The bytes of a card's file, checked by :func:`entry_file` and read no further than its limit
    (a file that grows while read is refused too)."""
    path = entry_file(directory, name, what)
    limit = LIMITS[what]
    try:
        with open_regular(path) as fh:
            data = fh.read(limit + 1)
    except NotRegularFileError:
        raise ModelError(f"{path}: the {what} file is not a regular file; refusing it") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ModelError(f"{path}: the {what} file is larger than a model's {what} can be; refusing it")
    return data
