"""Tools → Benchmark: the engine's benchmark in a worker, with live progress and a table of timings."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton,
    QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from chestview.engine.backends import CHOICES
from chestview.engine.util import atomic_write_text
from chestview.gui.workers import WorkerManager, create_worker


def bench_job(model_id: str, paths: list[str], device: str, batch_size: int, n_images: int, *,
              backend: str = "auto", on_event=None, should_stop=None):
    # deferred: imports torch; the window opens without it
    from chestview.engine.bench import run_benchmark
    from chestview.engine.io import iter_image_files
    from chestview.engine.zoo import load_model

    files = [str(p) for p in iter_image_files(paths)]
    return run_benchmark(load_model(model_id), files, device=device, batch_size=batch_size, n_images=n_images,
                         num_workers=0, backend=backend, repeat=1, on_event=on_event, should_stop=should_stop)


def bench_rows(result) -> list[tuple[str, str, str]]:
    """Stage timings (of the default backend), the backends side by side, then the summary figures."""
    rows = [(stage, f"{t.median_ms:.2f}", f"{t.p90_ms:.2f}") for stage, t in result.stages.items()]
    for name, b in result.backends.items():
        speed = "" if name == "torch" else f"  ({result.speedup(name, 'model'):.2f}x torch, max |Δp| {b.max_abs_prob_delta:.0e})"
        default = " (default)" if name == result.default_backend else ""
        rows.append((f"backend {name}{default}: model / pipeline", f"{b.model_images_per_s:.1f} img/s{speed}",
                     f"{b.pipeline_images_per_s:.1f} img/s"))
    rows += [
        ("pipeline (files → results)", f"{result.pipeline_images_per_s:.1f} img/s", ""),
        ("model alone", f"{result.model_images_per_s:.1f} img/s", ""),
        ("pipeline / model", f"{result.pipeline_to_model_ratio:.2f}", ""),
        ("CPU ceiling of that ratio", f"{result.cpu_ceiling_ratio:.2f}" if result.cpu_ceiling_ratio is not None else "–", ""),
        ("heatmaps + boxes / forward", f"{result.explain_cost_fraction:.2f}", ""),
        ("peak memory", f"{result.peak_memory_mb:.0f} MB", ""),
    ]
    if result.peak_gpu_memory_mb is not None:
        rows.append(("peak GPU memory", f"{result.peak_gpu_memory_mb:.0f} MB", ""))
    return rows


class BenchmarkDialog(QDialog):
    def __init__(self, workers: WorkerManager, model_ids: list[str], paths: list[str], device: str,
                 parent: QWidget | None = None, *, model: str = "", backend: str = "auto") -> None:
        super().__init__(parent)
        self.setWindowTitle("Benchmark")
        self.resize(560, 480)
        self.workers = workers
        self.paths = paths
        self.result = None
        self.worker = None

        self.model = QComboBox()
        self.model.addItems(model_ids)
        if model in model_ids:
            self.model.setCurrentText(model)  # the model in use in the viewer
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setCurrentText(device)

        self.backend = QComboBox()
        self.backend.addItems(CHOICES)
        self.backend.setCurrentText(backend)
        self.backend.setToolTip("The default backend gives the stage timings; every backend available is measured beside torch")
        self.batch = QSpinBox()
        self.batch.setRange(1, 256)
        self.batch.setValue(8)
        self.n_images = QSpinBox()
        self.n_images.setRange(1, 10000)
        self.n_images.setValue(32)
        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Device", self.device)
        form.addRow("Backend", self.backend)
        form.addRow("Batch size", self.batch)
        form.addRow("Images", self.n_images)
        form.addRow("Source", QLabel(f"{len(paths)} path(s) of the browser"))

        self.progress = QProgressBar()
        self.status = QLabel("" if model_ids else "No model installed: nothing to measure.")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Stage", "Median (ms/img)", "p90 (ms/img)"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.start_button = QPushButton("Start")
        self.start_button.setEnabled(bool(model_ids))
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.save_button = QPushButton("Save JSON…")
        self.save_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.save_button.clicked.connect(self.save_dialog)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.save_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

    def start(self):
        self.result = None
        self.table.setRowCount(0)
        self.save_button.setEnabled(False)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("Loading the model…")
        w = create_worker(bench_job, self.model.currentText(), self.paths, self.device.currentText(),
                          self.batch.value(), self.n_images.value(), backend=self.backend.currentText(),
                          progress=True, name="benchmark")
        w.yielded.connect(self._progress)
        w.returned.connect(self._done)
        w.errored.connect(lambda exc: self.status.setText(f"Failed: {exc}"))
        w.aborted.connect(lambda: self.status.setText("Stopped"))
        w.finished.connect(self._finished)
        self.worker = self.workers.start(w, pool="compute", report_errors=False)
        return self.worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.quit()

    def _progress(self, ev) -> None:
        self.progress.setRange(0, max(ev.total, 1))
        self.progress.setValue(ev.done)
        self.status.setText(f"{ev.stage}: {ev.done}/{ev.total}")

    def _done(self, result) -> None:
        self.result = result
        rows = bench_rows(result)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.status.setText(f"{result.model_id} on {result.device} ({result.default_backend}), "
                            f"batch {result.batch_size}, {result.n_images} images")
        self.save_button.setEnabled(True)

    def _finished(self) -> None:
        self.start_button.setEnabled(self.model.count() > 0)
        self.stop_button.setEnabled(False)

    def save_json(self, path: str) -> None:
        if self.result is not None:
            atomic_write_text(Path(path), json.dumps(self.result.to_json(), indent=2) + "\n")

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save benchmark", "benchmark.json", "JSON (*.json)")
        if path:
            self.save_json(path)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.stop()
        super().closeEvent(event)
