"""A model evaluated against the reader's own verdicts: the films named in a verdict CSV (see
:mod:`chestview.engine.evaluate.reader_verdicts`) run through the model with the engine's
:class:`~chestview.engine.inference.Predictor`, and its calls compared with the reader's labels.

Used alike by ``chestview eval --reader-verdicts CSV`` and the training tab. A film that is missing,
unreadable or changed since it was reviewed is one line in ``errors`` (naming the file); the others
are evaluated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from chestview.engine.evaluate.reader_verdicts import (
    FindingAgreement, ModelCall, ReaderLabels, agreement_table, fmt_share, read_reader_labels,
)
from chestview.engine.errors import DatasetError
from chestview.engine.inference import Predictor
from chestview.engine.result_cache import file_sha256
from chestview.engine.train.events import EvalProgress
from chestview.engine.zoo import load_model

STAGE = "reader verdicts"


@dataclass(frozen=True)
class ReaderEvaluation:
    """The table of one model against one verdict CSV."""

    model_id: str
    source: str  # the CSV
    rows: tuple[FindingAgreement, ...]
    n_films: int  # films the model scored
    n_labels: int  # labels in the CSV (agree / disagree rows)
    unsure: int
    skipped: int
    errors: tuple[str, ...] = ()
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model_id, "source": self.source, "n_films": self.n_films, "n_labels": self.n_labels,
                "unsure": self.unsure, "skipped": self.skipped, "errors": list(self.errors),
                "findings": [r.to_json() for r in self.rows]}

    def summary(self) -> str:
        return (f"{self.model_id} against the reader's verdicts in {Path(self.source).name}: {self.n_films} film(s), "
                f"{sum(r.n for r in self.rows)} label(s) over {len(self.rows)} finding(s); {self.unsure} unsure and "
                f"{self.skipped} other row(s) skipped" + (f"; {len(self.errors)} film(s) left out" if self.errors else ""))

    def table_rows(self) -> list[list[str]]:
        """[finding, n, positives, AUROC, sensitivity, specificity, agreement, threshold] per finding."""
        return [[r.finding, str(r.n), str(r.positives), fmt_share(r.auroc), fmt_share(r.sensitivity),
                 fmt_share(r.specificity), fmt_share(r.agreement), fmt_share(r.threshold)] for r in self.rows]


TABLE_HEADER = ("finding", "n", "positives", "AUROC", "sensitivity", "specificity", "agreement", "threshold")


def usable_films(labels: ReaderLabels) -> tuple[list[str], list[str]]:
    """The films that can be scored, and one error line for each that cannot (missing, or its bytes
    changed since the review)."""
    films, errors = [], []
    for film in labels.labels:
        if not os.path.isfile(film):
            errors.append(f"{film}: no such file (named in {labels.source.name})")
            continue
        digest = labels.digests.get(film, "")
        try:
            if digest and file_sha256(film) != digest:
                errors.append(f"{film}: changed since it was reviewed (its SHA-256 is not the one in "
                              f"{labels.source.name}); left out")
                continue
        except OSError as exc:
            errors.append(f"{film}: cannot read ({exc.strerror or exc})")
            continue
        films.append(film)
    return films, errors


def evaluate_against_reader(
    csv_path: str | Path,
    model: str,
    *,
    device: str = "auto",
    backend: str = "auto",
    precision: str = "f32",
    batch_size: int = 8,
    num_workers: int | None = None,
    on_event: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ReaderEvaluation:
    """Run ``model`` (zoo id or directory) on the films of the verdict CSV and compare its calls with
    the reader's labels. Raises :class:`DatasetError` for a missing or malformed CSV, or one without
    any agree / disagree verdict."""
    labels = read_reader_labels(csv_path)
    if not labels.n_labels:
        raise DatasetError(f"{labels.source}: no agree or disagree verdict to evaluate against "
                           f"({labels.unsure} unsure, {labels.skipped} other row(s))")
    films, errors = usable_films(labels)
    predictor = Predictor(load_model(model), device=device, boxes="none", backend=backend, precision=precision)
    emit = on_event or (lambda _ev: None)
    calls: dict[str, dict[str, ModelCall]] = {}
    done = 0
    emit(EvalProgress(STAGE, 0, len(films)))
    for result in predictor.predict_paths(films, batch_size=batch_size, num_workers=num_workers,
                                          should_stop=should_stop):
        done += 1
        emit(EvalProgress(STAGE, done, len(films)))
        if result.error:
            errors.append(result.error)
            continue
        calls[result.path] = {f.label: ModelCall(f.probability, f.threshold, f.positive) for f in result.findings}
    cancelled = bool(should_stop and should_stop()) and done < len(films)
    return ReaderEvaluation(predictor.card.id, str(labels.source), tuple(agreement_table(labels, calls)), len(calls),
                            labels.n_labels, labels.unsure, labels.skipped, tuple(errors), cancelled)
