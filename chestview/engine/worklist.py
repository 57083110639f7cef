"""A triage worklist: one row per image, most suspicious first, what the gate flagged after the rest.

The one ordering the CLI (``chestview worklist``) and the app's worklist dock share.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from chestview.engine.case_call import CaseCall, case_call
from chestview.engine.report_line import report_line
from chestview.engine.results import Finding, ImageResult, InputCheck, abnormality_score
from chestview.engine.util import atomic_write_text

TOP_FINDINGS = 3
COLUMNS = ("file", "abnormality score", "case call", "top findings", "input check", "warnings", "model", "report")


@dataclass(frozen=True)
class WorklistRow:
    path: str
    score: float | None  # None for an unreadable file
    top: tuple[Finding, ...]
    input_check: InputCheck | None
    warnings: tuple[str, ...]
    model: str
    error: str | None = None
    call: CaseCall | None = None  # the case call (engine.case_call), None for a failed film
    report: str = ""  # the film's report line (chestview.engine.report_line)

    @property
    def call_text(self) -> str:
        return "" if self.call is None else self.call.short

    @property
    def flagged(self) -> bool:
        return self.input_check is not None and self.input_check.flagged

    @property
    def group(self) -> int:
        """0: scored films; 1: flagged as not a chest radiograph; 2: failed to load."""
        return 2 if self.error else 1 if self.flagged else 0

    def top_text(self) -> str:
        return ", ".join(f"{f.label} {f.probability:.2f}" + (" +" if f.positive else "") for f in self.top)

    # What a reader is shown (the app's worklist, the command's table): a flagged image's score and
    # findings are withheld, as its findings are in the viewer; the CSV and JSON keep the numbers.
    def shown_score(self, digits: int = 3) -> str:
        return "" if self.score is None else "–" if self.flagged else f"{self.score:.{digits}f}"

    def shown_findings(self) -> str:
        return self.error or ("findings hidden (flagged)" if self.flagged else self.top_text())

    def check_text(self) -> str:
        if self.error:
            return "error"
        if self.input_check is None:
            return "-"
        if self.flagged:
            return f"FLAGGED: {self.input_check.reason}"
        return "ok" if self.input_check.score is None else f"ok ({self.input_check.score:.2f})"

    def cells(self) -> list[str]:
        return [
            self.path,
            "" if self.score is None else f"{self.score:.4f}",
            self.call_text,
            self.error or self.top_text(),
            self.check_text(),
            " | ".join(self.warnings),
            self.model,
            self.report,
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "abnormality_score": None if self.score is None else round(self.score, 6),
            "case_call": self.call.to_json() if self.call is not None else None,
            "top_findings": [{"label": f.label, "probability": round(f.probability, 6), "positive": f.positive}
                             for f in self.top],
            "input_check": self.input_check.to_json() if self.input_check is not None else None,
            "warnings": list(self.warnings),
            "model": self.model,
            "error": self.error,
            "report": self.report,
        }


def top_findings(result: ImageResult, n: int = TOP_FINDINGS) -> tuple[Finding, ...]:
    """The ``n`` most probable reliable findings (findings are already sorted that way)."""
    return tuple(f for f in result.findings if f.reliable)[:n]


def row_for(result: ImageResult, model: str) -> WorklistRow:
    if result.error:
        return WorklistRow(result.path, None, (), None, tuple(result.warnings), model, result.error,
                           report=report_line(result, model))
    score = abnormality_score(result)
    return WorklistRow(result.path, score if math.isfinite(score) else None, top_findings(result),
                       result.input_check, tuple(result.warnings), model, call=case_call(result),
                       report=report_line(result, model))


def sort_key(row: WorklistRow) -> tuple:
    """Scored films by score, highest first; then flagged ones (also by score); then failures."""
    return (row.group, -(row.score or 0.0), row.path)


def build_worklist(results: Iterable[ImageResult], model: str) -> list[WorklistRow]:
    return sorted((row_for(r, model) for r in results), key=sort_key)


def worklist_csv(rows: Iterable[WorklistRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row.cells())
    return buf.getvalue()


def write_worklist_csv(path: str | Path, rows: Iterable[WorklistRow]) -> Path:
    path = Path(path)
    atomic_write_text(path, worklist_csv(rows))
    return path
