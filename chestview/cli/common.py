"""Helpers shared by the subcommands: user-facing errors, small tables."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from typing import Sequence

from chestview.cli.progress import write_stderr
from chestview.engine.backends import CHOICES, PRECISIONS
from chestview.engine.io.scan import iter_image_files

# C0/C1 control characters (a newline in a file name among them) would split a one-line message or
# a table row; they are shown escaped instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: object) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``…): always exactly one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def error(message: str) -> None:
    """One line on stderr, the way argparse reports usage errors."""
    write_stderr(f"chestview: error: {one_line(message)}")


def at_least(flag: str, value: int | None, minimum: int, note: str = "") -> bool:
    """Whether an option's ``value`` (None: not given) is at least ``minimum``; if not, one usage-error
    line ``FLAG must be at least MINIMUM (NOTE; got VALUE)``. Chain with ``and``: the first bad one speaks."""
    if value is None or value >= minimum:
        return True
    error(f"{flag} must be at least {minimum} ({f'{note}; ' if note else ''}got {value})")
    return False


def between(flag: str, value: int | None, low: int, high: int, what: str = "") -> bool:
    """Whether an option's ``value`` (None: not given) is in [low, high]; if not, one usage-error line
    ``FLAG must be [WHAT ]between LOW and HIGH (got VALUE)``."""
    if value is None or low <= value <= high:
        return True
    error(f"{flag} must be {f'{what} ' if what else ''}between {low} and {high} (got {value})")
    return False


def report(message: str) -> None:
    """One ``chestview: PATH: reason`` line on stderr (a file that failed; the rest goes on)."""
    write_stderr(f"chestview: {one_line(message)}")


def os_error_text(exc: BaseException) -> str:
    """``PATH: reason`` for an OSError (``FileExistsError: [Errno 17] ...`` reads as a crash)."""
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        if exc.filename is not None:
            target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
            return f"{exc.filename}{target}: {reason.lower() if reason[:1].isupper() else reason}"
        return str(exc) or reason
    if isinstance(exc, http.client.HTTPException):
        return f"connection failed ({type(exc).__name__})"
    return str(exc)


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[one_line(c) for c in header]] + [[one_line(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def add_backend_argument(parser) -> None:
    parser.add_argument("--backend", choices=CHOICES, default="auto",
                        help="inference backend (default auto: the fastest exact one for the device, torch off the CPU)")
    parser.add_argument("--precision", choices=PRECISIONS, default="f32",
                        help="inference precision (default f32, exact). bf16: OpenVINO on a CPU with bf16, only for "
                             "a model whose card records a passing `chestview models check-precision`; else f32 "
                             "with a warning")


def report_backend(predictor) -> None:
    """One line when the backend in use is not the one asked for: a warning on a failure, a note on a known limit."""
    note = predictor.backend_note
    if note and (predictor.opened.warn or predictor.opened.requested != "auto"):  # a refused precision warns
        kind = "warning" if predictor.opened.warn else "note"
        write_stderr(f"chestview: {kind}: {note}")


def collect_inputs(raw_paths: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The image files under the given files and folders, and (path, message) for those that do not exist."""
    # A broken symbolic link is listed (and reported by the scan with its reason), not "no such file".
    failures = [(raw, f"{raw}: no such file or directory") for raw in raw_paths
                if not Path(raw).exists() and not Path(raw).is_symlink()]
    existing = [p for p in raw_paths if Path(p).exists() or Path(p).is_symlink()]
    return [str(p) for p in iter_image_files(existing)], failures
