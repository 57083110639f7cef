"""Helpers shared by the subcommands: user-facing errors, small tables."""

from __future__ import annotations

import sys
from typing import Sequence


def error(message: str) -> None:
    """One line on stderr, the way argparse reports usage errors."""
    print(f"chestview: error: {message}", file=sys.stderr)


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def add_backend_argument(parser) -> None:
    from chestview.engine.backends import CHOICES

    parser.add_argument("--backend", choices=CHOICES, default="auto",
                        help="inference backend (default auto: the fastest exact one for the device, torch off the CPU)")


def report_backend(predictor) -> None:
    """One line when the backend in use is not the one asked for: a warning on a failure, a note on a known limit."""
    note = predictor.backend_note
    if note and (predictor.opened.warn or predictor.opened.requested != "auto"):
        kind = "warning" if predictor.opened.warn else "note"
        print(f"chestview: {kind}: {note}", file=sys.stderr)
