"""The main window's exports (the current view, all studies) and tool dialogs."""

from __future__ import annotations

from pathlib import Path

from chestview.engine.paths import samples_dir
from chestview.engine.results import ImageResult
from chestview.gui import jobs
from chestview.gui.bench_dialog import BenchmarkDialog
from chestview.gui.export_dialog import BatchExportDialog, ExportDialog, default_export_dir
from chestview.gui.workers import Worker, create_worker


class ExportMixin:
    """Part of :class:`chestview.gui.main_window.MainWindow` (expects its widgets and job helpers)."""

    def result_for_export(self) -> tuple[ImageResult, list[str]] | None:
        """The current result with the boxes as drawn now (the same re-boxed result the view draws:
        the model's box rule at the slider's level), and the labels drawn."""
        shown = self.shown_result()
        if shown is None:
            return None
        return shown, self.overlay_labels()

    def view_settings(self) -> dict:
        """Every setting that shaped the exported image, for its JSON report."""
        f = self.findings
        device = self.model_panel.device_label.text().removeprefix("Device: ")
        doc = {
            "source": "chestview app",
            "model": self.model_panel.current_id(),
            "device": self.settings.device,
            "backend": device,
            "box_threshold": f.threshold_value,
            "box_threshold_source": "manual" if f.threshold_is_manual else (
                "settings" if self.settings.fixed_box_threshold else "model"),
            "heatmap": f.show_heatmap.isChecked(),
            "heatmap_scale": "level = sigmoid(1.5 * (logit p - logit operating point)); shown map = "
                             "image-relative map * level (engine.explain.display)",
            "colormap": f.colormap_name,
            "opacity": f.opacity_value,
            "drawn": self.overlay_labels(),
            "all_positive": f.all_positive.isChecked(),
            "negative_boxes": f.negative_boxes.isChecked(),
            "window": list(self.current_image.stored_window(self.viewer.window)) if self.current_image else None,
            "inverted": self.viewer.inverted,
        }
        doc.update(self.viewer.measure.to_json())
        return doc

    # ============================================================================ export, tools
    def export_current(self) -> None:
        if self.current_image is None:
            self.statusBar().showMessage("Nothing to export: open an image first", 4000)
            return
        packed = self.result_for_export()
        if packed is None:
            self.statusBar().showMessage("Nothing to export yet: run a model on this image first", 4000)
            return
        # deferred: imports torch; the window opens without it
        from chestview.engine.dicom_export import is_dicom_file

        dlg = ExportDialog(self, self.current_image.path, self._last_export_dir(),
                           dicom_source=is_dicom_file(self.current_image.path))
        if dlg.exec():
            if dlg.is_dicom():
                self.start_dicom_export(dlg.output_path(), secondary_capture=dlg.secondary_capture())
            else:
                self.start_export(dlg.output_path(), with_json=dlg.with_json())

    def start_dicom_export(self, out_dir: str, *, secondary_capture: bool = False) -> Worker | None:
        """The current result as DICOM objects (SR, presentation state with this window, optional SC) in ``out_dir``."""
        packed = self.result_for_export()
        card = self.model_panel.card()
        if packed is None or card is None or self.current_image is None:
            return None
        result, labels = packed
        w = create_worker(jobs.export_dicom_job, out_dir, self.current_image, result, card, labels=labels,
                          window=self.viewer.window, secondary_capture=secondary_capture,
                          measurements=tuple(self.viewer.measure.annotations), name="export")
        w.returned.connect(lambda r: (self.statusBar().showMessage(str(r), 6000),
                                      self._remember_export_dir(Path(out_dir))))
        return self._start("export", w, pool="compute")

    def _last_export_dir(self) -> str:
        """The last export folder, else the documents folder; never one holding the open studies."""
        sources = [*self.browser.roots, *([self.current_path] if self.current_path else [])]
        return default_export_dir(self.settings.last_export_dir, sources)

    def _remember_export_dir(self, folder: Path) -> None:
        self.settings.last_export_dir = str(folder)
        self.save_settings()

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
            protect=self.browser.paths(), settings=self.view_settings(),
            measurements=self.viewer.measure.lines(), name="export",
        )
        w.returned.connect(lambda p: (self.statusBar().showMessage(f"Saved {p}", 6000),
                                      self._remember_export_dir(Path(p).parent)))
        return self._start("export", w, pool="compute")

    def export_batch(self) -> None:
        model_id = self.model_panel.current_id()
        if not model_id or not self.browser.paths():
            self.statusBar().showMessage("Batch export needs a model and at least one study", 4000)
            return
        dlg = BatchExportDialog(self, self._last_export_dir(), self.browser.roots)
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
            box_threshold=self.findings.threshold_value, include_paths=include_paths,
            settings={k: v for k, v in self.view_settings().items()
                      if k not in ("drawn", "all_positive", "negative_boxes", "window", "inverted", "ruler",
                                   "cardiothoracic_ratio")},
            name="batch export",
        )
        w.yielded.connect(self._export_progress)
        w.returned.connect(lambda p: (self.statusBar().showMessage(f"Exported; report {p}", 8000),
                                      self._remember_export_dir(Path(p).parent.parent)))
        w.aborted.connect(lambda: self.statusBar().showMessage("Batch export cancelled", 6000))
        return self._start("batch", w, pool="compute")

    def _export_progress(self, ev: jobs.ExportProgress) -> None:
        self.model_panel.set_progress(ev.done, ev.total, f"Export {ev.done}/{ev.total}")
        if ev.error:
            self.notify_error("export", ev.error)

    def open_benchmark(self) -> None:
        dlg = BenchmarkDialog(self.workers, [e.card.id for e in self.model_panel.entries],
                              self.browser.paths() or [str(samples_dir())], self.settings.device, self,
                              model=self.model_panel.current_id(), backend=self.settings.backend)
        dlg.show()
        self._bench_dialog = dlg
