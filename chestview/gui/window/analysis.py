"""The main window's analysis: the model zoo, inference on one image or all, the findings and overlays."""

from __future__ import annotations

from pathlib import Path

from shiboken6 import isValid

from chestview.engine.case_call import case_call
from chestview.engine.explain.display import combined_heatmap
from chestview.engine.results import ImageResult
from chestview.gui import jobs, timings
from chestview.gui.findings import default_label
from chestview.gui.viewer import NEGATIVE_COLOUR, DrawnBox, box_colour
from chestview.gui.workers import create_worker


class AnalysisMixin:
    """Part of :class:`chestview.gui.main_window.MainWindow` (expects its widgets and job helpers)."""

    def refresh_zoo(self, select: str = "") -> None:
        self._start("zoo", create_worker(jobs.list_zoo_job, name="model zoo"),
                    returned=lambda r, s=select: self._zoo_ready(r, s))

    def _zoo_ready(self, entries_problems, select: str = "") -> None:
        entries, problems = entries_problems
        timings.mark("model zoo listed")
        for p in problems:
            self.notify_error("model zoo", p)
        ids = [e.card.id for e in entries]
        if select and select not in ids:
            self.notify_error("model zoo", f"{select}: no such model (known: {', '.join(ids) or 'none installed'})")
            select = ""
        if not select:
            select = self.settings.default_model if self.settings.default_model in ids else self._zoo_default(entries)
        first = not self.zoo_loaded
        self.zoo_loaded = True
        self.model_panel.set_entries(entries, select=select)
        if self.training_tab is not None:
            self.training_tab.set_models([e.card.id for e in entries])
        if first:
            self.describe_device()  # waited for the zoo: both import torch, and the first image must not wait
            self._preload_model()

    def _preload_model(self) -> None:
        """Load the selected model while the first image is still being read: its findings come sooner."""
        model_id = self.model_panel.current_id()
        if not model_id or not self.model_panel.auto_run.isChecked() or self._compute_busy():
            return
        self._start("preload", create_worker(jobs.preload_job, self.predictors, model_id, self.settings.device,
                                             self.findings.threshold_value, name="load model"), pool="compute",
                    returned=lambda _m: self.report_backend_notes())

    def report_backend_notes(self) -> None:
        """What the backends said while loading (e.g. a precision the model refuses, run at f32 instead):
        the Messages panel, not only stderr."""
        for note in self.predictors.take_notes():
            self.notify_error("model", note)

    @staticmethod
    def _zoo_default(entries) -> str:
        try:
            # deferred: imports torch; the window opens without it
            from chestview.engine.zoo import default_model_id

            return default_model_id() or ""
        except Exception:  # noqa: BLE001
            return entries[0].card.id if entries else ""

    def _model_trained(self, model_id: str) -> None:
        # The reader keeps the model they were reading with: the new one joins the picker only.
        self.statusBar().showMessage(f"New model in the zoo: {model_id} (choose it in the model picker)", 8000)
        self.refresh_zoo(select=self.model_panel.current_id())

    def _model_changed(self, model_id: str) -> None:
        self.model_panel.set_drift("")  # the warning was another model's
        self._apply_box_threshold()
        self._refresh_browser_flags(model_id)
        self._refresh_findings()

    def _refresh_browser_flags(self, model_id: str) -> None:
        """The browser's flags and scores are the current model's (those it has results for)."""
        for path in self.browser.paths():
            self.browser.set_result(path, self.results.result(path, model_id) if model_id else None)

    def _apply_box_threshold(self) -> None:
        """The box slider starts at the user's fixed threshold, else at the model's own (its card's),
        for every model and image: a manual change on one image does not carry over to the next."""
        card = self.model_panel.card() if self.zoo_loaded else None
        # No card yet (the zoo is still being listed): keep the slider's value. Nothing here may import
        # the zoo module at start-up: it loads PyTorch, which would hold the window back.
        own = card.box_threshold if card is not None else self.findings.model_threshold
        value = self.settings.fixed_box_threshold or own
        self.findings.set_model_threshold(int(value))

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
        w.returned.connect(lambda r, m=model_id: isValid(self) and self._result_ready(r, m))
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
        self.model_panel.set_drift("")
        w = create_worker(jobs.predict_paths_job, self.predictors, model_id, self.settings.device, paths,
                          self.results, self.findings.threshold_value, name="inference (all)")
        w.yielded.connect(lambda ev, m=model_id: self._batch_progress(ev, m))
        w.returned.connect(lambda _n, m=model_id, ps=paths: self._run_all_finished(m, ps))
        w.aborted.connect(lambda: self.statusBar().showMessage("Inference on all images cancelled", 6000))
        self._start("batch", w, pool="compute")

    def _run_all_finished(self, model_id: str, paths: list[str]) -> None:
        """The folder, taken together, against the model's validation films: one warning when it drifts."""
        self.statusBar().showMessage("Inference on all images finished", 6000)
        results = [r for p in paths if (r := self.results.result(p, model_id)) is not None]
        w = create_worker(jobs.drift_job, self.predictors, model_id, results, name="drift check")
        w.returned.connect(lambda report, m=model_id: self._drift_ready(report, m))
        self._start("drift", w, pool="io")

    def _drift_ready(self, report, model_id: str) -> None:
        if report is None or model_id != self.model_panel.current_id():
            return
        self.model_panel.set_drift(f"⚠ {report.message}" if report.warn else "")
        if report.warn:
            self.statusBar().showMessage(f"{model_id}: {report.message}", 15000)

    def _batch_progress(self, ev: jobs.InferenceProgress, model_id: str) -> None:
        self.report_backend_notes()
        self.model_panel.set_progress(ev.done, ev.total, f"{ev.done}/{ev.total}  {Path(ev.path).name}")
        if ev.result.error:
            self.notify_error("inference", ev.result.error)
            self.worklist.add_result(ev.path, model_id, ev.result)  # listed last, with its reason
            return
        self.results.store(ev.path, model_id, ev.result)
        self.browser.set_result(ev.path, ev.result)
        if ev.path == self.current_path and self.current_result is None:
            self._show_result(ev.result)

    def _result_ready(self, result: ImageResult, model_id: str) -> None:
        self.report_backend_notes()
        self.results.store(result.path, model_id, result)
        if model_id == self.model_panel.current_id():
            self.browser.set_result(result.path, result)
        if result.path == self.current_path and model_id == self.model_panel.current_id():
            self._show_result(result)

    def _show_result(self, result: ImageResult) -> None:
        same_film = self.current_result is not None and self.current_result.path == result.path
        self.current_result = result
        # The same film again (another model, a refill): keep the selected finding. A new film starts
        # at its own default (its most probable positive finding, or the abnormality map when the film
        # is called abnormal with no finding above its point), never at the previous film's choice.
        keep = self.findings.shown_map() if same_film else ""
        call = case_call(result)
        default = call.show_map if call is not None and call.show_map else default_label(result.findings)
        self.findings.set_result(result, select=keep if keep and (result.finding(keep) or keep in result.heatmaps)
                                 else default)
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
        """The maps drawn now: every positive finding ("all positive" mode), the selected finding, or
        the abnormality output's map when it is the one chosen."""
        r = self.current_result
        if r is None or r.error or self.findings.findings_hidden():
            return []
        if self.findings.all_positive.isChecked():
            return [f.label for f in r.findings if f.positive]
        label = self.findings.shown_map()
        return [label] if label and label in r.heatmaps else []

    def box_labels(self) -> list[str]:
        """The drawn findings that get boxes: positive ones; a negative one only on request."""
        r = self.current_result
        want_negative = self.findings.negative_boxes.isChecked()
        return [lbl for lbl in self.overlay_labels() if (f := r.finding(lbl)) is not None and (f.positive or want_negative)]

    def box_rule(self):
        """The current model's box rule (its prior and exponent): the predictor's own rule, read from
        the zoo entry once per model. None without a model."""
        # deferred: imports scipy (the boxes); the window opens without it
        from chestview.engine.explain.box_rule import load_box_rule

        entry = self.model_panel.current_entry()
        if entry is None:
            return None
        rule = self._box_rules.get(entry.card.id)
        if rule is None:
            try:
                rule = self._box_rules[entry.card.id] = load_box_rule(entry.card, entry.path)
            except Exception as exc:  # noqa: BLE001 - a damaged priors file: say so, draw no boxes
                self.notify_error("boxes", str(exc))
                return None
        return rule

    def shown_result(self) -> ImageResult | None:
        """The current result with the boxes the view draws and exports: its positive findings (and a
        negative one drawn on request) cut at the slider's level by the model's box rule
        (engine.explain.box_rule.rebox), exactly as ``predict`` cuts them at that level."""
        # deferred: imports scipy (the boxes); the window opens without it
        from chestview.engine.explain.box_rule import rebox

        r, rule = self.current_result, self.box_rule()
        if r is None or r.error or rule is None:
            return None
        # Every positive finding (as ``predict`` boxes them) and a negative one drawn on request.
        boxed = tuple(dict.fromkeys([*(f.label for f in r.findings if f.positive), *self.box_labels()]))
        key = (self.findings.threshold_value, boxed)
        cached = self._shown_cache
        if cached is None or cached[0] is not r or cached[1] is not rule or cached[2] != key:
            cached = self._shown_cache = (r, rule, key, rebox(r, rule, self.findings.threshold_value, boxed))
        return cached[3]

    def update_overlay(self) -> None:
        r, image = self.current_result, self.current_image
        if r is None or image is None or r.path != image.path:
            self.viewer.clear_overlays()
            self.findings.box_count.setText("")
            return
        labels = self.overlay_labels()
        heat = combined_heatmap(r, labels) if self.findings.show_heatmap.isChecked() else None
        single = r.finding(labels[0]) if len(labels) == 1 else None
        if single is None and len(labels) == 1 and r.abnormality is not None:
            single = r.abnormality  # the abnormality output's own map, on its own scale
        self.viewer.set_heatmap(heat, colormap=self.findings.colormap_name, opacity=self.findings.opacity_value,
                                threshold=single.threshold if single is not None else None)
        shown = self.shown_result()
        drawn, diffuse = [], []
        colour_index = 0
        for label in self.box_labels():
            f = shown.finding(label) if shown is not None else None
            if f is None:
                continue
            colour = box_colour(colour_index) if f.positive else NEGATIVE_COLOUR
            colour_index += bool(f.positive and f.boxes)  # a diffuse finding draws nothing: no colour spent
            if f.diffuse:
                diffuse.append(label.replace("_", " "))
            boxes = f.boxes
            best = max(range(len(boxes)), key=lambda i: boxes[i].score) if boxes else -1
            caption = f"{label.replace('_', ' ')} {f.probability:.2f}" + ("" if f.positive else " (negative)")
            # One caption per finding (on its best box): "all positive findings" does not pile labels.
            drawn += [DrawnBox(label, b, caption if i == best else None, colour, f.positive) for i, b in enumerate(boxes)]
        self.viewer.set_boxes(drawn)
        level = self.findings.threshold_value
        if not labels:
            text = "Select a finding to see its heatmap and boxes"
        elif r.finding(labels[0]) is None and len(labels) == 1:
            text = "Abnormality map: where the abnormality output looks (no boxes)"
        elif not drawn and not diffuse and single is not None and not single.positive \
                and not self.findings.negative_boxes.isChecked():
            text = "Negative finding: no boxes (tick “Boxes of negatives” to draw them)"
        elif diffuse and len(labels) == 1:
            text = f"{diffuse[0]}: diffuse — no box (no focal region at threshold {level})"
        else:
            text = f"{len(drawn)} box{'es' if len(drawn) != 1 else ''} at threshold {level}"
            if diffuse:
                text += f"; diffuse — no box: {', '.join(diffuse)}"
        self.findings.box_count.setText(text)
