"""A reading session: what the reader does with each film is kept and comes back.

Installed on the main window by :func:`install_reading`: the Review dock (verdicts, read mark, note,
report line, change table), the reader's keys, the review store (engine/reviews.py) and the
annotation store (engine/annotations.py) behind them, the worklist's reading columns, the prior
comparison at full height with linked zoom, pan and window/level, viewer-only mode (F11), DICOM corner
text and Help → Keyboard shortcuts. Nothing here is drawn by the engine, nor stored by the GUI itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QDockWidget, QFileDialog, QInputDialog, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from chestview.engine.annotations import AnnotationStore
from chestview.engine.priors import compare_findings, prior_label
from chestview.engine.report_line import report_line
from chestview.engine.reviews import ReviewStore, write_reviews_csv
from chestview.gui import jobs
from chestview.gui.review_panel import ReviewPanel
from chestview.gui.workers import create_worker

log = logging.getLogger(__name__)

# Keys the viewer handles itself (not actions): listed in Help → Keyboard shortcuts.
VIEWER_KEYS = (
    ("Right / Down / Space", "Next image (image focused)"),
    ("Left / Up", "Previous image (image focused)"),
    ("Mouse wheel", "Previous / next image (Ctrl+wheel zooms; swapped in Settings)"),
    ("Right-drag", "Window (horizontal) and level (vertical)"),
    ("Left-drag", "Pan, or measure with the active tool"),
)


def reviews_job(store: ReviewStore, paths: list[str]) -> dict[str, Any]:
    """Worker job: path -> review of every film (hashes files not seen before)."""
    return store.get_many(paths)


class ReadingController(QObject):
    def __init__(self, window: Any, reviews: ReviewStore, annotations: AnnotationStore) -> None:
        super().__init__(window)
        self.w = window
        self.reviews = reviews
        self.annotations = annotations
        self.panel = ReviewPanel()
        self._annotated_path = ""  # the film whose annotations the viewer shows (and edits are saved for)
        self._annotated_digest = ""
        self._viewer_only_state: tuple | None = None
        self._prior_lookups: set[tuple[str, str]] = set()
        self._window_linked = False
        self._syncing = False

    # -- the film shown ---------------------------------------------------------------------
    def model_id(self) -> str:
        return self.w.model_panel.current_id() or ""

    def result(self, path: str | None) -> Any:
        return self.w.results.result(path, self.model_id()) if path and self.model_id() else None

    def review(self, path: str | None) -> Any:
        if not path:
            return None
        known = self.w.worklist.reviews.get(path)
        if known is not None:
            return known
        review = self.reviews.get(path)
        if review is not None:
            self.w.worklist.reviews[path] = review
        return review

    def image_shown(self, path: str) -> None:
        """Another film: its stored annotations, its review, its corner text."""
        digest = self.reviews.digests([path]).get(path, "")
        self._annotated_path, self._annotated_digest = path, digest
        stored = self.annotations.load(digest) if digest else ()
        self.w.viewer.measure.load(stored, self.w.current_image)
        self.update_corner()
        self.refresh_panel()

    def refresh_panel(self, *_a: Any) -> None:
        path = self.w.current_path
        result = self.result(path)
        review = self.review(path)
        line = report_line(result, self.model_id()) if result is not None else ""
        self.panel.set_film(Path(path).name if path else "", result, review, line)
        self.update_changes()

    def save_annotations(self) -> None:
        if self._annotated_digest and self._annotated_path == self.w.current_path:
            try:
                self.annotations.save(self._annotated_digest, self.w.viewer.measure.annotations,
                                      source=self._annotated_path)
            except OSError as exc:
                self.w.notify_error("annotations", f"{Path(self._annotated_path).name}: not saved ({exc})")

    # -- verdicts and read marks ------------------------------------------------------------
    def _stored(self, review: Any) -> None:
        if review is not None:
            self.w.worklist.set_reviews({review.path: review})
        self.refresh_panel()

    def set_verdict(self, label: str, verdict: str | None) -> None:
        path = self.w.current_path
        if path and label:
            self._stored(self.reviews.set_verdict(path, label, verdict, model=self.model_id()))

    def verdict_key(self, verdict: str) -> None:
        self.panel._request(verdict)
        self.panel.select_step(+1)  # on to the next finding, as a reader goes down a list

    def agree_all(self) -> None:
        path = self.w.current_path
        review = None
        for label in self.panel.labels():
            review = self.reviews.set_verdict(path, label, "agree", model=self.model_id())
        self._stored(review)

    def set_read(self, read: bool) -> None:
        if self.w.current_path:
            self._stored(self.reviews.set_read(self.w.current_path, read))

    def toggle_read(self) -> None:
        review = self.review(self.w.current_path)
        self.set_read(not (review is not None and review.read))

    def read_and_next(self) -> None:
        """Mark the film read and open the next unread one in the worklist."""
        self.set_read(True)
        if not self.w.worklist.next_unread():
            self.w.statusBar().showMessage("Every film in the worklist is read", 5000)

    def set_note(self, note: str) -> None:
        review = self.review(self.w.current_path)
        if review is not None and review.note != note:
            self._stored(self.reviews.set_note(self.w.current_path, note))

    def load_reviews(self, *_a: Any) -> None:
        paths = self.w.browser.paths()
        self.w.worklist.set_info(self.w.browser.catalog.images, hide_identifiers=self.w.hide_identifiers)
        if paths:
            self.w._start("reviews", create_worker(reviews_job, self.reviews, paths, name="reviews"), pool="io",
                          returned=self._reviews_loaded)

    def _reviews_loaded(self, found: dict[str, Any]) -> None:
        self.w.worklist.set_reviews(found)
        self.refresh_panel()

    def export_reviews(self, path: str | None = None) -> str:
        """Write the verdicts of the open films with the current model's probabilities (CSV)."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.w, "Export reader verdicts", "reviews.csv", "CSV (*.csv)")
            if not path:
                return ""
        paths = self.w.browser.paths()
        reviews = {p: r for p, r in self.reviews.get_many(paths).items() if r.verdicts or r.read or r.note}
        results = self.w.results.for_model(self.model_id())
        write_reviews_csv(path, reviews, results)
        self.w.statusBar().showMessage(f"Saved {len(reviews)} film review(s) to {path}", 6000)
        return path

    def copy_report(self) -> None:
        if self.panel.copy_report():
            self.w.statusBar().showMessage("Report line copied", 4000)

    # -- priors -----------------------------------------------------------------------------
    def prior_toggled(self, on: bool) -> None:
        """The prior at full height beside the current film, as large as it, views linked."""
        if on:
            half = max(1, self.w.viewer_split.width() // 2)
            self.w.viewer_split.setSizes([half, half])
        self.link_views(on and self.w.act_link.isChecked())
        self.update_changes()

    def link_views(self, on: bool) -> None:
        """Zoom, pan and window/level of the two films follow each other (while a prior is shown):
        whichever the reader zooms, pans or windows leads, the other follows."""
        on = bool(on) and self.w.act_prior.isChecked()
        a, b = self.w.viewer, self.w.prior_viewer
        # Not pyqtgraph's setXLink/setYLink: those line the axes up on screen (for plots stacked one
        # above the other), which shifts side-by-side views by their distance. Here both show the same
        # image rectangle.
        if on != self._window_linked:
            pairs = ((a.window_changed, self._follow_window), (a.view.sigRangeChanged, self._follow_range),
                     (b.window_changed, self._lead_window), (b.view.sigRangeChanged, self._lead_range))
            for signal, slot in pairs:
                (signal.connect if on else signal.disconnect)(slot)
            if on:
                self._follow_window(*a.window)
                self._follow_range()
            self._window_linked = on

    def _copy_range(self, src: Any, dst: Any) -> None:
        if self._syncing or src.image is None or dst.image is None:
            return
        self._syncing = True
        try:
            dst.view.setRange(src.view.viewRect(), padding=0)
        finally:
            self._syncing = False

    def prior_shown(self) -> None:
        """The prior's image is in its viewer: it takes the current film's view and window."""
        if self._window_linked:
            self._follow_range()
            self._follow_window(*self.w.viewer.window)

    def _follow_range(self, *_a: Any) -> None:
        self._copy_range(self.w.viewer, self.w.prior_viewer)

    def _lead_range(self, *_a: Any) -> None:
        self._copy_range(self.w.prior_viewer, self.w.viewer)

    def _follow_window(self, centre: float, width: float) -> None:
        """The prior takes the current film's window/level: the same stored values (DICOM units), so
        two films of one modality look alike; PNG films share the 0..1 display range."""
        self._copy_window(self.w.viewer, self.w.prior_viewer, centre, width)

    def _lead_window(self, centre: float, width: float) -> None:
        """The current film takes the prior's window/level (the reader windowed the prior)."""
        self._copy_window(self.w.prior_viewer, self.w.viewer, centre, width)

    def _copy_window(self, src: Any, dst: Any, centre: float, width: float) -> None:
        if self._syncing or src.image is None or dst.image is None:
            return
        self._syncing = True
        try:
            sc, sw = src.image.stored_window((centre, width))
            dst.set_window(*_display_window(dst.image, sc, sw))
            dst.set_inverted(src.inverted)
        finally:
            self._syncing = False

    def update_changes(self) -> None:
        """The change table: the prior's findings against the current film's (results of one model)."""
        prior_path = getattr(self.w, "prior_path", None)
        if not self.w.act_prior.isChecked() or not prior_path:
            self.panel.set_changes(None, [])
            return
        current, prior = self.result(self.w.current_path), self.result(prior_path)
        im = next((i for i in self.w.browser.catalog.images if i.path == prior_path), None)
        title = f"Since the prior ({prior_label(im) if im is not None else Path(prior_path).name})"
        if prior is None and self.model_id() and (prior_path, self.model_id()) not in self._prior_lookups:
            self._look_up_prior(prior_path)
        if current is None or prior is None:
            self.panel.set_changes(title + ": run the model on both films (Ctrl+Shift+R runs all)", [])
            return
        self.panel.set_changes(title, compare_findings(prior, current))

    def _look_up_prior(self, path: str) -> None:
        """The prior's result from the on-disk result cache (no model run)."""
        self._prior_lookups.add((path, self.model_id()))
        w = create_worker(jobs.cached_results_job, self.w.predictors, self.model_id(), self.w.settings.device,
                          [path], self.w.findings.threshold_value, name="prior result")
        self.w._start("prior-result", w, pool="io", returned=self._prior_found)

    def _prior_found(self, found: tuple[str, dict[str, Any]]) -> None:
        model_id, hits = found
        for path, result in hits.items():
            if self.w.results.result(path, model_id) is None:
                self.w.results.store(path, model_id, result)
        self.update_changes()

    # -- screen -----------------------------------------------------------------------------
    def update_corner(self) -> None:
        im = next((i for i in self.w.browser.catalog.images if i.path == self.w.current_path), None)
        lines: list[str] = []
        if im is not None:
            patient = self.w.worklist.patient_text(im.path)
            d = im.study_date
            lines = [patient, f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 else d,
                     " ".join(t for t in (im.modality, im.view) if t)]
        self.w.viewer.set_corner_info(lines, visible=self.w.act_corner.isChecked())

    def toggle_viewer_only(self, on: bool) -> None:
        """F11: the film alone on the screen (no docks, tool bar or menus); again: back as it was."""
        w = self.w
        if on:
            self._viewer_only_state = (w.saveState(), w.isFullScreen(), w.menuBar().isVisible(),
                                       w.statusBar().isVisible())
            for dock in w.findChildren(QDockWidget):
                dock.hide()
            w.main_toolbar.hide()
            w.menuBar().hide()
            w.statusBar().hide()
            w.tabs.tabBar().hide()
            w.showFullScreen()
        elif self._viewer_only_state is not None:
            state, full, menu, status = self._viewer_only_state
            w.menuBar().setVisible(menu)
            w.statusBar().setVisible(status)
            w.tabs.tabBar().show()
            w.main_toolbar.show()
            w.restoreState(state)
            if not full:
                w.showNormal()
            self._viewer_only_state = None

    def show_shortcuts(self) -> QDialog:
        dlg = shortcuts_dialog(self.w)
        dlg.show()
        return dlg


def _display_window(image: Any, stored_centre: float, stored_width: float) -> tuple[float, float]:
    """The inverse of ``XrayImage.stored_window``: display (centre, width) of a window in stored values."""
    c0, w0 = image.stored_window((0.0, 1.0))
    c1, w1 = image.stored_window((1.0, 2.0))
    dc, dw = c1 - c0, w1 - w0  # stored units per display unit (linear)
    return ((stored_centre - c0) / dc if dc else stored_centre, (stored_width - w0) / dw + 1.0 if dw else stored_width)


def shortcut_rows(window: QWidget) -> list[tuple[str, str]]:
    """(keys, what) of every action of the window with a shortcut, and the viewer's own keys."""
    rows: dict[str, tuple[str, str]] = {}
    for act in window.findChildren(QAction):
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in act.shortcuts())
        if keys:
            rows.setdefault(f"{keys}|{act.text()}", (keys, act.text().replace("&", "")))
    return sorted(rows.values(), key=lambda r: r[1].lower()) + list(VIEWER_KEYS)


