"""Opt-in start-up and quit timings of the app: ``CHESTVIEW_TIMINGS=1 chestview`` prints, on stderr,
one line per milestone with the seconds since the process started (not since this module loaded:
the interpreter's and the imports' time counts too).

Milestones: ``window shown`` (its first paint), ``first findings`` (drawn on the first image),
``quit requested`` (the window is closing) and ``exit`` (the last thing before the process ends).
A benchmark, not a test: run it several times on a real display (``xvfb-run``) and take the best.
Qt-free, so that ``chestview.cli`` can mark the earliest moments.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "CHESTVIEW_TIMINGS"


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def _process_start() -> float:
    """Wall-clock time at which this process started (Linux: from /proc, else this module's import)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5): start time after boot, in clock ticks
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time()


_START = _process_start()
_seen: set[str] = set()


def mark(name: str, *, once: bool = True) -> None:
    """Print ``chestview timing: <seconds since process start> <name>`` (when enabled)."""
    if not enabled() or (once and name in _seen):
        return
    _seen.add(name)
    print(f"chestview timing: {time.time() - _START:7.3f} s  {name}", file=sys.stderr, flush=True)
