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