def shortcuts_dialog(window: QWidget) -> QDialog:
    dlg = QDialog(window)
    dlg.setWindowTitle("Keyboard shortcuts")
    rows = shortcut_rows(window)
    table = QTableWidget(len(rows), 2)
    table.setHorizontalHeaderLabels(("Keys", "Action"))
    table.verticalHeader().setVisible(False)
    for i, (keys, what) in enumerate(rows):
        table.setItem(i, 0, QTableWidgetItem(keys))
        table.setItem(i, 1, QTableWidgetItem(what))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dlg.reject)
    layout = QVBoxLayout(dlg)
    layout.addWidget(table)
    layout.addWidget(buttons)
    dlg.resize(560, 640)
    return dlg


def install_reading(window: Any, *, reviews: ReviewStore | None = None,
                    annotations: AnnotationStore | None = None) -> ReadingController:
    """Add the Review dock, the reading keys and menus, and keep reviews and annotations on disk.
    Needs the window's viewer, prior viewer, worklist (gui/worklist.py), browser, results and menus."""
    ctl = ReadingController(window, reviews or ReviewStore(), annotations or AnnotationStore())
    window.reading = ctl
    dock = window._dock("Review", "dock-review", ctl.panel, Qt.DockWidgetArea.RightDockWidgetArea)
    window.review_dock = dock
    window.tabifyDockWidget(window.findings_dock, dock)
    window.findings_dock.raise_()

    def act(text: str, slot, keys=None, tip: str = "", checkable: bool = False) -> QAction:
        a = window._action(text, slot, keys, tip, checkable)
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        window.addAction(a)
        return a

    window.act_mark_read = act("Mark &Read / Unread", ctl.toggle_read, "M", "Mark this film read or unread")
    window.act_read_next = act("Read, &Next Unread", ctl.read_and_next, "N",
                               "Mark this film read and open the next unread film of the worklist")
    window.act_agree = act("&Agree with Finding", lambda: ctl.verdict_key("agree"), "G",
                           "Agree with the finding selected in the Review panel")
    window.act_disagree = act("&Disagree with Finding", lambda: ctl.verdict_key("disagree"), "D",
                              "Disagree with the finding selected in the Review panel")
    window.act_unsure = act("&Unsure about Finding", lambda: ctl.verdict_key("unsure"), "U",
                            "Unsure about the finding selected in the Review panel")
    window.act_agree_all = act("Agree with &All Findings", ctl.agree_all, "Shift+G",
                               "Agree with every finding of this film")
    window.act_copy_report = act("&Copy Report Line", ctl.copy_report, "Ctrl+Shift+C",
                                 "Copy this film's findings sentence for dictation")
    window.act_export_reviews = act("Export Reader &Verdicts…", lambda: ctl.export_reviews(), None,
                                    "Your verdicts with the model's probabilities, as CSV")
    window.act_link = act("&Link Prior Views", ctl.link_views, "L",
                          "Zoom, pan and window/level of the prior follow the current film", checkable=True)
    window.act_link.setChecked(True)
    window.act_corner = act("&Corner Text", lambda _on: ctl.update_corner(), "C",
                            "Patient (as allowed), study date, view, window and zoom on the image", checkable=True)
    window.act_corner.setChecked(True)
    window.act_viewer_only = act("&Viewer Only", ctl.toggle_viewer_only, "F11",
                                 "The film alone on the whole screen (F11 again: back)", checkable=True)
    window.act_shortcuts = act("&Keyboard Shortcuts", ctl.show_shortcuts, "F1", "Every key of the app")

    menu = window.menuBar().addMenu("&Reading")
    for a in (window.act_read_next, window.act_mark_read, None, window.act_agree, window.act_disagree,
              window.act_unsure, window.act_agree_all, None, window.act_copy_report, window.act_export_reviews):
        menu.addSeparator() if a is None else menu.addAction(a)
    window.menuBar().insertMenu(window.help_menu.menuAction(), menu)
    view_menu = window.view_docks_menu.parentWidget()
    for a in (window.act_link, window.act_corner, window.act_viewer_only):
        view_menu.addAction(a)
    window.help_menu.insertAction(window.act_about, window.act_shortcuts)

    # Every key works in viewer-only mode too (menus and tool bar hidden): the window holds each action.
    for a in window.findChildren(QAction):
        if not a.shortcut().isEmpty():
            window.addAction(a)

    ctl.panel.verdict_requested.connect(ctl.set_verdict)
    ctl.panel.read_toggled.connect(ctl.set_read)
    ctl.panel.note_edited.connect(ctl.set_note)
    ctl.panel.note_done.connect(lambda: window.viewer.graphics.setFocus())
    window.image_shown.connect(ctl.image_shown)
    window.result_shown.connect(ctl.refresh_panel)
    window.results.subscribe(lambda path, _m, _r: QTimer.singleShot(0, ctl.refresh_panel)
                             if path in (window.current_path, getattr(window, "prior_path", None)) else None)
    window.catalog_loaded.connect(ctl.load_reviews)
    window.model_panel.model_changed.connect(lambda _m: ctl.refresh_panel())
    window.act_prior.toggled.connect(ctl.prior_toggled)
    window.viewer.measure.edited.connect(ctl.save_annotations)
    window.viewer.measure.ask_text = lambda: _ask_note(window)
    return ctl


def _ask_note(window: QWidget) -> str | None:
    text, ok = QInputDialog.getText(window, "Text note", "Note on the image:")
    return text.strip() if ok and text.strip() else None
