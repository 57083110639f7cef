"""Writing results: ``results.json`` (one schema for the CLI and the app) and annotated images.

Patient identifiers never leave through these files unless asked: results carry paths and
findings, not DICOM patient tags; output names are derived from file names, not from headers.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable

from chestview import DISCLAIMER, __version__
from chestview.engine.case_call import case_call
from chestview.engine.colormaps import DEFAULT_COLORMAP, DEFAULT_OPACITY
from chestview.engine.io.image import XrayImage
from chestview.engine.render import render_annotated, save_image_atomic
from chestview.engine.results import ImageResult
from chestview.engine.util import atomic_write_text
from chestview.engine.zoo.card import ModelCard
from chestview.engine.zoo.quality import model_warning_line, model_warnings

PATIENT_KEYS = ("patient_id", "patient_name", "patient_birth_date", "patient_sex", "patient_age", "accession_number")


def model_summary(card: ModelCard) -> dict[str, Any]:
    return {
        "id": card.id,
        "architecture": card.architecture,
        "labels": list(card.labels),
        "thresholds": {lbl: card.threshold(lbl) for lbl in card.labels},
        "unreliable_labels": list(card.unreliable_labels),
        "supervision": card.supervision,
        "input_size": card.preprocessing.size,
        "warnings": model_warnings(card),  # targets missed, poor or no test AUROC (zoo.quality)
    }


def results_document(
    card: ModelCard,
    results: Iterable[ImageResult],
    *,
    settings: dict[str, Any] | None = None,
    patient_info: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``results.json`` document. ``patient_info`` (path -> identifiers) is included only when given."""
    rows = []
    for r in results:
        row = r.to_json()
        call = case_call(r)
        row["case_call"] = call.to_json() if call is not None else None
        if patient_info and r.path in patient_info:
            row["patient"] = patient_info[r.path]
        rows.append(row)
    return {
        "chestview_version": __version__,
        "disclaimer": DISCLAIMER,
        "model": model_summary(card),
        "settings": settings or {},
        "results": rows,
    }


def multi_model_document(
    cards: list[ModelCard],
    results: list[list[ImageResult]],
    *,
    ensemble: list[ImageResult] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``results.json`` for several models on the same inputs (``results[m][i]``: model m, input i).

    Backward compatible: ``model`` and each entry's own fields are those of the first model, exactly
    as a single-model document. ``models`` lists every model, and each entry gains ``models``
    (model id -> that model's entry without ``path``) and, when asked, ``ensemble``."""
    doc = results_document(cards[0], results[0], settings=settings)
    doc["models"] = [model_summary(c) for c in cards]
    if ensemble is not None:
        doc["ensemble"] = {"models": [c.id for c in cards], "rule": "mean of the models' probabilities and thresholds"}
    for i, row in enumerate(doc["results"]):
        row["models"] = {}
        for card, per_model in zip(cards, results):
            entry = per_model[i].to_json()
            call = case_call(per_model[i])
            entry["case_call"] = call.to_json() if call is not None else None
            entry.pop("path", None)
            row["models"][card.id] = entry
        if ensemble is not None:
            entry = ensemble[i].to_json()
            call = case_call(ensemble[i])
            entry["case_call"] = call.to_json() if call is not None else None
            entry.pop("path", None)
            entry.pop("timings_ms", None)
            row["ensemble"] = entry
    return doc


def write_results_json(path: str | Path, document: dict[str, Any]) -> Path:
    path = Path(path)
    atomic_write_text(path, json.dumps(document, indent=2) + "\n")
    return path


def public_error(message: str, path: str) -> str:
    """An error text for a report without paths: the file named by its base name only, and no
    other path (the folders may name the patient, as in ``DOE^JANE_MRN123456/``) left in it,
    not even one cut short inside a library's message."""
    name = Path(path).name
    for form in sorted({path, os.path.abspath(path), os.path.realpath(path)}, key=len, reverse=True):
        message = message.replace(form, name)

    def strip(m: re.Match) -> str:
        return name if Path(m.group()).name == name else "…"

    return re.sub(r"(?:[A-Za-z]:)?[/\\][^\s'\")]+", strip, message)


def output_name(source: str | Path, used: set[str], suffix: str = ".png") -> str:
    """A unique, identifier-free output name derived from the source file name."""
    stem = Path(source).stem or "image"
    name = f"{stem}_annotated{suffix}"
    n = 1
    while name in used:
        n += 1
        name = f"{stem}_{n}_annotated{suffix}"
    used.add(name)
    return name


def export_annotated(
    out_path: str | Path,
    image: XrayImage,
    result: ImageResult,
    card: ModelCard,
    *,
    labels: list[str] | None = None,
    opacity: float = DEFAULT_OPACITY,
    colormap: str = DEFAULT_COLORMAP,
    window: tuple[float, float] | None = None,
    with_json: bool = True,
) -> Path:
    """The annotated image (PNG/JPEG by extension) and, beside it, its JSON report. Never overwrites the source."""
    rgb = render_annotated(
        image, result, labels=labels, model_id=card.id, opacity=opacity, colormap=colormap, window=window,
        model_warning=model_warning_line(card),
    )
    out_path = save_image_atomic(out_path, rgb, protect=[image.path])
    if with_json:
        write_results_json(out_path.with_suffix(".json"), results_document(card, [result]))
    return out_path
