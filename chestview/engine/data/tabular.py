"""CSV datasets: CheXpert-style (1 / 0 / -1 / blank with an uncertainty policy) and a generic
``path,label1,label2,...`` file. Paths are relative to the CSV's folder (or its parent)."""

from __future__ import annotations

import csv
import logging
import math
import re
from pathlib import Path

import numpy as np

from chestview.engine.data.files import resolve_relative
from chestview.engine.data.types import LabeledDataset, Sample
from chestview.engine.errors import DatasetError

log = logging.getLogger(__name__)

CHEXPERT_META_COLUMNS = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA")
UNCERTAINTY_POLICIES = ("ones", "zeros", "ignore")
_PATIENT_RE = re.compile(r"(patient\d+)", re.IGNORECASE)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the CSV ({exc})") from exc
    if not header:
        raise DatasetError(f"{path}: empty CSV")
    return header, rows


def _policy(name: str) -> str:
    key = name.lower().replace("u-", "").replace("u_", "")
    if key not in UNCERTAINTY_POLICIES:
        raise DatasetError(f"uncertainty policy {name!r}: use one of U-Ones, U-Zeros, ignore")
    return key


def _value(raw: str | None, *, csv_path: Path, line: int, column: str, uncertain: str) -> float:
    text = (raw or "").strip()
    if text == "" or text.lower() == "nan":
        return math.nan  # blank = not mentioned = unknown, masked out
    try:
        v = float(text)
    except ValueError as exc:
        raise DatasetError(f"{csv_path}: line {line}, column {column!r}: {text!r} is not 1, 0, -1 or blank") from exc
    if v == 1.0 or v == 0.0:
        return v
    if v == -1.0:
        return {"ones": 1.0, "zeros": 0.0, "ignore": math.nan}[uncertain]
    raise DatasetError(f"{csv_path}: line {line}, column {column!r}: {text!r} is not 1, 0, -1 or blank")


def read_chexpert(
    csv_path: str | Path,
    *,
    uncertain: str = "ignore",
    frontal_only: bool = False,
    labels: tuple[str, ...] | list[str] | None = None,
) -> LabeledDataset:
    """Read a CheXpert CSV. ``uncertain``: "U-Ones" (-1 -> 1), "U-Zeros" (-1 -> 0) or "ignore"
    (-1 -> NaN, masked). Blank is always unknown (NaN). ``labels`` defaults to every column that
    is not metadata, in file order. Patient ids come from ``patientNNNNN`` in the path."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: no such CSV file")
    policy = _policy(uncertain)
    header, rows = _read_csv(csv_path)
    if "Path" not in header:
        raise DatasetError(f"{csv_path}: not a CheXpert CSV (no 'Path' column)")
    label_cols = tuple(labels) if labels else tuple(c for c in header if c not in CHEXPERT_META_COLUMNS)
    absent = [c for c in label_cols if c not in header]
    if absent or not label_cols:
        raise DatasetError(f"{csv_path}: label columns missing: {absent or 'none found'}")
    if frontal_only and "Frontal/Lateral" not in header:
        raise DatasetError(f"{csv_path}: frontal_only needs a 'Frontal/Lateral' column")

    bases = (csv_path.parent, csv_path.parent.parent)
    samples: list[Sample] = []
    missing = skipped_lateral = 0
    for line, row in enumerate(rows, start=2):
        if frontal_only and (row.get("Frontal/Lateral") or "").strip().lower() != "frontal":
            skipped_lateral += 1
            continue
        path = resolve_relative((row.get("Path") or "").strip(), bases)
        if path is None:
            missing += 1
            continue
        targets = np.array(
            [_value(row.get(c), csv_path=csv_path, line=line, column=c, uncertain=policy) for c in label_cols],
            np.float32,
        )
        m = _PATIENT_RE.search(row["Path"])
        samples.append(Sample(str(path), targets, m.group(1).lower() if m else None))
    if not samples:
        raise DatasetError(f"{csv_path}: no listed image was found (tried paths relative to {bases[0]} and {bases[1]})")
    if missing:
        log.info("%s: %d of %d listed images are missing and were skipped", csv_path, missing, len(rows))
    return LabeledDataset(
        name=f"chexpert:{csv_path}", labels=label_cols, samples=samples, root=csv_path.parent,
        missing_images=missing,
        meta={"uncertain": policy, "frontal_only": frontal_only, "lateral_skipped": skipped_lateral},
    )


def read_generic_csv(csv_path: str | Path) -> LabeledDataset:
    """Read ``path`` (or the first column), optional ``patient_id``/``patient`` column, then one
    column per label holding 1, 0 or blank (unknown)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: no such CSV file")
    header, rows = _read_csv(csv_path)
    lower = {c.lower(): c for c in header}
    path_col = lower.get("path", header[0])
    pid_col = lower.get("patient_id") or lower.get("patient")
    label_cols = tuple(c for c in header if c not in (path_col, pid_col))
    if not label_cols:
        raise DatasetError(f"{csv_path}: no label columns after the path column")
    samples: list[Sample] = []
    missing = 0
    for line, row in enumerate(rows, start=2):
        path = resolve_relative((row.get(path_col) or "").strip(), (csv_path.parent,))
        if path is None:
            missing += 1
            continue
        values = []
        for c in label_cols:
            v = _value(row.get(c), csv_path=csv_path, line=line, column=c, uncertain="ignore")
            values.append(v)
        pid = (row.get(pid_col) or "").strip() or None if pid_col else None
        samples.append(Sample(str(path), np.array(values, np.float32), pid))
    if not samples:
        raise DatasetError(f"{csv_path}: no listed image was found relative to {csv_path.parent}")
    if missing:
        log.info("%s: %d of %d listed images are missing and were skipped", csv_path, missing, len(rows))
    return LabeledDataset(name=f"csv:{csv_path}", labels=label_cols, samples=samples, root=csv_path.parent,
                          missing_images=missing)
