"""Models side by side on one image: a finding x model table (probability, positive, disagreement
highlighted, an optional ensemble column) and each model's heatmap of the selected finding, side
by side or one at a time (click the map or press Space to toggle to the next model).

The numbers come from the engine (:mod:`chestview.engine.ensemble`); the models run in a worker
(:func:`chestview.gui.jobs.compare_job`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from chestview.engine.ensemble import ENSEMBLE_ID, common_labels, disagreements, ensemble_result

DISAGREE_BG = QColor(120, 100, 20)
POSITIVE_BG = QColor(110, 30, 30)
LABEL_ROLE = Qt.ItemDataRole.UserRole + 20
THUMB = 256


def _thumbnail(gray_u8: np.ndarray, heat: np.ndarray | None) -> QPixmap:
    """``heat``: a map in display units (:func:`chestview.engine.explain.display.combined_heatmap`),
    drawn as the viewer draws it, so that a negative finding does not look hot here either."""
    # deferred: the engine's rendering and zoo import torch; the window opens without it
    from chestview.engine.colormaps import DEFAULT_COLORMAP, DEFAULT_OPACITY
    from chestview.engine.render import overlay_heatmap

    rgb = (overlay_heatmap(gray_u8, heat, opacity=DEFAULT_OPACITY, colormap=DEFAULT_COLORMAP) if heat is not None
           else np.repeat(gray_u8[..., None], 3, axis=2))
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


def _small_gray(image: Any) -> np.ndarray:
    # deferred: the engine's rendering and zoo import torch; the window opens without it
    from chestview.engine.preprocess import resize_gray

    h, w = image.height, image.width
    scale = THUMB / max(h, w)
    small = resize_gray(image.normalised(), (max(1, round(h * scale)), max(1, round(w * scale))))
    return np.round(small.numpy() * 255).astype(np.uint8)


class CompareView(QWidget):
    label_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: dict[str, Any] = {}  # column id -> ImageResult (models, then the ensemble)
        self.test_auroc: dict[str, dict[str, float]] = {}  # model id -> test AUROC per finding
        self.disagree: set[str] = set()
        self._gray: np.ndarray | None = None
        self._toggle_index = 0
        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)  # all 14 findings in view with the maps
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.side_by_side = QCheckBox("Heatmaps side by side")
        self.side_by_side.setChecked(True)
        self.side_by_side.toggled.connect(lambda _on: self._show_maps())
        self.flag_note = QLabel("")
        self.flag_note.setWordWrap(True)
        self.flag_note.setStyleSheet("color: white; background: #8a1f1f; padding: 4px;")
        self.flag_note.setVisible(False)
        self.maps = QWidget()
        self.maps_layout = QHBoxLayout(self.maps)
        self.maps_layout.setContentsMargins(0, 0, 0, 0)
        self.map_labels: list[QLabel] = []
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        below = QWidget()
        lay = QVBoxLayout(below)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.side_by_side)
        lay.addWidget(self.maps, 1)
        split.addWidget(below)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.split = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.flag_note)
        layout.addWidget(split, 1)

    # -- content ----------------------------------------------------------------------------
    def set_results(self, image: Any, results: dict[str, Any], *, ensemble: bool = True,
                    test_auroc: dict[str, dict[str, float]] | None = None) -> None:
        """``results``: model id -> ImageResult on ``image`` (two or more for a comparison).
        ``test_auroc``: model id -> its card's test AUROC per finding, shown beside the probabilities
        (how far to trust each model on each finding, :func:`chestview.engine.zoo.comparison.per_finding_test_auroc`)."""
        self.test_auroc = {m: a for m, a in (test_auroc or {}).items() if a and m in results}
        ok = {m: r for m, r in results.items() if not r.error}
        self.results = dict(ok)
        if ensemble and len(ok) > 1:
            self.results[ENSEMBLE_ID] = ensemble_result(list(ok.values()))
        self.disagree = disagreements(list(ok.values()))
        self._gray = _small_gray(image) if image is not None else None
        flagged = {m: r.input_check.reason for m, r in ok.items() if r.flagged}
        self.flag_note.setText("Does not look like a frontal chest radiograph (" +
                               "; ".join(f"{m}: {why}" for m, why in flagged.items()) + ")" if flagged else "")
        self.flag_note.setVisible(bool(flagged))
        self._fill(list(results), {m: r.error for m, r in results.items() if r.error})

    def _fill(self, models: list[str], errors: dict[str, str]) -> None:
        columns = list(self.results)
        labels = common_labels([self.results[c] for c in columns]) if columns else []
        self.table.blockSignals(True)
        self.table.clear()
        auroc_columns = [m for m in columns if m in self.test_auroc]
        self.table.setColumnCount(1 + len(columns) + len(auroc_columns))
        self.table.setHorizontalHeaderLabels(["Finding", *columns, *(f"test AUROC\n{m}" for m in auroc_columns)])
        for c, model in enumerate(auroc_columns, start=1 + len(columns)):
            self.table.horizontalHeaderItem(c).setToolTip(
                f"{model}: AUROC on its card's test split, per finding (how well it ranks films with the "
                "finding above films without it; 0.5 is chance)")
        self.table.setRowCount(len(labels))
        bold = QFont()
        bold.setBold(True)
        for row, label in enumerate(labels):
            name = QTableWidgetItem(label.replace("_", " "))
            name.setData(LABEL_ROLE, label)
            if label in self.disagree:
                name.setBackground(QBrush(DISAGREE_BG))
                name.setToolTip("The models disagree on this finding (positive for some, not for others)")
            self.table.setItem(row, 0, name)
            for c, col in enumerate(columns, start=1):
                f = self.results[col].finding(label)
                item = QTableWidgetItem(f"{f.probability:.3f}" + ("  positive" if f.positive else "")
                                        + ("" if f.reliable else "  (not reliable)"))
                item.setData(LABEL_ROLE, label)
                item.setToolTip(f"p = {f.probability:.3f}, operating threshold {f.threshold:.3f}")
                if f.positive:
                    item.setFont(bold)
                    item.setBackground(QBrush(POSITIVE_BG))
                elif label in self.disagree:
                    item.setBackground(QBrush(DISAGREE_BG))
                self.table.setItem(row, c, item)
            for c, model in enumerate(auroc_columns, start=1 + len(columns)):
                value = self.test_auroc[model].get(label)
                item = QTableWidgetItem("–" if value is None else f"{value:.2f}")
                item.setData(LABEL_ROLE, label)
                item.setForeground(QBrush(QColor(150, 150, 150)))  # context for the numbers, not a result
                self.table.setItem(row, c, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.blockSignals(False)
        if errors:
            self.table.setToolTip("\n".join(f"{m}: {e}" for m, e in errors.items()))
        if labels:
            first = next((i for i, lbl in enumerate(labels) if lbl in self.disagree), 0)
            self.table.blockSignals(True)  # one drawing of the maps below, not two
            self.table.selectRow(first)
            self.table.blockSignals(False)
        self._show_maps()
        self.label_selected.emit(self.selected_label())

    def labels(self) -> list[str]:
        return [self.table.item(r, 0).data(LABEL_ROLE) for r in range(self.table.rowCount())]

    def selected_label(self) -> str:
        items = self.table.selectedItems()
        return str(items[0].data(LABEL_ROLE)) if items else ""

    def cell_text(self, label: str, column: str) -> str:
        cols = list(self.results)
        row = self.labels().index(label)
        return self.table.item(row, 1 + cols.index(column)).text()

    def auroc_text(self, label: str, model: str) -> str:
        """The test-AUROC cell of ``model`` for ``label``."""
        auroc_columns = [m for m in self.results if m in self.test_auroc]
        row = self.labels().index(label)
        return self.table.item(row, 1 + len(self.results) + auroc_columns.index(model)).text()

    def _selection_changed(self) -> None:
        self._show_maps()
        self.label_selected.emit(self.selected_label())

    # -- heatmaps ---------------------------------------------------------------------------
    def _show_maps(self) -> None:
        for lbl in self.map_labels:
            # Hidden at once: deleteLater waits for the event loop, and until then the old maps
            # would still be drawn over the new ones.
            self.maps_layout.removeWidget(lbl)
            lbl.hide()
            lbl.deleteLater()
        self.map_labels = []
        label = self.selected_label()
        if self._gray is None or not label:
            return
        columns = list(self.results)
        shown = columns if self.side_by_side.isChecked() else [columns[self._toggle_index % len(columns)]]
        # deferred: the engine's rendering and zoo import torch; the window opens without it
        from chestview.engine.explain.display import combined_heatmap

        for col in shown:
            result = self.results[col]
            # The map scaled by the finding's level against the model's operating point (as in the
            # viewer): the stored maps are normalised per image and would all peak "hot".
            heat = combined_heatmap(result, [label])
            box = QLabel()
            box.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.setPixmap(_thumbnail(self._gray, heat))
            box.setToolTip(f"{col}: {label}" + ("" if self.side_by_side.isChecked() else " (click: next model)"))
            box.mousePressEvent = lambda _e: self.toggle_next()  # type: ignore[method-assign]
            cell = QWidget()
            v = QVBoxLayout(cell)
            v.setContentsMargins(0, 0, 0, 0)
            f = result.finding(label)
            caption = QLabel(col if f is None else (f"{col}\n{label.replace('_', ' ')} {f.probability:.2f}, "
                                                    f"{'positive' if f.positive else 'negative'}"))
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            v.addWidget(caption, 0, Qt.AlignmentFlag.AlignHCenter)
            v.addWidget(box, 1)
            self.maps_layout.addWidget(cell)
            self.map_labels.append(cell)

    def toggle_next(self) -> None:
        if not self.side_by_side.isChecked() and self.results:
            self._toggle_index = (self._toggle_index + 1) % len(self.results)
            self._show_maps()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space:
            self.toggle_next()
            return
        super().keyPressEvent(event)


class CompareDialog(QDialog):
    """Pick two or more models, run them on the window's current image, compare."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Compare models")
        self.resize(980, 860)
        self.models = QListWidget()
        current = window.model_panel.current_id()
        for entry in window.model_panel.entries:
            item = QListWidgetItem(entry.card.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if entry.card.id == current else Qt.CheckState.Unchecked)
            self.models.addItem(item)
        # As tall as its models (up to five rows), not a fixed block over the table.
        rows = max(2, min(self.models.count(), 5))
        self.models.setMaximumHeight(rows * max(self.models.sizeHintForRow(0), 18) + 2 * self.models.frameWidth() + 4)
        self.ensemble = QCheckBox("Ensemble column (mean of the models' probabilities)")
        self.ensemble.setChecked(True)
        self.run_button = QPushButton("Compare on the current image")
        self.run_button.clicked.connect(self.run)
        self.status = QLabel("Tick two or more models.")
        self.view = CompareView()
        layout = QVBoxLayout(self)
        layout.addWidget(self.models)
        row = QHBoxLayout()
        row.addWidget(self.ensemble)
        row.addStretch(1)
        row.addWidget(self.run_button)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)

    def checked(self) -> list[str]:
        return [self.models.item(i).text() for i in range(self.models.count())
                if self.models.item(i).checkState() == Qt.CheckState.Checked]

    def run(self) -> None:
        # deferred: the engine's rendering and zoo import torch; the window opens without it
        from chestview.gui import jobs
        from chestview.gui.workers import create_worker

        ids = self.checked()
        image = self.window_.current_image
        if len(ids) < 2 or image is None:
            self.status.setText("Tick two or more models and open an image first.")
            return
        self.status.setText(f"Running {len(ids)} models on {image.path}…")
        self.run_button.setEnabled(False)
        w = create_worker(jobs.compare_job, self.window_.predictors, ids, self.window_.settings.device, image,
                          name="compare models")
        w.errored.connect(lambda exc: self.status.setText(f"Comparison failed: {exc}"))
        w.finished.connect(lambda: self.run_button.setEnabled(True))
        self.window_._start("compare", w, pool="compute", returned=lambda r, im=image: self.show_results(im, r))

    def show_results(self, image: Any, results: dict[str, Any]) -> None:
        # deferred: the engine's rendering and zoo import torch; the window opens without it
        from chestview.engine.zoo.comparison import per_finding_test_auroc

        cards = {m: self.window_.model_panel.card(m) for m in results}
        aurocs = {m: per_finding_test_auroc(card) for m, card in cards.items() if card is not None}
        self.view.set_results(image, results, ensemble=self.ensemble.isChecked(), test_auroc=aurocs)
        n = len(self.view.disagree)
        self.status.setText(f"{len(results)} models on {image.path}: they disagree on {n} finding(s)")


def open_compare(window: Any) -> CompareDialog:
    dialog = CompareDialog(window)
    dialog.show()
    return dialog
