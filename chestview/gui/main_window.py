"""The main window. It builds itself in named steps (actions, menus, tool bars, status bar, docks)
and connects the panels; every long job runs in a worker (see :mod:`chestview.gui.workers`).

The behaviour is split by concern into mixins (:mod:`chestview.gui.window`): opening and browsing,
analysis (models, inference, findings, overlays), export, and job bookkeeping. New docks are built
in :meth:`MainWindow._create_docks` (or a helper it calls) with :meth:`MainWindow._dock`."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QLabel, QListWidget, QMainWindow, QMessageBox, QProgressBar, QSplitter, QTabWidget, QToolBar,
    QToolButton, QWidget,
)

import chestview
from chestview.engine.results import ImageResult
from chestview.gui import jobs, timings
from chestview.gui.browser import StudyBrowser, accept_file_drag, dropped_paths
from chestview.gui.compare_view import open_compare
from chestview.gui.findings import FindingsPanel
from chestview.gui.model_panel import ModelPanel
from chestview.gui.reading import install_reading
from chestview.gui.settings import AppSettings, SettingsDialog
from chestview.gui.state import LRUCache, ResultCache
from chestview.gui.tags import ImageInfoPanel, TagPanel
from chestview.gui.viewer import PRESETS, ImageViewer
from chestview.gui.window.analysis import AnalysisMixin
from chestview.gui.window.browsing import BrowsingMixin, samples_dir
from chestview.gui.window.exporting import ExportMixin
from chestview.gui.window.jobs import JobsMixin
from chestview.gui.workers import Worker, WorkerManager, create_worker
from chestview.gui.worklist import install_worklist

log = logging.getLogger(__name__)

__all__ = ["MainWindow", "about_text", "samples_dir"]


class MainWindow(BrowsingMixin, AnalysisMixin, ExportMixin, JobsMixin, QMainWindow):
    image_shown = Signal(str)  # path of the image now in the viewer
    result_shown = Signal(str)  # path whose findings are now in the table
    catalog_loaded = Signal(int)  # number of images

    def __init__(
        self,
        settings: AppSettings | None = None,
        *,
        persist: bool = True,
        model: str | None = None,
        hide_identifiers: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else AppSettings.load()
        self.persist = persist  # False: never write the settings file (screenshot mode)
        self.hide_identifiers = hide_identifiers  # screenshots: no patient name or ID in the pixels
        self.setWindowTitle(f"chestview {chestview.__version__} — not for clinical use")
        self.setAcceptDrops(True)
        self.workers = WorkerManager(self)
        self.workers.error.connect(self.notify_error)
        self.results = ResultCache()
        self.images: LRUCache[str, object] = LRUCache(6)
        self.predictors = jobs.PredictorCache()
        self.current_path: str | None = None
        self.current_image = None
        self.current_result: ImageResult | None = None
        self._box_rules: dict[str, object] = {}  # model id -> its BoxRule (engine.explain.box_rule)
        self._shown_cache: tuple | None = None  # the current result re-boxed as drawn (see shown_result)
        self.zoo_loaded = False
        self._running: dict[str, Worker] = {}  # job kind -> worker (scan, thumbs, load, tags, infer, batch)
        self._pending_select: str | None = None  # path to select once the catalogue is listed
        # First: listing the zoo imports PyTorch (seconds), the start of the path to the first findings.
        # Its result is handled by the event loop, once the window below exists.
        self.refresh_zoo(select=model or "")

        self._create_central()
        self._create_actions()
        self._create_menus()
        self._create_toolbars()
        self._create_status_bar()
        self._create_docks()
        self._connect()
        self._restore_layout()
        self.apply_settings()

    # ============================================================================ build steps
    def _create_central(self) -> None:
        self.viewer = ImageViewer()
        # The prior image of the same patient, beside the current one (View → Compare with Prior).
        self.prior_viewer = ImageViewer()
        self.prior_viewer.setVisible(False)
        self.viewer_split = QSplitter(Qt.Orientation.Horizontal)
        self.viewer_split.addWidget(self.prior_viewer)
        self.viewer_split.addWidget(self.viewer)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.viewer_split, "Viewer")
        # The training tab is built when first opened: it loads the training engine (PyTorch), which
        # would otherwise hold the window back for seconds at start-up.
        self.training_tab = None
        self.tabs.addTab(QWidget(), "Training && evaluation")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.tabs)

    def _tab_changed(self, index: int) -> None:
        if index == 1 and self.training_tab is None:
            self.create_training_tab()

    def create_training_tab(self):
        """The Training & evaluation tab (built once, on first use)."""
        if self.training_tab is not None:
            return self.training_tab
        try:
            from chestview.gui.training_tab import TrainingTab

            tab = TrainingTab(self.workers)
        except ImportError as exc:  # pragma: no cover - the training engine may be missing
            log.warning("training tab unavailable: %s", exc)
            return None
        self.training_tab = tab
        tab.model_trained.connect(self._model_trained)
        tab.set_models([e.card.id for e in self.model_panel.entries])
        self.tabs.blockSignals(True)
        current = self.tabs.currentIndex()
        placeholder = self.tabs.widget(1)
        self.tabs.removeTab(1)
        self.tabs.insertTab(1, tab, "Training && evaluation")
        placeholder.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        return tab

    def _action(self, text: str, slot, shortcut=None, tip: str = "", checkable: bool = False) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(f"{tip} ({a.shortcut().toString()})" if shortcut else tip)
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        return a

    def _create_actions(self) -> None:
        A, K = self._action, QKeySequence.StandardKey
        self.act_open_file = A("Open &File…", self.open_file_dialog, K.Open, "Open images (PNG, JPEG, DICOM)")
        self.act_open_folder = A("Open F&older…", self.open_folder_dialog, "Ctrl+Shift+O", "Open every image in a folder")
        self.act_open_samples = A("Open &Samples", lambda: self.open_paths([str(samples_dir())]), None,
                                  "Open the bundled sample studies")
        self.act_export = A("&Export Annotated Image…", self.export_current, "Ctrl+E",
                            "Save the current view at full resolution with a JSON report")
        self.act_export_batch = A("Export &All Studies…", self.export_batch, "Ctrl+Shift+E",
                                  "Annotated images and results.json for every study in the browser")
        self.act_quit = A("&Quit", self.close, K.Quit, "Quit chestview")
        self.act_next = A("&Next Image", lambda: self.browser.select_offset(+1), "PgDown", "Next image")
        self.act_prev = A("&Previous Image", lambda: self.browser.select_offset(-1), "PgUp", "Previous image")
        self.act_run = A("&Run Model", self.run_current, "Ctrl+R", "Run the model on the current image")
        self.act_run_all = A("Run on &All Images", self.run_all, "Ctrl+Shift+R", "Run the model on every image")
        self.act_cancel = A("&Cancel Jobs", self.cancel_jobs, "Esc", "Cancel running jobs")
        self.act_fit = A("&Fit", self.viewer.fit, "F", "Fit the image to the window")
        self.act_one = A("&1:1", self.viewer.one_to_one, "1", "One image pixel per screen pixel")
        self.act_zoom_in = A("Zoom &In", lambda: self.viewer.zoom(1.25), K.ZoomIn, "Zoom in")
        self.act_zoom_out = A("Zoom &Out", lambda: self.viewer.zoom(0.8), K.ZoomOut, "Zoom out")
        self.act_invert = A("&Invert", self.viewer.set_inverted, "I", "Invert grey levels", checkable=True)
        self.act_wl = A("&Window/Level Mode", self.viewer.set_wl_mode, "W",
                        "Left-drag adjusts window/level (right-drag always does)", checkable=True)
        self.act_reset = A("&Reset View", self._reset_view, "Ctrl+0", "DICOM window, not inverted, fitted")
        self.act_presets = []
        for i, name in enumerate(PRESETS, 1):
            self.act_presets.append(A(name, lambda _=False, n=name: self.viewer.apply_preset(n), f"Alt+{i}",
                                      f"Window preset: {name}"))
        self.act_ruler = A("&Ruler", lambda on: self._set_tool("ruler", on), "R",
                           "Distance ruler: left-drag on the image (mm when the pixel spacing is known)", checkable=True)
        self.act_ctr = A("&Cardiothoracic Ratio", lambda on: self._set_tool("ctr", on), "T",
                         "Cardiothoracic ratio: drag across the heart's widest diameter, then the chest's", checkable=True)
        self.act_angle = A("&Angle", lambda on: self._set_tool("angle", on), "Shift+A",
                           "Angle: drag one line, then the other; the angle between them is drawn", checkable=True)
        self.act_arrow = A("Arro&w", lambda on: self._set_tool("arrow", on), "Shift+W",
                           "Arrow: drag from where its text goes to what it points at, then type the text "
                           "(or leave it empty)", checkable=True)
        self.act_text = A("Te&xt Note", lambda on: self._set_tool("text", on), "Shift+N",
                          "Text note: click on the image and type", checkable=True)
        self.act_clear_measure = A("Clear &Measurements", lambda: self.viewer.measure.clear(), "Shift+Del",
                                   "Remove this image's measurements and notes (undo brings them back)")
        self.act_undo = A("&Undo Measurement", lambda: self.viewer.measure.undo(), K.Undo,
                          "Undo the last measurement or note change")
        self.act_redo = A("&Redo Measurement", lambda: self.viewer.measure.redo(), K.Redo,
                          "Redo the measurement change undone last")
        self.act_prior = A("Compare with &Prior", self._toggle_prior, "P",
                           "Show the most recent earlier image of the same patient (DICOM PatientID and "
                           "study date) beside this one", checkable=True)
        self.act_heatmap = A("Show &Heatmap", self._toggle_heat,
                             "H", "Show the heatmap of the selected finding", checkable=True)
        self.act_all_positive = A("&All Positive Findings", self._toggle_all_positive, "A",
                                  "Draw the boxes of every positive finding", checkable=True)
        self.act_bench = A("&Benchmark…", self.open_benchmark, None, "Measure inference speed on this machine")
        self.act_refresh_zoo = A("Refresh &Models", lambda: self.refresh_zoo(self.model_panel.current_id()), None, "Re-read the model zoo")
        self.act_settings = A("&Settings…", self.open_settings, "Ctrl+,", "Settings")
        self.act_about = A("&About chestview", self.show_about, None, "Versions and disclaimer")

    def _create_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.act_open_file, self.act_open_folder, self.act_open_samples):
            m.addAction(a)
        self.recent_menu = m.addMenu("Recent &Folders")
        m.addSeparator()
        m.addAction(self.act_export)
        m.addAction(self.act_export_batch)
        m.addSeparator()
        m.addAction(self.act_settings)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&View")
        for a in (self.act_fit, self.act_one, self.act_zoom_in, self.act_zoom_out, self.act_reset):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_invert)
        m.addAction(self.act_wl)
        wm = m.addMenu("&Window Presets")
        for a in self.act_presets:
            wm.addAction(a)
        m.addSeparator()
        for a in (self.act_ruler, self.act_angle, self.act_arrow, self.act_text, self.act_ctr, self.act_undo, self.act_redo,
                  self.act_clear_measure, self.act_prior):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_heatmap)
        m.addAction(self.act_all_positive)
        m.addSeparator()
        m.addAction(self.act_next)
        m.addAction(self.act_prev)
        m.addSeparator()
        self.view_docks_menu = m.addMenu("&Panels")
        m = mb.addMenu("&Model")
        for a in (self.act_run, self.act_run_all, self.act_cancel, self.act_refresh_zoo):
            m.addAction(a)
        m = mb.addMenu("&Tools")
        m.addAction(self.act_bench)
        m.addAction("&Compare Models…", lambda: open_compare(self))
        self.help_menu = m = mb.addMenu("&Help")
        m.addAction(self.act_about)
        self._update_recent_menu()

    def _create_toolbars(self) -> None:
        tb = QToolBar("Main")
        tb.setObjectName("toolbar-main")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (self.act_open_file, self.act_open_folder):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.act_prev, self.act_next):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.act_fit, self.act_one, self.act_invert, self.act_wl, self.act_reset):
            tb.addAction(a)
        presets = QToolButton()
        presets.setText("Window ▾")
        presets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        for a in self.act_presets:
            presets.addAction(a)
        tb.addWidget(presets)
        tb.addAction(self.act_ruler)
        tb.addAction(self.act_angle)
        tb.addAction(self.act_arrow)
        tb.addAction(self.act_text)
        tb.addAction(self.act_ctr)
        tb.addAction(self.act_prior)
        tb.addSeparator()
        for a in (self.act_run, self.act_run_all, self.act_heatmap, self.act_all_positive, self.act_export):
            tb.addAction(a)
        self.addToolBar(tb)
        self.main_toolbar = tb

    def _create_status_bar(self) -> None:
        sb = self.statusBar()
        self.cursor_label = QLabel("")
        self.cursor_label.setStyleSheet("font-family: monospace;")
        self.jobs_label = QLabel("")
        self.jobs_bar = QProgressBar()
        self.jobs_bar.setRange(0, 0)
        self.jobs_bar.setMaximumWidth(120)
        self.jobs_bar.setMaximumHeight(14)
        self.jobs_bar.setVisible(False)
        self.messages_button = QToolButton()
        self.messages_button.setText("No problems")
        self.messages_button.setAutoRaise(True)
        self.messages_button.clicked.connect(lambda: (self.messages_dock.show(), self.messages_dock.raise_()))
        disclaimer = QLabel("Not for clinical use")
        disclaimer.setStyleSheet("color: #ffb000; font-weight: bold; padding: 0 6px;")
        disclaimer.setToolTip(chestview.DISCLAIMER)
        sb.addPermanentWidget(self.cursor_label)
        sb.addPermanentWidget(self.jobs_label)
        sb.addPermanentWidget(self.jobs_bar)
        sb.addPermanentWidget(self.messages_button)
        sb.addPermanentWidget(disclaimer)

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.view_docks_menu.addAction(dock.toggleViewAction())
        return dock

    def _create_docks(self) -> None:
        L, R, B = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        self.browser = StudyBrowser([self.act_open_file, self.act_open_folder], hide_identifiers=self.hide_identifiers)
        self.browser_dock = self._dock("Studies", "dock-studies", self.browser, L)
        self.tags = TagPanel(hide_identifiers=self.hide_identifiers)
        self.info = ImageInfoPanel()
        self.info_dock = self._dock("Image info", "dock-info", self.info, L)
        self.tags_dock = self._dock("DICOM tags", "dock-tags", self.tags, L)
        self.tabifyDockWidget(self.info_dock, self.tags_dock)
        self.info_dock.raise_()
        self.model_panel = ModelPanel()
        self.findings = FindingsPanel()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.model_panel)
        right.addWidget(self.findings)
        right.setStretchFactor(1, 1)
        self.findings_dock = self._dock("Model and findings", "dock-findings", right, R)
        self.messages = QListWidget()
        self.messages_dock = self._dock("Messages", "dock-messages", self.messages, B)
        self.messages_dock.hide()
        self.resizeDocks([self.browser_dock, self.findings_dock], [280, 360], Qt.Orientation.Horizontal)
        # Actions that need the findings panel (created after the actions).
        self.act_heatmap.setChecked(True)
        install_worklist(self)  # the worklist dock (gui/worklist.py)
        # The findings keep the whole right column: on a 1280x800 screen the worklist below the
        # viewer must not squeeze the findings list to a row.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.worklist_dock], [170], Qt.Orientation.Vertical)
        install_reading(self)  # reviews, priors, lasting measurements, keys (gui/reading.py)

    def _connect(self) -> None:
        self.browser.image_selected.connect(self.show_path)
        self.browser.paths_dropped.connect(self.drop_paths)
        self.viewer.cursor_info.connect(self.cursor_label.setText)
        self.viewer.page_requested.connect(self.browser.select_offset)
        self.viewer.measure.changed.connect(self._measurement_changed)
        self.viewer.window_changed.connect(lambda c, w: self.info.set_window((c, w)))
        self.model_panel.model_changed.connect(self._model_changed)
        self.model_panel.run_requested.connect(self.run_current)
        self.model_panel.run_all_requested.connect(self.run_all)
        self.model_panel.cancel_requested.connect(self.cancel_jobs)
        self.findings.finding_selected.connect(lambda _l: self.update_overlay())
        self.findings.display_changed.connect(self.update_overlay)
        self.findings.show_heatmap.toggled.connect(self.act_heatmap.setChecked)
        self.findings.all_positive.toggled.connect(self.act_all_positive.setChecked)
        self.workers.jobs_changed.connect(self._jobs_changed)
        # Return ends typing in the Studies filter: the keyboard goes back to the image, so the
        # single-key tools (R, T, P, I...) work again instead of typing into the filter.
        self.browser.filter_edit.returnPressed.connect(self._filter_done)

    def _filter_done(self) -> None:
        if self.current_path is None or self.current_path not in self.browser.visible_paths():
            first = next(iter(self.browser.visible_paths()), None)
            if first is not None:
                self.browser.select_path(first)
        self.viewer.graphics.setFocus()

    # ============================================================================ measurement tools
    def _set_tool(self, tool: str, on: bool) -> None:
        """One tool at a time: turning one on turns the others off; none = left-drag pans."""
        for name, act in (("ruler", self.act_ruler), ("ctr", self.act_ctr), ("angle", self.act_angle),
                          ("arrow", self.act_arrow), ("text", self.act_text)):
            if name != tool and on and act.isChecked():
                act.blockSignals(True)
                act.setChecked(False)
                act.blockSignals(False)
        self.viewer.set_tool(tool if on else "")
        if on and tool == "ctr":
            self.statusBar().showMessage(self.viewer.measure.ctr_text(), 8000)

    def _measurement_changed(self) -> None:
        m = self.viewer.measure
        text = m.summary()
        if m.cardiac is not None and m.thoracic is None:
            text = (text + "   " if text else "") + m.ctr_text()
        self.act_undo.setEnabled(True)
        if text:
            self.statusBar().showMessage(text, 15000)

    # ============================================================================ settings
    def apply_settings(self) -> None:
        s = self.settings
        self.viewer.view.wheel_pages = s.wheel_pages
        self.findings.colormap.setCurrentText(s.heat_colormap)
        self._apply_box_threshold()
        self.findings.opacity.setValue(round(s.heat_opacity * 100))
        self.predictors.backend = s.backend
        self.predictors.precision = s.precision
        if self.predictors.site != s.site:  # results in memory were made under the other operating points
            self.predictors.site = s.site
            self.results.clear()
            self.model_panel.set_drift("")
        self.predictors.clear()
        self.model_panel.set_device("…")
        if self.zoo_loaded:  # at start-up: once the zoo is listed (see _zoo_ready)
            self.describe_device()

    def describe_device(self) -> None:
        self.model_panel.set_device("…")
        self._start("device", create_worker(jobs.describe_device_job, self.settings.device), pool="io",
                    returned=self.model_panel.set_device)

    def _restore_layout(self) -> None:
        s = self.settings
        if s.geometry:
            self.restoreGeometry(QByteArray.fromBase64(s.geometry.encode()))
        else:
            # 1500x950 where the screen has room; never wider or taller than the screen (a 1280x800
            # laptop shows the whole window, the findings panel included).
            avail = self.screen().availableGeometry() if self.screen() is not None else None
            self.resize(min(1500, avail.width()) if avail else 1280, min(950, avail.height()) if avail else 800)
        if s.window_state:
            self.restoreState(QByteArray.fromBase64(s.window_state.encode()))
        else:  # the first start: dock widths set once the window has its size (see showEvent)
            self._initial_dock_widths = True

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if getattr(self, "_initial_dock_widths", False):
            # Set before the window had its size, Qt shares the width out again on show: the studies
            # column would start at its minimum. Set once here; the panels' contents no longer move it.
            self._initial_dock_widths = False
            self.resizeDocks([self.browser_dock, self.findings_dock], [220, 400], Qt.Orientation.Horizontal)

    def save_layout(self) -> None:
        self.settings.geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.settings.window_state = bytes(self.saveState().toBase64()).decode()
        self.settings.heat_opacity = self.findings.opacity_value
        self.save_settings()

    def save_settings(self) -> None:
        if self.persist:
            self.settings.save()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        # Quit at once: ask every job (inference, run-all, training) to stop and never wait for one;
        # run_app then ends the process. Nothing they write is left half-written: every write is atomic.
        timings.mark("quit requested")
        self.save_layout()
        self.workers.abandon()
        super().closeEvent(event)

    def open_settings(self) -> None:
        ids = [e.card.id for e in self.model_panel.entries]
        # deferred: imports torch; the window opens without it
        from chestview.engine.site.profile import all_site_names

        dlg = SettingsDialog(self.settings, ids, self, zoo_default=self._zoo_default(self.model_panel.entries),
                             site_names=all_site_names(ids))
        if dlg.exec():
            dlg.apply()
            self.save_settings()
            self.apply_settings()
            if self.settings.default_model:
                idx = self.model_panel.combo.findData(self.settings.default_model)
                if idx >= 0:
                    self.model_panel.combo.setCurrentIndex(idx)

    # ============================================================================ about, drag and drop
    def show_about(self) -> None:
        QMessageBox.about(self, "About chestview", about_text())

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        accept_file_drag(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = dropped_paths(event)
        if paths:
            self.drop_paths(paths)


def about_text() -> str:
    import platform

    import pyqtgraph
    import PySide6

    versions = [f"chestview {chestview.__version__}", f"Python {platform.python_version()}",
                f"PySide6 {PySide6.__version__}", f"pyqtgraph {pyqtgraph.__version__}", f"NumPy {np.__version__}"]
    try:
        import torch

        versions.append(f"PyTorch {torch.__version__}")
    except ImportError:  # pragma: no cover
        pass
    return (
        "<h3>chestview</h3><p>Review chest X-rays with deep learning: findings, heatmaps and boxes, "
        "on your own machine.</p>"
        f"<p><b style='color:#c06000'>{chestview.DISCLAIMER}</b></p>"
        "<p>" + "<br>".join(versions) + "</p>"
    )
