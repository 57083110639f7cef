"""The worklist dock: every image of the browser with a result, most suspicious first.

Rows come from the engine's worklist (:mod:`chestview.engine.worklist`, the order ``chestview
worklist`` prints): scored films by abnormality score, then the images the input gate flagged,
then failures. Selecting a row opens its image; Up/Down (or Ctrl+] / Ctrl+[ anywhere in the
window) steps through the list in that order. When a folder is opened or the model changes, the
results already in the on-disk cache are shown at once, without running the model.

A reading list too: patient (hidden identifiers as in the browser), accession, study date, view and
modality from the DICOM headers, the reader's read state and verdicts (gui/reading.py keeps them);
clicking a header sorts by it (again: the other way; a third time: back to worklist order), and a
second filter shows only unread or disagreed films. Stepping follows the rows as shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from chestview.engine.priors import nih_name
from chestview.engine.worklist import WorklistRow, build_worklist
from chestview.gui import jobs
from chestview.gui.workers import create_worker

COLUMNS = ("Read", "Patient", "Accession", "Study date", "View", "Modality", "Score", "Case call", "File",
           "Top findings", "Input check", "Verdicts", "Warnings", "Model")
SHOW_ALL, SHOW_UNREAD, SHOW_DISAGREED = "All films", "Unread", "Disagreed"
PATH_ROLE = Qt.ItemDataRole.UserRole + 10
ALL_FINDINGS = "All findings"
FLAGGED_FG = QColor(150, 150, 150)
FLAGGED_BG = QColor(80, 40, 40)
WARNINGS_WIDTH = 220


class WorklistPanel(QWidget):
    image_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_id = ""
        self._results: dict[str, Any] = {}  # path -> ImageResult of model_id
        self._paths: list[str] | None = None  # the browser's images (None: show every result)
        self.rows: list[WorklistRow] = []
        self._shown = ""  # the image in the viewer (see follow)
        self.filter = QComboBox()
        self.filter.addItem(ALL_FINDINGS)
        self.filter.setToolTip("Show only the images where this finding is positive")
        self.state_filter = QComboBox()
        self.state_filter.addItems([SHOW_ALL, SHOW_UNREAD, SHOW_DISAGREED])
        self.state_filter.setToolTip("Show only the films not read yet, or those with a finding you disagreed with")
        self.info: dict[str, Any] = {}  # path -> CatalogImage (patient, accession, date, view, modality)
        self.reviews: dict[str, Any] = {}  # path -> engine.reviews.Review
        self.hide_identifiers = False
        self._pseudonyms: dict[str, int] = {}
        self.sort_column: int | None = None  # None: worklist order
        self.sort_descending = False
        self.summary = QLabel("")
        self.summary.setStyleSheet("color: #a0a0a0;")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        # Score, file, findings and model fit their text; the input check takes the rest of the width
        # (a flagged image's reason is long: elided, whole in the tooltip) and warnings a fixed width,
        # so that no column is pushed out of sight on a flagged or warned row.
        header = self.table.horizontalHeader()
        for c in range(len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Input check"), QHeaderView.ResizeMode.Stretch)
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self.sort_by)
        warnings = COLUMNS.index("Warnings")
        header.setSectionResizeMode(warnings, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(warnings, WARNINGS_WIDTH)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        top = QHBoxLayout()
        top.addWidget(QLabel("Filter"))
        top.addWidget(self.filter, 1)
        top.addWidget(self.state_filter)
        top.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self.filter.currentTextChanged.connect(lambda _t: self.refresh())
        self.state_filter.currentTextChanged.connect(lambda _t: self.refresh())
        self.table.itemSelectionChanged.connect(self._selection_changed)
        # Many results arrive at once from a batch run: redraw at most every 200 ms.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.refresh)

    # -- content ----------------------------------------------------------------------------
    def set_model(self, model_id: str, results: dict[str, Any]) -> None:
        self.model_id = model_id
        self._results = dict(results)
        self.refresh()

    def set_paths(self, paths: list[str]) -> None:
        self._paths = list(paths)
        self.refresh()

    def add_result(self, path: str, model_id: str, result: Any, *, now: bool = False) -> None:
        if model_id != self.model_id or not isValid(self._timer):  # a late result after the window closed
            return
        self._results[path] = result
        self.refresh() if now else self._timer.start()

    def set_info(self, images: list[Any], *, hide_identifiers: bool = False) -> None:
        """The browser's catalogue entries (for the patient, accession, date, view and modality columns)."""
        self.info = {im.path: im for im in images}
        self.hide_identifiers = hide_identifiers
        self._pseudonyms = {}
        for im in images:
            key = self._patient_key(im)
            if key:
                self._pseudonyms.setdefault(key, len(self._pseudonyms) + 1)
        self.refresh()

    def set_reviews(self, reviews: dict[str, Any]) -> None:
        self.reviews.update(reviews)
        self.refresh()

    @staticmethod
    def _patient_key(im: Any) -> str:
        if im.is_dicom:
            return im.patient_id
        name = nih_name(im.path)
        return f"NIH {name[0]}" if name else ""

    def patient_text(self, path: str) -> str:
        im = self.info.get(path)
        key = self._patient_key(im) if im is not None else ""
        if not key:
            return ""
        return f"Patient {self._pseudonyms.get(key, 0)}" if self.hide_identifiers else key

    def is_read(self, path: str) -> bool:
        r = self.reviews.get(path)
        return bool(r is not None and r.read)

    def meta_cells(self, path: str) -> list[str]:
        """Read, patient, accession, study date, view, modality of one film."""
        im = self.info.get(path)
        date = im.study_date if im is not None else ""
        if len(date) == 8 and date.isdigit():
            date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
        accession = "" if im is None or self.hide_identifiers else im.accession
        modality = "" if im is None else im.modality or ("" if im.is_dicom else Path(path).suffix.lstrip(".").upper())
        return ["✓" if self.is_read(path) else "●", self.patient_text(path), accession, date,
                im.view if im is not None else "", modality]

    def visible_rows(self) -> list[WorklistRow]:
        wanted = self.filter.currentText()
        rows = self.rows
        if wanted and wanted != ALL_FINDINGS:
            label = wanted.replace(" ", "_")
            rows = [r for r in rows if any(f.label == label and f.positive for f in self._positives(r))]
        state = self.state_filter.currentText()
        if state == SHOW_UNREAD:
            rows = [r for r in rows if not self.is_read(r.path)]
        elif state == SHOW_DISAGREED:
            rows = [r for r in rows if (rv := self.reviews.get(r.path)) is not None and rv.disagreed]
        if self.sort_column is not None:
            rows = sorted(rows, key=self._sort_key(self.sort_column), reverse=self.sort_descending)
        return rows

    def _sort_key(self, column: int):
        name = COLUMNS[column]
        if name == "Score":
            return lambda r: (-r.group, r.score if r.score is not None else -1.0)
        if name == "Case call":
            return lambda r: r.call_text
        if name == "File":
            return lambda r: Path(r.path).name.lower()
        if name == "Top findings":
            return lambda r: r.shown_findings()
        if name == "Input check":
            return lambda r: (r.group, r.check_text())
        if name == "Verdicts":
            return lambda r: self.reviews[r.path].summary() if r.path in self.reviews else ""
        if name == "Warnings":
            return lambda r: " | ".join(r.warnings)
        if name == "Model":
            return lambda r: r.model
        if name == "Patient" and self.hide_identifiers:
            return lambda r: self._pseudonyms.get(self._patient_key(self.info[r.path]), 0) if r.path in self.info else 0
        return lambda r: self.meta_cells(r.path)[column]

    def sort_by(self, column: int) -> None:
        """A header click: sort by that column; again: the other way; a third time: worklist order."""
        first_descending = COLUMNS[column] == "Score"  # the most suspicious first, as the worklist
        if self.sort_column != column:
            self.sort_column, self.sort_descending = column, first_descending
        elif self.sort_descending != first_descending:
            self.sort_column = None
        else:
            self.sort_descending = not self.sort_descending
        header = self.table.horizontalHeader()
        header.setSortIndicatorShown(self.sort_column is not None)
        if self.sort_column is not None:
            header.setSortIndicator(column, Qt.SortOrder.DescendingOrder if self.sort_descending
                                    else Qt.SortOrder.AscendingOrder)
        self.refresh()

    def _positives(self, row: WorklistRow) -> list:
        result = self._results.get(row.path)
        return [f for f in result.findings if f.positive] if result is not None and not row.flagged else []

    def refresh(self) -> None:
        keep = self.selected_path() or self._shown
        allowed = set(self._paths) if self._paths is not None else None
        results = [r for p, r in self._results.items() if allowed is None or p in allowed]
        self.rows = build_worklist(results, self.model_id)
        self._update_filter_labels()
        rows = self.visible_rows()
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        italic = QFont()
        italic.setItalic(True)
        bold = QFont()
        bold.setBold(True)
        for i, row in enumerate(rows):
            flagged_text = "not a chest film? " + row.input_check.reason if row.flagged else row.check_text()
            review = self.reviews.get(row.path)
            cells = [
                *self.meta_cells(row.path),
                row.shown_score(),
                row.call_text,  # engine.case_call: the same words as the findings panel and the exports
                Path(row.path).name,
                row.shown_findings(),
                flagged_text,
                review.summary() if review is not None else "",
                " | ".join(row.warnings),
                row.model,
            ]
            check_col, file_col = COLUMNS.index("Input check"), COLUMNS.index("File")
            call_col = COLUMNS.index("Case call")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(PATH_ROLE, row.path)
                item.setToolTip(row.path if c == file_col else
                                (row.call.text if row.call is not None else text) if c == call_col else text)
                if row.flagged or row.error:
                    item.setForeground(QBrush(FLAGGED_FG))
                    item.setFont(italic)
                    if c == check_col:
                        item.setBackground(QBrush(FLAGGED_BG))
                elif c == 0 and not self.is_read(row.path):
                    item.setFont(bold)
                self.table.setItem(i, c, item)
        self.table.blockSignals(False)
        flagged = sum(r.flagged for r in self.rows)
        unread = sum(not self.is_read(r.path) for r in self.rows)
        shown = f"{len(self.rows)} image(s), {unread} unread"
        if len(rows) != len(self.rows):
            shown = f"{len(rows)} of {shown} shown"
        self.summary.setText(f"{shown}, {flagged} flagged" if self.rows else "no results yet")
        # The selection is the image in the viewer or nothing: a shorter list (a filter) must not leave
        # another image's row highlighted.
        if not (keep and self.select_path(keep, emit=False)):
            self.clear_selection()

    def _update_filter_labels(self) -> None:
        labels = sorted({f.label for r in self._results.values() for f in r.findings})
        current = [self.filter.itemText(i) for i in range(1, self.filter.count())]
        wanted = [lbl.replace("_", " ") for lbl in labels]
        if current != wanted:
            text = self.filter.currentText()
            self.filter.blockSignals(True)
            self.filter.clear()
            self.filter.addItems([ALL_FINDINGS, *wanted])
            self.filter.setCurrentText(text if text in wanted else ALL_FINDINGS)
            self.filter.blockSignals(False)

    # -- selection and stepping -------------------------------------------------------------
    def paths_in_order(self) -> list[str]:
        return [r.path for r in self.visible_rows()]

    def selected_path(self) -> str:
        items = self.table.selectedItems()
        return str(items[0].data(PATH_ROLE)) if items else ""

    def select_path(self, path: str, *, emit: bool = True) -> bool:
        for i in range(self.table.rowCount()):
            if self.table.item(i, 0).data(PATH_ROLE) == path:
                self.table.blockSignals(not emit)
                self.table.selectRow(i)
                self.table.blockSignals(False)
                return True
        return False

    def clear_selection(self) -> None:
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.setCurrentItem(None)
        self.table.blockSignals(False)

    def follow(self, path: str) -> None:
        """The viewer shows ``path`` (opened from the browser, say): select its row without opening
        it again, or no row when it is not in the list; stepping goes on from there."""
        self._shown = path
        if path != self.selected_path() and not self.select_path(path, emit=False):
            self.clear_selection()

    def step(self, delta: int) -> str:
        """Select the next (``delta`` = 1) or previous image in worklist order; returns its path."""
        paths = self.paths_in_order()
        if not paths:
            return ""
        current = self.selected_path()
        i = paths.index(current) + delta if current in paths else (0 if delta > 0 else len(paths) - 1)
        i = max(0, min(len(paths) - 1, i))
        self.select_path(paths[i])
        return paths[i]

    def next_unread(self) -> str:
        """Select the next unread film after the current one in the rows shown (wrapping round);
        returns its path, or "" when every film shown is read."""
        paths = self.paths_in_order()
        current = self.selected_path() or self._shown
        start = paths.index(current) + 1 if current in paths else 0
        for p in paths[start:] + paths[:start]:
            if p != current and not self.is_read(p):
                self.select_path(p)
                return p
        return ""

    def _selection_changed(self) -> None:
        path = self.selected_path()
        if path:
            self.image_selected.emit(path)


