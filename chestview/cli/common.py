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


def collect_inputs(raw_paths: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The image files under the given files and folders, and (path, message) for those that do not exist."""
    from pathlib import Path

    from chestview.engine.io.scan import iter_image_files

    failures = [(raw, f"{raw}: no such file or directory") for raw in raw_paths if not Path(raw).exists()]
    existing = [p for p in raw_paths if Path(p).exists()]
    return [str(p) for p in iter_image_files(existing)], failures
