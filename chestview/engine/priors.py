"""Priors: the earlier film of the same patient, and what changed between its findings and the current's.

Same patient means: for DICOM, the same PatientID with an earlier StudyDate (another study); for
PNG/JPEG named as in NIH ChestX-ray14, ``PATIENT_FOLLOWUP.png`` (``00000013_004.png``), the same
patient number with a lower follow-up number. Anything else has no prior.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence, TypeVar

from chestview.engine.results import ImageResult

NIH_NAME = re.compile(r"^(\d{8})_(\d{3})\.(png|jpe?g)$", re.IGNORECASE)
CHANGE_DELTA = 0.05  # a probability that moves less than this on the same side of the threshold: unchanged


class Film(Protocol):
    """What prior matching reads of an image (the app's CatalogImage has these)."""

    path: str
    is_dicom: bool
    patient_id: str
    study_date: str
    study_uid: str


F = TypeVar("F", bound=Film)


def nih_name(path: str | Path) -> tuple[str, int] | None:
    """(patient number, follow-up number) of an NIH-style file name, else None."""
    m = NIH_NAME.match(Path(path).name)
    return (m.group(1), int(m.group(2))) if m else None


def find_prior(films: Sequence[F], path: str) -> F | None:
    """The most recent earlier film of the same patient as ``path`` among ``films``, or None."""
    current = next((f for f in films if f.path == path), None)
    if current is None:
        return None
    if current.is_dicom:
        if not (current.patient_id and current.study_date):
            return None
        earlier = [f for f in films if f.is_dicom and f.patient_id == current.patient_id and f.study_date
                   and f.study_date < current.study_date and f.study_uid != current.study_uid]
        return max(earlier, key=lambda f: (f.study_date, f.path)) if earlier else None
    name = nih_name(current.path)
    if name is None:
        return None
    patient, follow_up = name
    earlier_nih = [(n[1], f) for f in films if not f.is_dicom and (n := nih_name(f.path)) is not None
                   and n[0] == patient and n[1] < follow_up]
    return max(earlier_nih, key=lambda t: (t[0], t[1].path))[1] if earlier_nih else None


def prior_label(film: Film) -> str:
    """How the prior is named on screen: its study date, or its NIH follow-up number."""
    d = film.study_date
    if film.is_dicom and d and len(d) == 8:
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    name = nih_name(film.path)
    return f"follow-up {name[1]}" if name else Path(film.path).name


@dataclass(frozen=True)
class FindingChange:
    label: str
    prior: float | None  # probability on the prior (None: the prior's model had no such label)
    current: float | None
    status: str  # "new", "resolved", "higher", "lower", "unchanged", "positive" (still), "n/a"
    positive: bool  # positive on the current film


def compare_findings(prior: ImageResult, current: ImageResult, *, delta: float = CHANGE_DELTA) -> list[FindingChange]:
    """Each finding of either film: *new* (negative on the prior, positive now), *resolved* (the other
    way), *higher* / *lower* (same side of the operating point, moved by at least ``delta``), else
    *unchanged*. Sorted: new, resolved, higher, lower, unchanged; then by current probability."""
    labels = list(dict.fromkeys([f.label for f in current.findings] + [f.label for f in prior.findings]))
    out: list[FindingChange] = []
    for label in labels:
        a, b = prior.finding(label), current.finding(label)
        if a is None or b is None:
            out.append(FindingChange(label, a.probability if a else None, b.probability if b else None, "n/a",
                                     bool(b and b.positive)))
            continue
        if b.positive and not a.positive:
            status = "new"
        elif a.positive and not b.positive:
            status = "resolved"
        elif b.probability - a.probability >= delta:
            status = "higher"
        elif a.probability - b.probability >= delta:
            status = "lower"
        else:
            status = "unchanged"
        out.append(FindingChange(label, a.probability, b.probability, status, b.positive))
    order = {"new": 0, "resolved": 1, "higher": 2, "lower": 3, "unchanged": 4, "n/a": 5}
    return sorted(out, key=lambda c: (order[c.status], -(c.current or 0.0)))
