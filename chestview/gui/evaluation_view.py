"""The evaluation view of the training tab: ROC curves, the AUROC table with its intervals, and the
localization table (the model's boxes beside the prior and swap controls), all drawn from the
``EvalResult`` that ``chestview.engine.train.evaluation.evaluate`` returns. Nothing is computed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
           (204, 121, 167), (255, 255, 255), (150, 150, 150), (255, 120, 120), (120, 255, 120),
           (120, 120, 255), (255, 200, 120), (200, 120, 255)]
# Rows of the localization table, in this order; any other key the engine adds comes after them.
VARIANTS = ("model", "prior", "prior_mean", "swap")
VARIANT_TIPS = {
    "model": "the boxes the model drew",
    "prior": "control: the same boxes on every image, taken from the training split's boxes",
    "prior_mean": "control: one mean training box per label on every image",
    "swap": "control: each image scored with the boxes the model drew on another image with the same label",
}
CRITERIA = {"IoU": "iou", "IoBB": "iobb"}
GREY = (130, 130, 130)


def fmt(v) -> str:
    try:
        return "–" if v is None or not math.isfinite(float(v)) else f"{float(v):.3f}"
    except (TypeError, ValueError):
        return str(v)


def localization_variants(loc) -> list[tuple[str, object]]:
    """(name, LocalizationResult) pairs from ``EvalResult.localization`` (a dict), model first."""
    if loc is None:
        return []
    if not isinstance(loc, Mapping):
        return [("model", loc)]
    known = [(k, loc[k]) for k in VARIANTS if loc.get(k) is not None]
    return known + [(k, v) for k, v in loc.items() if k not in VARIANTS and v is not None]


def localization_rows(loc, criterion: str = "iou") -> tuple[list[float], list[list[str]]]:
    """Thresholds and table rows [label, boxes from, ground-truth boxes, accuracy at each threshold]:
    the mean first, then each label, each with one row per variant (model, prior, swap...)."""
    variants = localization_variants(loc)
    if not variants:
        return [], []
    first = getattr(variants[0][1], criterion)
    thresholds = list(first.thresholds)
    labels = list(variants[0][1].labels)
    rows = []
    for label in ["mean", *labels]:
        for name, res in variants:
            table = getattr(res, criterion)
            values = table.mean_accuracy if label == "mean" else table.accuracy.get(label, ())
            n_gt = sum(res.n_gt_boxes.values()) if label == "mean" else res.n_gt_boxes.get(label, 0)
            rows.append([label.replace("_", " "), name, str(n_gt), *(fmt(v) for v in values)])
    return thresholds, rows


COLLECTION_COLUMNS = (("Collection", None), ("Images", "n"), ("Normal", "n_normal"),
                      ("Abnormality AUROC", "abnormality_auroc"), ("Normals called abnormal", "normal_flagged"),
                      ("Normals with a positive", "normal_with_any_positive"), ("Mean AUROC", "mean_auroc"),
                      ("Boxed-8 AUROC", "mean_auroc_boxed8"))


def collection_rows(reader: Mapping | None) -> list[list[str]]:
    """One row per collection of the engine's ``reader["per_collection"]``: how the model does on
    each part of the data, so that a pooled number cannot hide a collection shortcut."""
    per = (reader or {}).get("per_collection") or {}
    return [[name] + [str(m.get(key)) if key in ("n", "n_normal") else fmt(m.get(key))
                      for _, key in COLLECTION_COLUMNS[1:]] for name, m in per.items()]


class EvaluationView(QWidget):
    """ROC plot above two tables (AUROC, Localization)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = None
        self.roc_plot = pg.PlotWidget(title="ROC curves (test split)")
        self.roc_plot.setLabel("bottom", "false positive rate")
        self.roc_plot.setLabel("left", "true positive rate")
        self.roc_plot.setXRange(0, 1)
        self.roc_plot.setYRange(0, 1)
        self.roc_plot.setAspectLocked(True)
        self.roc_plot.addLegend(offset=(-10, 10), labelTextSize="8pt")

        self.auroc_table = QTableWidget(0, 5)
        self.auroc_table.setHorizontalHeaderLabels(["Label", "AUROC", "95% interval", "Positives", "Negatives"])
        self.auroc_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.auroc_table.verticalHeader().setVisible(False)

        self.loc_criterion = QComboBox()
        self.loc_criterion.addItems(list(CRITERIA))
        self.loc_criterion.setToolTip("IoU: overlap over union; IoBB: overlap over the drawn box (Wang et al. 2017)")
        self.loc_criterion.currentTextChanged.connect(lambda _t: self.show_localization(self._loc))
        self.loc_note = QLabel("")
        self.loc_note.setWordWrap(True)
        self.loc_note.setStyleSheet("color: #a0a4a8;")
        self.loc_table = QTableWidget(0, 0)
        self.loc_table.verticalHeader().setVisible(False)
        self._loc = None
        self._prior_origin = ""
        loc_box = QWidget()
        lv = QVBoxLayout(loc_box)
        lv.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        top.addWidget(QLabel("Criterion"))
        top.addWidget(self.loc_criterion)
        top.addWidget(self.loc_note, 1)
        lv.addLayout(top)
        lv.addWidget(self.loc_table, 1)

        self.collection_table = QTableWidget(0, len(COLLECTION_COLUMNS))
        self.collection_table.setHorizontalHeaderLabels([c for c, _ in COLLECTION_COLUMNS])
        self.collection_table.verticalHeader().setVisible(False)
        self.collection_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.split_note = QLabel("")
        self.split_note.setWordWrap(True)
        self.probe_text = QLabel("")
        self.probe_text.setWordWrap(True)
        self.probe_text.setFont(QFont("monospace"))
        collection_box = QWidget()
        cv = QVBoxLayout(collection_box)
        cv.setContentsMargins(2, 2, 2, 2)
        cv.addWidget(self.split_note)
        cv.addWidget(self.collection_table, 1)
        cv.addWidget(self.probe_text)

        self.tables = QTabWidget()
        self.tables.addTab(self.auroc_table, "AUROC")
        self.tables.addTab(loc_box, "Localization")
        self.tables.addTab(collection_box, "Collections && probe")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.roc_plot)
        split.addWidget(self.tables)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)  # the tables get as much room as the curves
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.show_localization(None)

    def show_result(self, result) -> None:
        self.result = result
        self.show_auroc(getattr(result, "auroc", None))
        self.show_localization(getattr(result, "localization", None), getattr(result, "prior_origin", ""))
        self.show_collections(result)

    def show_collections(self, result) -> None:
        """Per-collection numbers, where the split came from, and the shortcut probe when it ran."""
        rows = collection_rows(getattr(result, "reader", None))
        self.collection_table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for c, text in enumerate(row):
                self.collection_table.setItem(i, c, QTableWidgetItem(text))
        self.split_note.setText(getattr(result, "split_note", "") or "")
        probe = getattr(result, "probe", None)
        self.probe_text.setText(probe.text() if probe is not None else "Shortcut probe not run.")

    def show_auroc(self, report) -> None:
        self.roc_plot.clear()
        self.roc_plot.plot([0, 1], [0, 1], pen=pg.mkPen((100, 100, 100), style=Qt.PenStyle.DashLine))
        rows = list(getattr(report, "per_label", ()) or ())
        self.auroc_table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            if r.fpr and r.tpr:
                self.roc_plot.plot(list(r.fpr), list(r.tpr), pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=1.5),
                                   name=f"{r.label} {r.auroc:.2f}" if math.isfinite(r.auroc) else r.label)
            cells = [r.label, fmt(r.auroc), f"{fmt(r.ci_low)} – {fmt(r.ci_high)}", str(r.n_pos), str(r.n_neg)]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if not getattr(r, "reliable", True):
                    item.setForeground(pg.mkColor(*GREY))
                    item.setToolTip("too few positives for a meaningful AUROC")
                self.auroc_table.setItem(i, c, item)

    def show_localization(self, loc, prior_origin: str | None = None) -> None:
        """Accuracy (share of ground-truth boxes found) per label at each threshold, the model's row
        followed by its controls, so that no number is read without its baseline."""
        self._loc = loc
        if prior_origin is not None:
            self._prior_origin = prior_origin
        criterion = CRITERIA[self.loc_criterion.currentText()]
        thresholds, rows = localization_rows(loc, criterion)
        self.loc_table.clear()
        if not rows:
            self.loc_table.setRowCount(0)
            self.loc_table.setColumnCount(1)
            self.loc_table.setHorizontalHeaderLabels(["No ground-truth boxes in this split"])
            self.loc_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            self.loc_note.setText("")
            return
        name = self.loc_criterion.currentText()
        self.loc_table.setColumnCount(3 + len(thresholds))
        self.loc_table.setHorizontalHeaderLabels(
            ["Label", "Boxes from", "GT boxes"] + [f"{name}>{t:g}" for t in thresholds])
        self.loc_table.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for i, row in enumerate(rows):
            variant = row[1]
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(VARIANT_TIPS.get(variant, ""))
                if variant == "model":
                    item.setFont(bold)
                else:
                    item.setForeground(pg.mkColor(170, 174, 178))
                if c >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.loc_table.setItem(i, c, item)
        self.loc_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        n_images = getattr(localization_variants(loc)[0][1], "n_images", 0)
        origin = self._prior_origin
        self.loc_note.setText(f"Share of ground-truth boxes found, on {n_images} image(s) with boxes."
                              + (f" Priors from: {origin}." if origin else ""))
