"""Warnings that Pillow and pydicom raise while a file is decoded become that file's warnings.

Left alone they are stray lines on stderr (``UserWarning: The value length (20) exceeds ...``,
``DecompressionBombWarning``, pydicom's own ``WARNING pydicom:`` log records) that name no file.
Inside :func:`captured_warnings` they are collected for the current thread instead: decoding runs
in a thread pool, and ``warnings.catch_warnings`` is process-wide (not safe across threads), so a
thread-local sink is fed by one installed ``showwarning`` hook and a filter on pydicom's logger.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import warnings
from collections.abc import Iterator
from typing import Any

_local = threading.local()
_install_lock = threading.Lock()
_fallback: list[Any] = [warnings.showwarning]


def _sink() -> list[str] | None:
    return getattr(_local, "sink", None)


def _hook(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    sink = _sink()
    if sink is not None:
        sink.append(str(message))
        return
    _fallback[0](message, category, filename, lineno, file, line)


class _LogToSink(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        sink = _sink()
        if sink is None or record.levelno >= logging.ERROR:
            return True
        sink.append(record.getMessage())
        return False


_LOG_FILTER = _LogToSink()


def divert_to_current_file(record: logging.LogRecord) -> bool:
    """Put a library's log record (any logger, below ERROR) into the current thread's sink, when a
    file is being decoded on this thread: True when taken. The command line's log handler calls it,
    so a record from a child logger (``pydicom.pixels.decoders.base``) becomes the file's warning too."""
    sink = _sink()
    if sink is None or record.levelno >= logging.ERROR:
        return False
    sink.append(record.getMessage())
    return True
# Every occurrence, not once per process: each file must get its own copy of the warning.
_ALWAYS = (("always", re.compile(r"pydicom(\..*)?$")), ("always", re.compile(r"PIL(\..*)?$")))


def _install() -> None:
    with _install_lock:
        if warnings.showwarning is not _hook:
            _fallback[0] = warnings.showwarning
            warnings.showwarning = _hook
        present = {(f[0], getattr(f[3], "pattern", None)) for f in warnings.filters}
        for action, module in _ALWAYS:
            if (action, module.pattern) not in present:
                warnings.filterwarnings(action, module=module.pattern)
        pydicom_log = logging.getLogger("pydicom")
        if _LOG_FILTER not in pydicom_log.filters:
            pydicom_log.addFilter(_LOG_FILTER)


def _one_line(text: str, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@contextlib.contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect this thread's library warnings; the list holds them (one line each, no repeats) on exit."""
    _install()
    previous = _sink()
    raw: list[str] = []
    _local.sink = raw
    out: list[str] = []
    try:
        yield out
    finally:
        _local.sink = previous
        for message in map(_one_line, raw):
            if message and message not in out:
                out.append(message)
