"""Progress bars of the long commands: tqdm on stderr when it is a terminal, nothing otherwise.

The engine reports progress through plain callbacks (done, total and a stage name); this module
turns them into bars, with tqdm's rate and time left. No bar when stderr is not a terminal (a pipe,
a log file, a CI job) or with ``--quiet``, so what a script reads stays as it was. While a bar is
on screen, the command's own stderr lines and the log's records go through tqdm, above the bar,
instead of splitting it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any


#: Seconds between redraws at most (tqdm's default; tests set 0 to see every update).
MININTERVAL = 0.1


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar (there is one on stderr only when it is a terminal)")


def write_stderr(line: str) -> None:
    """One line on stderr, above any progress bar on screen (tqdm clears and redraws it)."""
    tqdm_module = sys.modules.get("tqdm")  # loaded once a bar was made; before that, a plain print
    if tqdm_module is not None:
        tqdm_module.tqdm.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr)


class Progress:
    """A bar per stage, fed by the engine's callbacks: a new stage closes the last bar and opens its own.

    ``enabled`` None: a bar only when stderr is a terminal (tqdm's own test); False: never (``--quiet``);
    True: always (tests). Use as a context manager so that the bar is closed on every way out.
    """

    def __init__(self, desc: str = "", *, unit: str = "img", enabled: bool | None = None) -> None:
        self.desc = desc
        self.unit = unit
        self.enabled = enabled
        self._bar: Any = None
        self._stage: str | None = None
        self._logging: contextlib.ExitStack | None = None

    def update(self, done: int, total: int | None, stage: str | None = None) -> None:
        if self.enabled is False:
            return
        if self._bar is None or stage != self._stage:
            self._open(total, stage)
        bar = self._bar
        if total is not None and bar.total != total:
            bar.total = total
        if done > bar.n:
            bar.update(done - bar.n)

    # The engine's callbacks, each in its own shape -------------------------------------------------
    def on_predict(self, ev: Any) -> None:
        """``Predictor.predict_paths``'s PredictProgress (done, total, path)."""
        self.update(ev.done, ev.total)

    def on_stage(self, ev: Any) -> None:
        """Events with a stage (EvalProgress, BenchProgress); other events are ignored."""
        if hasattr(ev, "stage") and hasattr(ev, "done") and hasattr(ev, "total"):
            self.update(ev.done, ev.total, ev.stage)

    def on_counts(self, stage: str, done: int, total: int) -> None:
        """``(stage, done, total)`` callbacks (fitting the input gate)."""
        self.update(done, total, stage)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._logging is not None:
            self._logging.close()
            self._logging = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, total: int | None, stage: str | None) -> None:
        from tqdm import tqdm

        if self._bar is not None:
            self._bar.close()
        self._stage = stage
        desc = ": ".join(part for part in (self.desc, stage) if part)
        # disable=None: tqdm's own "is this file a terminal" test.
        self._bar = tqdm(total=total, desc=desc or None, unit=self.unit, file=sys.stderr, leave=False,
                         dynamic_ncols=True, mininterval=MININTERVAL, disable=None if self.enabled is None else not self.enabled)
        if self._logging is None and not self._bar.disable:
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._logging = contextlib.ExitStack()
            self._logging.enter_context(logging_redirect_tqdm())


def progress_for(args: argparse.Namespace, desc: str = "", *, unit: str = "img") -> Progress:
    """The command's bar: off with ``--quiet``, else on a terminal only."""
    return Progress(desc, unit=unit, enabled=False if getattr(args, "quiet", False) else None)
