"""The main window's analysis: the model zoo, inference on one image or all, the findings and overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chestview.engine.results import ImageResult
from chestview.engine.zoo.card import DEFAULT_BOX_THRESHOLD
from chestview.gui import jobs
from chestview.gui.findings import default_label
from chestview.gui.viewer import box_colour
from chestview.gui.workers import create_worker


class AnalysisMixin:
    """Part of :class:`chestview.gui.main_window.MainWindow` (expects its widgets and job helpers)."""

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
        if r is None or r.error:
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
