"""The reader's own verdicts as a local test set: reading the CSV that ``chestview worklist --reviews``
writes (:func:`chestview.engine.reviews.write_reviews_csv`) into one label per film and finding, and
scoring a model's calls against those labels. Pure: no model runs here
(:mod:`chestview.engine.evaluate.against_reader` runs one).

The reader's label of a judged finding is the model's call at review time kept (agree) or turned over
(disagree), as :func:`chestview.engine.reviews.reader_label` defines it; ``unsure`` gives none and the
row is skipped, as is a row without a finding or without the model's call.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from chestview.engine.errors import DatasetError
from chestview.engine.reviews import VERDICTS, reader_label

NEEDED_COLUMNS = ("file", "finding", "model_positive", "verdict")


@dataclass(frozen=True)
class ReaderLabels:
    """What one verdict CSV says: film path -> {finding -> 0/1}, in the CSV's order."""

    source: Path
    labels: Mapping[str, Mapping[str, int]]
    digests: Mapping[str, str] = field(default_factory=dict)  # film -> SHA-256 at review time ("" unknown)
    unsure: int = 0  # rows skipped: the reader was unsure
    skipped: int = 0  # rows skipped: no finding, no model call at review time, or an unknown verdict

    @property
    def n_labels(self) -> int:
        return sum(len(v) for v in self.labels.values())


def _film_path(raw: str, folder: Path) -> str:
    """A film named in the CSV: as written when it exists (absolute, or relative to the working
    folder), else relative to the CSV's folder."""
    p = Path(raw)
    if p.is_absolute() or p.exists():
        return str(p)
    beside = folder / p
    return str(beside) if beside.exists() else str(p)


def read_reader_labels(path: str | Path) -> ReaderLabels:
    """The CSV's labels; raises :class:`DatasetError` (one line naming the file) when it is missing,
    unreadable or not a verdict CSV."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the verdict CSV ({exc})") from None
    missing = [c for c in NEEDED_COLUMNS if c not in header]
    if missing:
        raise DatasetError(f"{path}: not a reader-verdict CSV (no column {', '.join(missing)}; write one with "
                           "`chestview worklist PATH --reviews CSV`)")
    labels: dict[str, dict[str, int]] = {}
    digests: dict[str, str] = {}
    unsure = skipped = 0
    for row in rows:
        verdict = (row.get("verdict") or "").strip()
        finding = (row.get("finding") or "").strip()
        call = (row.get("model_positive") or "").strip()
        if verdict == "unsure":
            unsure += 1
            continue
        if not finding or verdict not in VERDICTS or call not in ("0", "1") or not (row.get("file") or "").strip():
            skipped += 1
            continue
        film = _film_path(row["file"].strip(), path.parent)
        labels.setdefault(film, {})[finding] = int(reader_label(call == "1", verdict))
        digests[film] = (row.get("sha256") or "").strip()
    return ReaderLabels(path, labels, digests, unsure, skipped)


@dataclass(frozen=True)
class ModelCall:
    """The model's output for one film and finding: its probability and its call at its threshold."""

    probability: float
    threshold: float
    positive: bool


@dataclass(frozen=True)
class FindingAgreement:
    """One finding's row: how the model's calls compare with the reader's labels."""

    finding: str
    n: int
    positives: int
    auroc: float | None  # None unless both classes are present
    sensitivity: float | None  # share of the reader's positives the model calls positive
    specificity: float | None  # share of the reader's negatives the model calls negative
    agreement: float | None  # share of films where the model's call is the reader's label
    threshold: float | None  # the model's operating point for this finding

    def to_json(self) -> dict[str, Any]:
        r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
        return {"finding": self.finding, "n": self.n, "positives": self.positives, "auroc": r(self.auroc),
                "sensitivity": r(self.sensitivity), "specificity": r(self.specificity),
                "agreement": r(self.agreement), "threshold": r(self.threshold)}


def _share(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def finding_agreement(finding: str, truth: Sequence[int], calls: Sequence[ModelCall]) -> FindingAgreement:
    """Per-finding metrics for the reader's labels ``truth`` and the model's ``calls`` (same order)."""
    y = np.asarray(truth, dtype=bool)
    p = np.asarray([c.probability for c in calls], dtype=np.float64)
    called = np.asarray([c.positive for c in calls], dtype=bool)
    both = bool(y.any() and (~y).any())
    auroc = float(roc_auc_score(y, p)) if both and np.isfinite(p).all() else None
    thresholds = {round(c.threshold, 6) for c in calls}
    return FindingAgreement(
        finding, int(len(y)), int(y.sum()), auroc, _share(called[y]), _share(~called[~y]), _share(called == y),
        next(iter(thresholds)) if len(thresholds) == 1 else None)


def agreement_table(labels: ReaderLabels, calls: Mapping[str, Mapping[str, ModelCall]]) -> list[FindingAgreement]:
    """One row per finding the reader labelled, over the films the model scored (``calls``: film ->
    finding -> call; films or findings the model lacks are left out), findings in alphabetical order."""
    per: dict[str, tuple[list[int], list[ModelCall]]] = {}
    for film, judged in labels.labels.items():
        scored = calls.get(film)
        if scored is None:
            continue
        for finding, y in judged.items():
            if finding in scored:
                truth, got = per.setdefault(finding, ([], []))
                truth.append(y)
                got.append(scored[finding])
    return [finding_agreement(f, *per[f]) for f in sorted(per)]


def fmt_share(v: float | None) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.3f}"