def install_worklist(window: Any) -> WorklistPanel:
    """Add the worklist dock to the main window and keep it in step with the window's results,
    its browser and its model picker. The window needs ``results`` (gui.state.ResultCache),
    ``model_panel``, ``browser``, ``show_path``, ``catalog_loaded`` and ``_dock``."""
    panel = WorklistPanel()
    dock = window._dock("Worklist", "dock-worklist", panel, Qt.DockWidgetArea.BottomDockWidgetArea)
    window.worklist = panel
    window.worklist_dock = dock

    def badge(path: str, model_id: str, result: Any) -> None:
        """The study browser shows each image's score, or its flag, for the current model (also for
        results read from the disk cache)."""
        if model_id == panel.model_id:
            window.browser.set_result(path, result)

    def model_changed(model_id: str) -> None:
        results = window.results.for_model(model_id) if model_id else {}
        panel.set_model(model_id, results)
        for path in window.browser.paths():
            badge(path, model_id, results.get(path))
        QTimer.singleShot(0, load_cached)  # after the window has set the model's box threshold

    def load_cached() -> None:
        """Results already on disk for the browser's images and the current model, shown at once."""
        model_id = window.model_panel.current_id()
        paths = window.browser.paths()
        if not model_id or not paths:
            return
        todo = [p for p in paths if window.results.result(p, model_id) is None]
        if not todo:
            return
        w = create_worker(jobs.cached_results_job, window.predictors, model_id, window.settings.device, todo,
                          window.findings.threshold_value, name="cached results")
        # The io pool: a lookup (file hashes, one SQLite read) must not queue behind a model load or run.
        window._start("worklist-cache", w, pool="io", returned=store_cached)

    def store_cached(found: tuple[str, dict[str, Any]]) -> None:
        model_id, hits = found
        for path, result in hits.items():
            if window.results.result(path, model_id) is None:
                window.results.store(path, model_id, result)
        if model_id == panel.model_id:
            panel.refresh()
        if hits and window.current_path in hits and window.current_result is None:
            window._refresh_findings()

    def catalog_loaded(_n: int) -> None:
        panel.set_paths(window.browser.paths())
        for path in window.browser.paths():
            badge(path, panel.model_id, window.results.result(path, panel.model_id))
        load_cached()

    window.results.subscribe(panel.add_result)
    window.results.subscribe(badge)
    panel.image_selected.connect(lambda p: window.browser.select_path(p))
    window.image_shown.connect(panel.follow)
    window.model_panel.model_changed.connect(model_changed)
    window.catalog_loaded.connect(catalog_loaded)
    for text, keys, delta in (("Next in worklist", "Ctrl+]", 1), ("Previous in worklist", "Ctrl+[", -1)):
        act = QAction(text, window)
        act.setShortcut(QKeySequence(keys))
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(lambda _c=False, d=delta: panel.step(d))
        window.addAction(act)
    return panel
