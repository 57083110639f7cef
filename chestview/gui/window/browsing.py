"""The main window's opening and browsing: file dialogs, recent folders, the catalogue, the current image."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from chestview.engine.io import load_image
from chestview.engine.paths import samples_dir
from chestview.engine.priors import prior_label
from chestview.gui import timings
from chestview.gui.browser import scan_job, thumbnails_job
from chestview.gui.state import Catalog, find_prior
from chestview.gui.tags import tags_job
from chestview.gui.workers import Worker, create_worker


class BrowsingMixin:
    """Part of :class:`chestview.gui.main_window.MainWindow` (expects its widgets and job helpers)."""

    def open_file_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open images", self._last_dir(), "Images (*.dcm *.dicom *.png *.jpg *.jpeg *);;All files (*)"
        )
        if files:  # added to the studies open now, as files dropped on the window are
            self.open_paths(files, add=bool(self.browser.paths()))

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

    def open_paths(self, paths: list[str], *, select: str | None = None, add: bool = False) -> Worker:
        """List the studies under ``paths`` (in a worker) and show the first image. ``add``: join them to
        the studies open now (files dropped on the window) instead of replacing them."""
        paths = [os.path.abspath(p) for p in paths]
        for p in paths:
            folder = Path(p) if Path(p).is_dir() else Path(p).parent
            if folder.is_dir() and Path(p).resolve() != samples_dir().resolve():
                self.settings.add_recent(folder)
        self.save_settings()
        self._update_recent_menu()
        self._pending_select = select
        old_roots = self.browser.roots if add else []
        self.browser.roots = [*old_roots, *(p for p in paths if p not in old_roots)]
        self.statusBar().showMessage(f"Listing {', '.join(Path(p).name for p in paths)}…")
        return self._start("scan", create_worker(scan_job, paths, progress=True, name="open"),
                           returned=lambda c: self._catalog_ready(c, add=add), yielded=self._scan_progress)

    def drop_paths(self, paths: list[str]) -> Worker:
        """Files and folders dropped on the window: added to the studies open now (a photograph dropped
        on a folder of films joins its worklist), or opened when none are."""
        return self.open_paths(paths, add=bool(self.browser.paths()))

    def _scan_progress(self, ev) -> None:
        self.statusBar().showMessage(f"Listing… {ev.files_done} files")

    def _catalog_ready(self, catalog: Catalog, add: bool = False) -> None:
        opened = catalog.paths()
        if add:
            before = len(self.browser.paths())
            need_thumbnails = self.browser.add_catalog(catalog)
            total = len(self.browser.paths())
            note = f"{total - before} image{'s' if total - before != 1 else ''} added, {total} in all"
        else:
            self.browser.set_catalog(catalog)
            need_thumbnails = opened
            n = len(opened)
            note = f"{n} image{'s' if n != 1 else ''}"
        self._refresh_browser_flags(self.model_panel.current_id())  # results cached from before
        e = len(catalog.errors)
        self.statusBar().showMessage(note + (f", {e} could not be opened" if e else ""), 5000)
        for path, reason in catalog.errors[:50]:
            self.notify_error("open", f"{Path(path).name}: {reason}")
        if need_thumbnails:
            # Added images get their own job: the folder's thumbnails may still be coming.
            worker = create_worker(thumbnails_job, need_thumbnails, name="thumbnails")
            self._start("thumbs-added" if add else "thumbs", worker, yielded=lambda pa: self.browser.set_thumbnail(*pa))
        if opened:
            target = self._pending_select if self._pending_select in opened else opened[0]
            self.browser.select_path(target)
        self._pending_select = None
        self.catalog_loaded.emit(len(self.browser.paths()))

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
            # Never leave the previous film (and its findings) on screen under another film's name.
            self.current_image = None
            self.viewer.show_message(f"Loading {Path(path).name}…")
            self.info.set_image(None, None)
            self.findings.show_message(f"Loading {Path(path).name}…")
            self.statusBar().showMessage(f"Loading {Path(path).name}…")
            worker = create_worker(_load_job, path, name="load image")
            worker.errored.connect(lambda exc, p=path: self._image_failed(p, exc))
            self._start("load", worker, returned=self._image_loaded)
        self._start("tags", create_worker(tags_job, path, name="DICOM tags"), returned=self._tags_ready)

    def _image_failed(self, path: str, exc: object) -> None:
        """The film could not be opened: the viewer and the findings say why, in place."""
        if path != self.current_path:
            return
        self.current_image = None
        self.current_result = None
        reason = str(exc) or type(exc).__name__
        self.viewer.show_message(f"Could not open {Path(path).name}\n\n{reason}")
        self.info.set_image(None, None)
        self.findings.show_message(f"No findings: {Path(path).name} could not be opened.")

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
        timings.mark("first image shown")
        self.act_invert.blockSignals(True)
        self.act_invert.setChecked(False)
        self.act_invert.blockSignals(False)
        self.info.set_image(image, self.viewer.window)
        self.browser.add_warnings(image.path, image.warnings)
        self._update_prior()
        self._apply_box_threshold()  # a manual box threshold belongs to the image it was set on
        self.statusBar().showMessage(f"{Path(image.path).name}: {image.width}×{image.height}", 4000)
        for w in image.warnings:
            self.notify_error("image", f"{Path(image.path).name}: {w}")
        self.image_shown.emit(image.path)
        self._refresh_findings()

    def _reset_view(self) -> None:
        self.viewer.reset()
        self.act_invert.setChecked(False)


    # ============================================================================ prior comparison
    def _toggle_prior(self, on: bool) -> None:
        self.prior_viewer.setVisible(on)
        if not on:
            self.prior_path = None
        self._update_prior()

    def _update_prior(self) -> None:
        """Load the current image's prior (same PatientID, earlier study) into the left viewer."""
        if not self.act_prior.isChecked() or not self.current_path:
            return
        prior = find_prior(self.browser.catalog.images, self.current_path)
        if prior is None:
            self.prior_path = None
            self.prior_viewer.set_image(None)
            self.prior_viewer.placeholder.setWordWrap(True)
            self.prior_viewer.placeholder.setText(
                "No earlier study of this patient among the open studies.\n\nPriors are matched by DICOM "
                "PatientID and study date, and for PNG files by NIH names (PATIENT_FOLLOWUP.png).")
            return
        if getattr(self, "prior_path", None) == prior.path and self.prior_viewer.image is not None:
            return
        self.prior_path = prior.path

        self.prior_viewer.banner.setText(f"PRIOR {prior_label(prior)} · NOT FOR CLINICAL USE")
        cached = self.images.get(prior.path)
        if cached is not None:
            self.prior_viewer.set_image(cached)
            self._prior_shown()
        else:
            self._start("prior", create_worker(_load_job, prior.path, name="load prior"),
                        returned=self._prior_loaded)

    def _prior_loaded(self, image) -> None:
        self.images.put(image.path, image)
        if image.path == getattr(self, "prior_path", None):
            self.prior_viewer.set_image(image)
            self._prior_shown()

    def _prior_shown(self) -> None:
        reading = getattr(self, "reading", None)  # linked viewing (gui/reading.py)
        if reading is not None:
            reading.prior_shown()


def _load_job(path: str):
    return load_image(path)
