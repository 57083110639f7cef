"""The main window. It builds itself in named steps (actions, menus, tool bars, status bar, docks)
and connects the panels; every long job runs in a worker (see :mod:`chestview.gui.workers`)."""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

import chestview
from chestview.engine.paths import samples_dir
from chestview.engine.results import ImageResult
from chestview.engine.zoo.card import DEFAULT_BOX_THRESHOLD
from chestview.gui import jobs
from chestview.gui.browser import StudyBrowser, accept_file_drag, dropped_paths, scan_job, thumbnails_job
from chestview.gui.compare_view import open_compare
from chestview.gui.findings import FindingsPanel, default_label
from chestview.gui.model_panel import ModelPanel
from chestview.gui.settings import AppSettings, SettingsDialog
from chestview.gui.state import Catalog, LRUCache, ResultCache
from chestview.gui.tags import ImageInfoPanel, TagPanel, tags_job
from chestview.gui.viewer import PRESETS, ImageViewer, box_colour
from chestview.gui.workers import Worker, WorkerManager, create_worker
from chestview.gui.worklist import install_worklist

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    image_shown = Signal(str)  # path of the image now in the viewer
    result_shown = Signal(str)  # path whose findings are now in the table
    catalog_loaded = Signal(int)  # number of images

    def __init__(self, settings: AppSettings | None = None, *, persist: bool = True, model: str | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else AppSettings.load()
        self.persist = persist  # False: never write the settings file (screenshot mode)
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
        self.zoo_loaded = False
        self._running: dict[str, Worker] = {}  # job kind -> worker (scan, thumbs, load, tags, infer, batch)
        self._pending_select: str | None = None  # path to select once the catalogue is listed

        self._create_central()
        self._create_actions()
        self._create_menus()
        self._create_toolbars()
        self._create_status_bar()
        self._create_docks()
        self._connect()
        self._restore_layout()
        self.apply_settings()
        self.refresh_zoo(select=model or "")

    # ============================================================================ build steps
    def _create_central(self) -> None:
        self.viewer = ImageViewer()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.viewer, "Viewer")
        self.training_tab = None
        try:
            from chestview.gui.training_tab import TrainingTab

            self.training_tab = TrainingTab(self.workers)
            self.tabs.addTab(self.training_tab, "Training && evaluation")
        except ImportError as exc:  # pragma: no cover - the training engine may be missing
            log.warning("training tab unavailable: %s", exc)
        self.setCentralWidget(self.tabs)

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
        m = mb.addMenu("&Help")
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
        self.browser = StudyBrowser([self.act_open_file, self.act_open_folder])
        self.browser_dock = self._dock("Studies", "dock-studies", self.browser, L)
        self.tags = TagPanel()
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

    def _connect(self) -> None:
        self.browser.image_selected.connect(self.show_path)
        self.browser.paths_dropped.connect(self.open_paths)
        self.viewer.cursor_info.connect(self.cursor_label.setText)
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
        if self.training_tab is not None:
            self.training_tab.model_trained.connect(self._model_trained)

    # ============================================================================ settings
    def apply_settings(self) -> None:
        s = self.settings
        self.findings.colormap.setCurrentText(s.colormap)
        self._apply_box_threshold()
        self.findings.opacity.setValue(round(s.opacity * 100))
        self.predictors.clear()
        self.model_panel.set_device("…")
        self._start("device", create_worker(jobs.describe_device_job, s.device), pool="io",
                    returned=self.model_panel.set_device)

    def _restore_layout(self) -> None:
        s = self.settings
        if s.geometry:
            self.restoreGeometry(QByteArray.fromBase64(s.geometry.encode()))
        else:
            self.resize(1500, 950)
        if s.window_state:
            self.restoreState(QByteArray.fromBase64(s.window_state.encode()))

    def save_layout(self) -> None:
        self.settings.geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.settings.window_state = bytes(self.saveState().toBase64()).decode()
        self.settings.opacity = self.findings.opacity_value
        self.save_settings()

    def save_settings(self) -> None:
        if self.persist:
            self.settings.save()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_layout()
        self.workers.wait(3000)
        super().closeEvent(event)

    def open_settings(self) -> None:
        ids = [e.card.id for e in self.model_panel.entries]
        dlg = SettingsDialog(self.settings, ids, self)
        if dlg.exec():
            dlg.apply()
            self.save_settings()
            self.apply_settings()
            if self.settings.default_model:
                idx = self.model_panel.combo.findData(self.settings.default_model)
                if idx >= 0:
                    self.model_panel.combo.setCurrentIndex(idx)

    # ============================================================================ jobs
    def _start(self, kind: str, worker: Worker, *, pool: str = "io", returned=None, yielded=None,
               finished=None, cancel_previous: bool = True) -> Worker:
        """Start a job of ``kind``; a previous job of the same kind is asked to stop."""
        old = self._running.get(kind)
        if cancel_previous and old is not None and not old.is_done:
            old.quit()
        self._running[kind] = worker
        # Results of a superseded job (another job of the same kind started since) are dropped.
        if returned is not None:
            worker.returned.connect(lambda r, k=kind, w=worker: self._running.get(k) is w and returned(r))
        if yielded is not None:
            worker.yielded.connect(lambda v, k=kind, w=worker: self._running.get(k) is w and yielded(v))
        worker.finished.connect(lambda k=kind, w=worker: self._job_done(k, w))
        if finished is not None:
            worker.finished.connect(finished)
        return self.workers.start(worker, pool=pool)

    def _job_done(self, kind: str, worker: Worker) -> None:
        if self._running.get(kind) is worker:
            del self._running[kind]
        if kind in ("infer", "batch", "export"):
            self.model_panel.set_busy(self._compute_busy())

    def job(self, kind: str) -> Worker | None:
        return self._running.get(kind)

    def busy(self) -> bool:
        return bool(self.workers.running)

    def _jobs_changed(self, n: int) -> None:
        self.jobs_bar.setVisible(n > 0)
        self.jobs_label.setText(f"{n} job{'s' if n != 1 else ''}" if n else "")

    def cancel_jobs(self) -> None:
        for kind in ("scan", "thumbs", "infer", "batch", "export"):
            w = self._running.get(kind)
            if w is not None:
                w.quit()
        self.statusBar().showMessage("Cancelling…", 3000)

    def notify_error(self, job: str, exc: object) -> None:
        """One place for every error: the Messages panel and the status bar (never a modal storm)."""
        text = str(exc) or type(exc).__name__
        stamp = _dt.datetime.now().strftime("%H:%M:%S")
        item = QListWidgetItem(f"{stamp}  {job}: {text}")
        tb = getattr(exc, "__chestview_traceback__", "")
        item.setToolTip(tb or text)
        self.messages.addItem(item)
        self.messages.scrollToBottom()
        n = self.messages.count()
        self.messages_button.setText(f"⚠ {n} problem{'s' if n != 1 else ''}")
        self.messages_button.setStyleSheet("color: #ff8080;")
        self.statusBar().showMessage(f"{job}: {text}", 8000)

    # ============================================================================ opening
    def open_file_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open images", self._last_dir(), "Images (*.dcm *.dicom *.png *.jpg *.jpeg *);;All files (*)"
        )
        if files:
            self.open_paths(files)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", self._last_dir())
        if folder:
            self.open_paths([folder])

    def _last_dir(self) -> str:
        return self.settings.recent_folders[0] if self.settings.recent_folders else str(Path.home())

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_folders:
            a = self.recent_menu.addAction(folder)
            a.triggered.connect(lambda _=False, f=folder: self.open_paths([f]))
        self.recent_menu.setEnabled(bool(self.settings.recent_folders))

    def open_paths(self, paths: list[str], *, select: str | None = None) -> Worker:
        """List the studies under ``paths`` (in a worker) and show the first image."""
        paths = [os.path.abspath(p) for p in paths]
        for p in paths:
            folder = Path(p) if Path(p).is_dir() else Path(p).parent
            if folder.is_dir() and Path(p).resolve() != samples_dir().resolve():
                self.settings.add_recent(folder)
        self.save_settings()
        self._update_recent_menu()
        self._pending_select = select
        self.statusBar().showMessage(f"Listing {', '.join(Path(p).name for p in paths)}…")
        return self._start("scan", create_worker(scan_job, paths, progress=True, name="open"),
                           returned=self._catalog_ready, yielded=self._scan_progress)

    def _scan_progress(self, ev) -> None:
        self.statusBar().showMessage(f"Listing… {ev.files_done} files")

    def _catalog_ready(self, catalog: Catalog) -> None:
        self.browser.set_catalog(catalog)
        n, e = len(catalog.images), len(catalog.errors)
        self.statusBar().showMessage(f"{n} image{'s' if n != 1 else ''}" + (f", {e} could not be opened" if e else ""), 5000)
        for path, reason in catalog.errors[:50]:
            self.notify_error("open", f"{Path(path).name}: {reason}")
        paths = catalog.paths()
        if paths:
            self._start("thumbs", create_worker(thumbnails_job, paths, name="thumbnails"),
                        yielded=lambda pa: self.browser.set_thumbnail(*pa))
            target = self._pending_select if self._pending_select in paths else paths[0]
            self.browser.select_path(target)
        self._pending_select = None
        self.catalog_loaded.emit(n)

    # ============================================================================ current image
    def show_path(self, path: str) -> None:
        if path == self.current_path and self.current_image is not None:
            return
        self.current_path = path
        self.current_result = None
        image = self.images.get(path)
        if image is not None:
            self._display_image(image)
        else:
            self.statusBar().showMessage(f"Loading {Path(path).name}…")
            self._start("load", create_worker(_load_job, path, name="load image"), returned=self._image_loaded)
        self._start("tags", create_worker(tags_job, path, name="DICOM tags"), returned=self._tags_ready)

    def _image_loaded(self, image) -> None:
        self.images.put(image.path, image)
        if image.path == self.current_path:
            self._display_image(image)

    def _tags_ready(self, pt) -> None:
        path, tags = pt
        if path == self.current_path:
            self.tags.set_tags(tags)

    def _display_image(self, image) -> None:
        self.current_image = image
        self.viewer.set_image(image)
        self.act_invert.blockSignals(True)
        self.act_invert.setChecked(False)
        self.act_invert.blockSignals(False)
        self.info.set_image(image, self.viewer.window)
        self.statusBar().showMessage(f"{Path(image.path).name}: {image.width}×{image.height}", 4000)
        for w in image.warnings:
            self.notify_error("image", f"{Path(image.path).name}: {w}")
        self.image_shown.emit(image.path)
        self._refresh_findings()

    def _reset_view(self) -> None:
        self.viewer.reset()
        self.act_invert.setChecked(False)

    # ============================================================================ models
    def refresh_zoo(self, select: str = "") -> None:
        self._start("zoo", create_worker(jobs.list_zoo_job, name="model zoo"),
                    returned=lambda r, s=select: self._zoo_ready(r, s))

    def _zoo_ready(self, entries_problems, select: str = "") -> None:
        entries, problems = entries_problems
        for p in problems:
            self.notify_error("model zoo", p)
        ids = [e.card.id for e in entries]
        if select and select not in ids:
            self.notify_error("model zoo", f"{select}: no such model (known: {', '.join(ids) or 'none installed'})")
            select = ""
        if not select:
            select = self.settings.default_model if self.settings.default_model in ids else self._zoo_default(entries)
        self.zoo_loaded = True
        self.model_panel.set_entries(entries, select=select)
        if self.training_tab is not None:
            self.training_tab.set_models([e.card.id for e in entries])

    @staticmethod
    def _zoo_default(entries) -> str:
        try:
            from chestview.engine.zoo import default_model_id

            return default_model_id() or ""
        except Exception:  # noqa: BLE001
            return entries[0].card.id if entries else ""

    def _model_trained(self, model_id: str) -> None:
        self.statusBar().showMessage(f"New model in the zoo: {model_id}", 8000)
        self.refresh_zoo(select=model_id)

    def _model_changed(self, _model_id: str) -> None:
        self._apply_box_threshold()
        self._refresh_findings()

    def _apply_box_threshold(self) -> None:
        """The box slider starts at the user's fixed threshold, else at the model's own (its card's)."""
        card = self.model_panel.card() if self.zoo_loaded else None
        value = self.settings.fixed_box_threshold or (card.box_threshold if card is not None else DEFAULT_BOX_THRESHOLD)
        self.findings.threshold.setValue(int(value))

    def _refresh_findings(self) -> None:
        """Show the cached result of (image, model), run the model (auto-run), or say why not."""
        model_id = self.model_panel.current_id()
        if self.current_image is None:
            return
        if not model_id:
            self.current_result = None
            self.viewer.clear_overlays()
            self.findings.show_message(
                "No model installed.\n\nThe model zoo is empty: train a model in the "
                "Training & evaluation tab (or with `chestview train`), or import one."
                if self.zoo_loaded else "Loading the model zoo…"
            )
            return
        cached = self.results.result(self.current_image.path, model_id)
        if cached is not None:
            self._show_result(cached)
        elif self.model_panel.auto_run.isChecked():
            self.run_current()
        else:
            self.current_result = None
            self.viewer.clear_overlays()
            self.findings.show_message("Press Run (Ctrl+R) to analyse this image.")

    def run_current(self) -> None:
        model_id = self.model_panel.current_id()
        if self.current_image is None or not model_id:
            return
        image = self.current_image
        cached = self.results.result(image.path, model_id)
        if cached is not None:
            self._show_result(cached)
            return
        running = self._running.get("infer")
        if running is not None and getattr(running, "key", None) == (image.path, model_id):
            return
        self.current_result = None  # the shown result is another model's: never draw or export it now
        self.viewer.clear_overlays()
        self.findings.show_message(f"Running {model_id}…")
        self.model_panel.set_busy(True, f"Running {model_id} on {Path(image.path).name}")
        w = create_worker(jobs.predict_image_job, self.predictors, model_id, self.settings.device, image,
                          self.findings.threshold_value, name="inference")
        w.key = (image.path, model_id)  # type: ignore[attr-defined]
        w.returned.connect(lambda r, m=model_id: self._result_ready(r, m))
        w.errored.connect(lambda exc: self.findings.show_message(f"Inference failed:\n{exc}"))
        self._start("infer", w, pool="compute")

    def _compute_busy(self) -> bool:
        return any(k in self._running for k in ("infer", "batch", "export"))

    def run_all(self) -> None:
        model_id = self.model_panel.current_id()
        paths = self.browser.paths()
        if not model_id or not paths:
            return
        self.model_panel.set_progress(0, len(paths), f"Running {model_id} on {len(paths)} images")
        self.model_panel.cancel_button.setEnabled(True)
        w = create_worker(jobs.predict_paths_job, self.predictors, model_id, self.settings.device, paths,
                          self.results, self.findings.threshold_value, name="inference (all)")
        w.yielded.connect(lambda ev, m=model_id: self._batch_progress(ev, m))
        w.finished.connect(lambda: self.statusBar().showMessage("Inference on all images finished", 4000))
        self._start("batch", w, pool="compute")

    def _batch_progress(self, ev: jobs.InferenceProgress, model_id: str) -> None:
        self.model_panel.set_progress(ev.done, ev.total, f"{ev.done}/{ev.total}  {Path(ev.path).name}")
        if ev.result.error:
            self.notify_error("inference", ev.result.error)
            return
        self.results.store(ev.path, model_id, ev.result)
        if ev.path == self.current_path and self.current_result is None:
            self._show_result(ev.result)

    def _result_ready(self, result: ImageResult, model_id: str) -> None:
        self.results.store(result.path, model_id, result)
        if result.path == self.current_path and model_id == self.model_panel.current_id():
            self._show_result(result)

    def _show_result(self, result: ImageResult) -> None:
        self.current_result = result
        # Keep the selected finding across images; else the most probable positive one.
        keep = self.findings.selected_label()
        self.findings.set_result(result, select=keep if result.finding(keep) else default_label(result.findings))
        self.update_overlay()
        self.result_shown.emit(result.path)

    # ============================================================================ overlays
    def _toggle_heat(self, on: bool) -> None:
        if self.findings.show_heatmap.isChecked() != on:
            self.findings.show_heatmap.setChecked(on)

    def _toggle_all_positive(self, on: bool) -> None:
        if self.findings.all_positive.isChecked() != on:
            self.findings.all_positive.setChecked(on)

    def overlay_labels(self) -> list[str]:
        """The findings drawn now: every positive one ("all positive" mode) or the selected one."""
        r = self.current_result
        if r is None or r.error or self.findings.findings_hidden():
            return []
        if self.findings.all_positive.isChecked():
            return [f.label for f in r.findings if f.positive]
        label = self.findings.selected_label()
        return [label] if label and label in r.heatmaps else []

    def live_boxes(self, label: str) -> list:
        """Boxes of ``label`` regenerated from the cached low-resolution map at the slider's threshold."""
        from chestview.engine.explain.boxes import heatmap_to_boxes

        r, image = self.current_result, self.current_image
        if r is None or image is None or label not in r.heatmaps:
            return []
        return heatmap_to_boxes(r.heatmaps[label], image.size, threshold=self.findings.threshold_value)

    def update_overlay(self) -> None:
        r, image = self.current_result, self.current_image
        if r is None or image is None or r.path != image.path:
            self.viewer.clear_overlays()
            self.findings.box_count.setText("")
            return
        labels = self.overlay_labels()
        heats = [r.heatmaps[lbl] for lbl in labels if lbl in r.heatmaps]
        if heats and self.findings.show_heatmap.isChecked():
            self.viewer.set_heatmap(np.maximum.reduce(heats), colormap=self.findings.colormap_name,
                                    opacity=self.findings.opacity_value)
        else:
            self.viewer.set_heatmap(None)
        drawn = []
        for i, label in enumerate(labels):
            f = r.finding(label)
            for box in self.live_boxes(label):
                drawn.append((label, box, f"{label.replace('_', ' ')} {f.probability:.2f}", box_colour(i)))
        self.viewer.set_boxes(drawn)
        self.findings.box_count.setText(
            f"{len(drawn)} box{'es' if len(drawn) != 1 else ''} at threshold {self.findings.threshold_value}"
            if labels else "Select a finding to see its heatmap and boxes"
        )

    def result_for_export(self) -> tuple[ImageResult, list[str]] | None:
        """The current result with the boxes as drawn now (live threshold), and the labels drawn."""
        r = self.current_result
        if r is None or r.error:
            return None
        labels = self.overlay_labels()
        findings = [replace(f, boxes=tuple(self.live_boxes(f.label))) if f.label in labels else f for f in r.findings]
        return replace(r, findings=findings), labels

    # ============================================================================ export, tools
    def export_current(self) -> None:
        from chestview.gui.export_dialog import ExportDialog

        if self.current_image is None:
            self.statusBar().showMessage("Nothing to export: open an image first", 4000)
            return
        packed = self.result_for_export()
        if packed is None:
            self.statusBar().showMessage("Nothing to export yet: run a model on this image first", 4000)
            return
        dlg = ExportDialog(self, self.current_image.path, self._last_export_dir())
        if dlg.exec():
            self.start_export(dlg.output_path(), with_json=dlg.with_json())

    def _last_export_dir(self) -> str:
        return str(Path(self.current_path).parent) if self.current_path else str(Path.home())

    def start_export(self, out_path: str, *, with_json: bool = True) -> Worker | None:
        packed = self.result_for_export()
        card = self.model_panel.card()
        if packed is None or card is None or self.current_image is None:
            return None
        result, labels = packed
        w = create_worker(
            jobs.export_one_job, out_path, self.current_image, result, card, labels=labels,
            opacity=self.findings.opacity_value if self.findings.show_heatmap.isChecked() else 0.0,
            colormap=self.findings.colormap_name, window=self.viewer.window, with_json=with_json,
            protect=self.browser.paths(), name="export",
        )
        w.returned.connect(lambda p: self.statusBar().showMessage(f"Saved {p}", 6000))
        return self._start("export", w, pool="compute")

    def export_batch(self) -> None:
        from chestview.gui.export_dialog import BatchExportDialog

        model_id = self.model_panel.current_id()
        if not model_id or not self.browser.paths():
            self.statusBar().showMessage("Batch export needs a model and at least one study", 4000)
            return
        dlg = BatchExportDialog(self, self._last_export_dir())
        if dlg.exec():
            self.start_batch_export(dlg.output_dir(), fmt=dlg.fmt(), include_paths=dlg.include_identifiers())

    def start_batch_export(self, out_dir: str, *, fmt: str = "png", include_paths: bool = False) -> Worker:
        model_id = self.model_panel.current_id()
        paths = self.browser.paths()
        self.model_panel.set_progress(0, len(paths), "Exporting…")
        self.model_panel.cancel_button.setEnabled(True)
        w = create_worker(
            jobs.export_batch_job, self.predictors, model_id, self.settings.device, paths, self.results, out_dir,
            fmt=fmt, opacity=self.findings.opacity_value, colormap=self.findings.colormap_name,
            box_threshold=self.findings.threshold_value, include_paths=include_paths, name="batch export",
        )
        w.yielded.connect(self._export_progress)
        w.returned.connect(lambda p: self.statusBar().showMessage(f"Exported; report {p}", 8000))
        return self._start("batch", w, pool="compute")

    def _export_progress(self, ev: jobs.ExportProgress) -> None:
        self.model_panel.set_progress(ev.done, ev.total, f"Export {ev.done}/{ev.total}")
        if ev.error:
            self.notify_error("export", ev.error)

    def open_benchmark(self) -> None:
        from chestview.gui.bench_dialog import BenchmarkDialog

        dlg = BenchmarkDialog(self.workers, [e.card.id for e in self.model_panel.entries],
                              self.browser.paths() or [str(samples_dir())], self.settings.device, self,
                              model=self.model_panel.current_id())
        dlg.show()
        self._bench_dialog = dlg

    def show_about(self) -> None:
        QMessageBox.about(self, "About chestview", about_text())

    # ============================================================================ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        accept_file_drag(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = dropped_paths(event)
        if paths:
            self.open_paths(paths)


def _load_job(path: str):
    from chestview.engine.io import load_image

    return load_image(path)


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
