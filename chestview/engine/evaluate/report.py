"""Evaluation report: report.json (machine), report.md (human), ROC PNGs. Every file is written
atomically (temp file + os.replace)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chestview.engine.evaluate.anchors import DEFAULT_AUROC_ANCHORS, DEFAULT_LOCALIZATION_ANCHORS, Anchor
from chestview.engine.evaluate.localization import LocalizationResult, ThresholdTable
from chestview.engine.evaluate.metrics import MIN_RELIABLE_POSITIVES, AurocReport
from chestview.engine.evaluate.plots import png_bytes, reliability_image, roc_grid, roc_image
from chestview.engine.util import atomic_write_bytes, atomic_write_text


@dataclass(frozen=True)
class ReportFiles:
    json: Path
    markdown: Path
    roc_grid: Path
    roc_pngs: dict[str, Path]


def _fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _safe_name(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label) or "label"


def _auroc_md(rep: AurocReport, anchors: Sequence[Anchor]) -> list[str]:
    head = "| Label | AUROC | 95% CI | pos | neg | " + " | ".join(a.name for a in anchors) + " |"
    lines = ["## Classification (AUROC)", "",
             f"{rep.n_images} images; {int(rep.ci_level * 100)}% percentile bootstrap over images, "
             f"{rep.n_boot} resamples (seed {rep.seed}). Mean over labels with at least one positive and "
             f"one negative; * marks labels with fewer than {MIN_RELIABLE_POSITIVES} positives (unreliable).", "",
             head, "|" + "---|" * (5 + len(anchors))]
    for r in rep.per_label:
        star = "" if r.reliable or not r.scored else " *"
        ci = "–" if not r.scored else f"{_fmt(r.ci_low)}–{_fmt(r.ci_high)}"
        cells = [f"{r.label}{star}", _fmt(r.auroc), ci, str(r.n_pos), str(r.n_neg)]
        cells += [_fmt(a.values.get(r.label)) for a in anchors]
        lines.append("| " + " | ".join(cells) + " |")
    mean_anchor = []
    for a in anchors:
        vals = [a.values[lab] for lab in rep.labels if lab in a.values]
        mean_anchor.append(_fmt(sum(vals) / len(vals)) if vals else "–")
    lines.append("| **Mean** | **" + _fmt(rep.mean_auroc) + "** | | | | " + " | ".join(mean_anchor) + " |")
    lines += ["", f"Mean over reliable labels only: {_fmt(rep.mean_auroc_reliable)}. An anchor's mean covers only "
              "the labels that anchor reports; anchors are other test sets: compare with care.", ""]
    for a in anchors:
        lines.append(f"- *{a.name}*: {a.comparability}. {a.citation}")
    return lines + [""]


def _table_md(title: str, tables: Mapping[str, ThresholdTable], anchors: Sequence[Anchor]) -> list[str]:
    any_t = next(iter(tables.values()))
    crit = "T(IoU)" if any_t.criterion == "iou" else "T(IoBB)"
    lines = [f"### {title}", "", "| Label | Boxes from | " + " | ".join(f"{crit}={t:g}" for t in any_t.thresholds)
             + " | AFP@" + f"{any_t.thresholds[0]:g} |", "|" + "---|" * (3 + len(any_t.thresholds))]
    labels = list(tables["model"].accuracy) if "model" in tables else list(any_t.accuracy)
    for lab in [*labels, "Mean"]:
        for source, t in tables.items():
            acc = t.mean_accuracy if lab == "Mean" else t.accuracy.get(lab)
            afp = t.mean_afp if lab == "Mean" else t.afp.get(lab)
            if acc is None:
                continue
            lines.append(f"| {lab} | {source} | " + " | ".join(_fmt(v, 2) for v in acc) + f" | {_fmt(afp[0], 2)} |")
        if any_t.criterion == "iobb":
            for a in anchors:
                ref = a.values.get(lab) if lab != "Mean" else None
                if ref is not None:
                    lines.append(f"| {lab} | {a.name} | {_fmt(ref, 2)} |" + " |" * len(any_t.thresholds))
    return lines + [""]


def _localization_md(loc: Mapping[str, LocalizationResult], anchors: Sequence[Anchor]) -> list[str]:
    first = next(iter(loc.values()))
    lines = ["## Localization (Wang et al. 2017 protocol)", "",
             f"{first.n_images} images with radiologist boxes; {sum(first.n_gt_boxes.values())} boxes. A box is "
             "found when a generated box of its label overlaps it by more than T. IoBB = intersection over the "
             "generated box. AFP = generated boxes matching no box at T, per image. Controls: *prior* = the same "
             "boxes on every image, per label up to as many as the model may draw (3), picked from the training "
             "boxes to maximise training-split accuracy at these thresholds; *prior_mean* (when shown) = the one "
             "mean training box per label; *swap* = boxes predicted for another image with the label. "
             "A model that does not beat both prior and swap is not localizing.", ""]
    lines += _table_md("Accuracy at T(IoU)", {k: v.iou for k, v in loc.items()}, anchors)
    lines += _table_md("Accuracy at T(IoBB)", {k: v.iobb for k, v in loc.items()}, anchors)
    for a in anchors:
        lines.append(f"- *{a.name}*: {a.comparability}. {a.citation}")
    return lines + [""]


_READER_ROWS = (
    ("abnormality_auroc", "Abnormality score AUROC, normal vs abnormal films"),
    ("abnormality_threshold", "Abnormality operating threshold (from validation)"),
    ("abnormal_flagged", "Abnormal films flagged by the abnormality score"),
    ("normal_flagged", "Normal films flagged by the abnormality score"),
    ("normal_with_any_positive", "Normal films with any positive finding"),
    ("abnormal_with_any_positive", "Abnormal films with any positive finding"),
    ("mean_positive_findings_per_film", "Positive findings per film (mean)"),
    ("mean_auroc_boxed8", "Mean AUROC, the 8 boxed labels, all films"),
    ("mean_auroc_boxed8_c1", "Mean AUROC, the 8 boxed labels, first-collection films"),
    ("mean_auroc_boxed8_second", "Mean AUROC, the 8 boxed labels, second-collection films"),
    ("ece_labels_before", "Expected calibration error, labels (mean), before scaling"),
    ("ece_labels_after", "Expected calibration error, labels (mean), after scaling"),
    ("ece_abnormality_before", "Expected calibration error, abnormality, before scaling"),
    ("ece_abnormality_after", "Expected calibration error, abnormality, after scaling"),
)


def _reader_md(reader: Mapping[str, Any]) -> list[str]:
    lines = ["## What a reader meets", "",
             f"{reader.get('n_normal', 0)} films with no finding, {reader.get('n_abnormal', 0)} with at least one. "
             "Probabilities are calibrated on the validation split (Platt scaling per output); thresholds "
             "come from the validation split (see the card's threshold rules).", "", "| measure | value |", "|---|---|"]
    for key, name in _READER_ROWS:
        if reader.get(key) is None:
            continue
        value = _fmt(reader[key])
        if key == "abnormality_auroc" and reader.get("abnormality_ci95"):
            lo, hi = reader["abnormality_ci95"]
            value += f" (95% CI {_fmt(lo)}–{_fmt(hi)})"
        lines.append(f"| {name} | {value} |")
    if reader.get("reliability_abnormality"):
        lines += ["", "![Reliability of the abnormality score before and after scaling](reliability.png)"]
    return lines + [""]


def write_report(out_dir: str | Path, *, model_id: str | None = None, labels: Sequence[str] | None = None,
                 auroc_report: AurocReport | None = None,
                 localization: Mapping[str, LocalizationResult] | LocalizationResult | None = None,
                 anchors: Sequence[Anchor] | None = None, localization_anchors: Sequence[Anchor] | None = None,
                 meta: Mapping[str, Any] | None = None, auroc: AurocReport | None = None,
                 reader: Mapping[str, Any] | None = None) -> ReportFiles:
    """Write report.json, report.md, roc/<label>.png and roc_grid.png under ``out_dir``.

    ``auroc`` is an alias of ``auroc_report``; ``model_id`` defaults to ``meta["model"]`` and
    ``labels`` to the report's labels."""
    auroc_report = auroc_report if auroc_report is not None else auroc
    if auroc_report is None:
        raise ValueError("write_report needs auroc_report")
    meta = dict(meta or {})
    model_id = model_id or str(meta.get("model", "model"))
    labels = list(labels) if labels is not None else list(auroc_report.labels)
    out = Path(out_dir)
    anchors = DEFAULT_AUROC_ANCHORS if anchors is None else tuple(anchors)
    loc_anchors = DEFAULT_LOCALIZATION_ANCHORS if localization_anchors is None else tuple(localization_anchors)
    loc = {"model": localization} if isinstance(localization, LocalizationResult) else localization

    roc_pngs: dict[str, Path] = {}
    for r in auroc_report.per_label:
        path = out / "roc" / f"{_safe_name(r.label)}.png"
        atomic_write_bytes(path, png_bytes(roc_image(r)))
        roc_pngs[r.label] = path
    grid = out / "roc_grid.png"
    atomic_write_bytes(grid, png_bytes(roc_grid(auroc_report.per_label)))

    doc = {
        "model_id": model_id, "labels": list(labels), "meta": meta,
        "auroc": auroc_report.to_json(),
        "localization": {k: v.to_json() for k, v in loc.items()} if loc else None,
        "anchors": [{"name": a.name, "citation": a.citation, "metric": a.metric,
                     "comparability": a.comparability, "values": a.values} for a in (*anchors, *loc_anchors)],
        "roc_pngs": {k: str(p.relative_to(out)) for k, p in roc_pngs.items()},
        "reader": dict(reader) if reader else None,
    }
    if reader and reader.get("reliability_abnormality"):
        atomic_write_bytes(out / "reliability.png", png_bytes(reliability_image(reader["reliability_abnormality"])))
    json_path = out / "report.json"
    atomic_write_text(json_path, json.dumps(doc, indent=2, allow_nan=False) + "\n")

    md = [f"# Evaluation of `{model_id}`", "", "Research use only; not for clinical decisions.", ""]
    if meta:
        md += [f"- {k}: {v}" for k, v in meta.items()] + [""]
    if reader:
        md += _reader_md(reader)
    md += _auroc_md(auroc_report, anchors)
    if loc:
        md += _localization_md(loc, loc_anchors)
    md += ["## ROC curves", "", "![ROC curves](roc_grid.png)", ""]
    md_path = out / "report.md"
    atomic_write_text(md_path, "\n".join(md))
    return ReportFiles(json_path, md_path, grid, roc_pngs)
