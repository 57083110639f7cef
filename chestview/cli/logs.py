"""Log records and warnings on the command line, set up once at its entry.

stderr carries chestview's one-line messages only. Without ``-v``: chestview's own warnings are
``chestview: warning: ...`` lines; a library's log record or warning raised while a file is decoded
becomes that file's warning (see :mod:`chestview.engine.io.library_warnings`), and any other library
output (pydicom's decoder errors with their stack, pynetdicom's association log, numpy and torch
warnings) is dropped: the error it accompanies reaches the user as one line anyway. With ``-v``:
everything from INFO up, tracebacks included, each record's first line starting ``chestview:``.
"""

from __future__ import annotations

import logging
import sys
import warnings

from chestview.cli.common import one_line
from chestview.engine.io.library_warnings import divert_to_current_file


def _ours(name: str) -> bool:
    return name == "chestview" or name.startswith("chestview.")


class CliLogHandler(logging.Handler):
    """Writes to the current ``sys.stderr`` (looked up per record: tests swap it)."""

    def __init__(self, verbose: bool) -> None:
        super().__init__(level=logging.DEBUG)
        self.verbose = verbose

    def emit(self, record: logging.LogRecord) -> None:
        try:
            ours = _ours(record.name)
            if not ours and record.levelno < logging.ERROR and divert_to_current_file(record):
                return
            if self.verbose:
                text = f"chestview: {record.levelname.lower()}: {record.name}: {record.getMessage()}"
                if record.exc_info:
                    text += "\n" + logging.Formatter().formatException(record.exc_info)
                print(text, file=sys.stderr)
            elif ours and record.levelno >= logging.WARNING:
                kind = "warning" if record.levelno < logging.ERROR else "error"
                print(f"chestview: {kind}: {one_line(record.getMessage())}", file=sys.stderr)
        except Exception:  # a log line must never take a command down
            self.handleError(record)


def setup_logging(verbose: bool) -> None:
    """Route every log record and warning of this process through one :class:`CliLogHandler`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, CliLogHandler):
            root.removeHandler(handler)
    root.addHandler(CliLogHandler(verbose))
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.captureWarnings(True)  # warnings.warn -> the "py.warnings" logger -> the handler above
    if not verbose:
        warnings.simplefilter("ignore", ResourceWarning)
