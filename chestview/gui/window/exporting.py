"""The main window's exports (the current view, all studies) and tool dialogs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from chestview.engine.results import ImageResult
from chestview.gui import jobs
from chestview.engine.paths import samples_dir
from chestview.gui.workers import Worker, create_worker


class ExportMixin:
    """Part of :class:`chestview.gui.main_window.MainWindow` (expects its widgets and job helpers)."""

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
