"""Training and evaluation tab: the same engine calls as ``chestview train`` / ``chestview eval``,
in a worker, with live loss and validation-AUROC curves fed by the engine's progress events.

No training logic lives here: the tab builds a ``TrainConfig`` and draws the events it receives.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from chestview.gui.evaluation_view import EvaluationView, fmt
from chestview.gui.reader_verdict_view import ReaderVerdictView
from chestview.gui.subprocess_job import run_in_subprocess
from chestview.gui.workers import WorkerManager, create_worker

DATA_FORMATS = ("nih", "chexpert", "indiana", "openi", "csv")


def _architectures() -> list[str]:
    try:
        # deferred: imports torch (training, models, evaluation); the tab opens without it
        from chestview.engine.models import list_models

        return list_models()
    except Exception:  # noqa: BLE001 - shown as an empty list
        return []


def _losses() -> list[str]:
    try:
        # deferred: imports torch (training, models, evaluation); the tab opens without it
        from chestview.engine.train.losses import list_losses

        return list_losses()
    except Exception:  # noqa: BLE001
        return ["bce"]


def train_job(config_dict: dict, resume: bool, *, on_event=None, should_stop=None):
    """``chestview train`` in a worker; a finished model is installed into the user zoo."""
    # deferred: imports torch (training, models, evaluation); the tab opens without it
    from chestview.engine.train.config import TrainConfig
    from chestview.engine.train.trainer import train

    config = TrainConfig.from_dict(config_dict, source="training tab")
    result = train(config, on_event=on_event, should_stop=should_stop, resume=resume, progress=False,
                   command_line="chestview app (training tab)")
    if result.model_dir is not None and not result.cancelled:
        install_model(Path(result.model_dir))
    return result


def install_model(model_dir: Path) -> Path:
    """Copy a zoo entry (card + weights) into the user's models folder so the model picker lists it.

    Copied to a temporary folder first and renamed into place; an older entry with the same id is
    replaced (it is the user's own model of that name).
    """
    import shutil
    import uuid

    # deferred: imports torch (training, models, evaluation); the tab opens without it
    from chestview.engine.paths import user_models_dir
    from chestview.engine.zoo.card import ModelCard

    card = ModelCard.load(model_dir)
    root = user_models_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / card.id
    if target.resolve() == model_dir.resolve():
        return target
    tmp = root / f".{card.id}.{uuid.uuid4().hex[:8]}.tmp"
    shutil.copytree(model_dir, tmp)
    if target.exists():
        old = root / f".{card.id}.{uuid.uuid4().hex[:8]}.old"
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)
    return target


def evaluate_job(model: str, data_spec: str, out_dir: str | None, device: str, *, on_event=None, should_stop=None):
    # deferred: imports torch (training, models, evaluation); the tab opens without it
    from chestview.engine.train.evaluation import evaluate

    return evaluate(model, data_spec, split="test", out_dir=out_dir, device=device, n_boot=200, probe=True,
                    num_workers=0, on_event=on_event, should_stop=should_stop)


def reader_verdicts_job(csv_path: str, model: str, device: str, *, on_event=None, should_stop=None):
    """``chestview eval --reader-verdicts`` in a worker: the model against the reader's verdict CSV."""
    # deferred: imports torch (training, models, evaluation); the tab opens without it
    from chestview.engine.evaluate.against_reader import evaluate_against_reader

    return evaluate_against_reader(csv_path, model, device=device, num_workers=0, on_event=on_event,
                                   should_stop=should_stop)


class TrainingTab(QWidget):
    model_trained = Signal(str)  # model id of the new zoo entry

    def __init__(self, workers: WorkerManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.worker = None
        self.eval_worker = None
        self.last_result = None
        self.last_eval = None
        self.last_reader_eval = None
        self.reader_worker = None
        self._batch_x: list[float] = []
        self._batch_y: list[float] = []
        self._epochs: list[dict] = []

        # --- configuration ---------------------------------------------------------------------
        self.data_format = QComboBox()
        self.data_format.addItems(DATA_FORMATS)
        self.data_path = QLineEdit()
        self.data_path.setPlaceholderText("dataset folder or CSV")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_data)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_format)
        data_row.addWidget(self.data_path, 1)
        data_row.addWidget(browse)
        self.arch = QComboBox()
        self.arch.addItems(_architectures())
        if self.arch.findText("chexnet") >= 0:
            self.arch.setCurrentText("chexnet")
        self.trunk = QComboBox()
        self.trunk.addItems(["(default)", "resnet18", "resnet34", "resnet50", "densenet121", "efficientnet_lite0"])
        self.loss = QComboBox()
        self.loss.addItems(_losses())
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(10)
        self.size = QSpinBox()
        self.size.setRange(32, 1024)
        self.size.setSingleStep(32)
        self.size.setValue(224)
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.batch.setValue(16)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.out = QLineEdit(str(Path.home() / "chestview-runs" / "run1"))
        out_browse = QPushButton("Browse…")
        out_browse.clicked.connect(self._browse_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(out_browse)

        form = QFormLayout()
        form.addRow("Dataset", data_row)
        form.addRow("Architecture", self.arch)
        form.addRow("Trunk", self.trunk)
        form.addRow("Loss", self.loss)
        form.addRow("Epochs", self.epochs)
        form.addRow("Image size", self.size)
        form.addRow("Batch size", self.batch)
        form.addRow("Device", self.device)
        form.addRow("Output folder", out_row)

        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.status = QLabel("Idle")
        self.status.setWordWrap(True)

        # Evaluation controls.
        self.eval_model = QComboBox()
        self.eval_button = QPushButton("Evaluate on the test split")
        self.eval_stop = QPushButton("Stop")
        self.eval_stop.setEnabled(False)
        self.eval_button.clicked.connect(self.start_evaluation)
        self.eval_stop.clicked.connect(lambda: self.eval_worker and self.eval_worker.quit())
        eval_box = QGroupBox("Evaluation (same dataset field as above)")
        ev = QFormLayout(eval_box)
        ev.addRow("Model", self.eval_model)
        ev_buttons = QHBoxLayout()
        ev_buttons.addWidget(self.eval_button)
        ev_buttons.addWidget(self.eval_stop)
        ev.addRow(ev_buttons)
        # The reader's own verdicts as the test set (chestview worklist PATH --reviews CSV).
        self.verdicts_path = QLineEdit()
        self.verdicts_path.setPlaceholderText("verdict CSV (chestview worklist PATH --reviews CSV)")
        verdicts_browse = QPushButton("Browse…")
        verdicts_browse.clicked.connect(self._browse_verdicts)
        verdicts_row = QHBoxLayout()
        verdicts_row.addWidget(self.verdicts_path, 1)
        verdicts_row.addWidget(verdicts_browse)
        ev.addRow("Reader verdicts", verdicts_row)
        self.reader_button = QPushButton("Evaluate against my verdicts")
        self.reader_button.setToolTip("agree keeps the model's call at review time, disagree turns it over, "
                                      "unsure is skipped; the chosen model runs on the films of the CSV")
        self.reader_button.clicked.connect(self.start_reader_evaluation)
        ev.addRow(self.reader_button)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.addLayout(form)
        ll.addLayout(buttons)
        ll.addWidget(self.progress)
        ll.addWidget(self.status)
        ll.addWidget(eval_box)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        ll.addWidget(self.log, 1)

        # --- curves and tables -----------------------------------------------------------------
        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.batch_curve = self.loss_plot.plot([], [], pen=pg.mkPen((120, 120, 120), width=1), name="batch")
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen((86, 180, 233), width=2), symbol="o",
                                               symbolSize=5, name="train (epoch)")
        self.val_curve = self.loss_plot.plot([], [], pen=pg.mkPen((230, 159, 0), width=2), symbol="o",
                                             symbolSize=5, name="validation")
        self.auroc_plot = pg.PlotWidget(title="Validation AUROC (mean)")
        self.auroc_plot.setLabel("bottom", "epoch")
        self.auroc_plot.setYRange(0.4, 1.0)
        self.auroc_plot.showGrid(x=True, y=True, alpha=0.2)
        self.auroc_curve = self.auroc_plot.plot([], [], pen=pg.mkPen((0, 158, 115), width=2), symbol="o", symbolSize=5)

        self.evaluation = EvaluationView()
        self.roc_plot = self.evaluation.roc_plot
        self.auroc_table = self.evaluation.auroc_table
        self.loc_table = self.evaluation.loc_table

        curves = QSplitter(Qt.Orientation.Vertical)
        curves.addWidget(self.loss_plot)
        curves.addWidget(self.auroc_plot)
        self.right = QTabWidget()
        self.right.addTab(curves, "Training curves")
        self.right.addTab(self.evaluation, "Evaluation")
        self.reader_view = ReaderVerdictView()
        self.right.addTab(self.reader_view, "Reader verdicts")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.right)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)

    # --- configuration -------------------------------------------------------------------------
    def _browse_data(self) -> None:
        if self.data_format.currentText() in ("chexpert", "csv"):
            path, _ = QFileDialog.getOpenFileName(self, "Dataset CSV", self.data_path.text(), "CSV (*.csv)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Dataset folder", self.data_path.text())
        if path:
            self.data_path.setText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out.text())
        if path:
            self.out.setText(path)

    def _browse_verdicts(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reader verdict CSV", self.verdicts_path.text(), "CSV (*.csv)")
        if path:
            self.verdicts_path.setText(path)

    def data_spec(self) -> str:
        return f"{self.data_format.currentText()}:{self.data_path.text().strip()}"

    def config_dict(self) -> dict:
        cfg = {
            "arch": self.arch.currentText(),
            "data": self.data_spec(),
            "loss": self.loss.currentText(),
            "epochs": self.epochs.value(),
            "size": self.size.value(),
            "batch_size": self.batch.value(),
            "out": self.out.text().strip(),
            "device": self.device.currentText(),
            "num_workers": 0,  # decoding in the training thread: the app keeps a core for the UI
        }
        if self.trunk.currentIndex() > 0:
            cfg["arch_kwargs"] = {"trunk": self.trunk.currentText()}
        return cfg

    def set_models(self, ids: list[str]) -> None:
        current = self.eval_model.currentText()
        self.eval_model.clear()
        self.eval_model.addItems(ids)
        if current in ids:
            self.eval_model.setCurrentText(current)

    # --- training ------------------------------------------------------------------------------
    def start(self, *, resume: bool = False, extra: dict | None = None):
        if self.worker is not None and not self.worker.is_done:
            return self.worker
        if not self.data_path.text().strip():
            self.status.setText("Choose a dataset first")
            return None
        cfg = {**self.config_dict(), **(extra or {})}
        if not resume:
            self._batch_x, self._batch_y, self._epochs = [], [], []
            self._redraw()
        self.last_result = None
        self.status.setText(("Resuming" if resume else "Starting") + f" {cfg['arch']} on {cfg['data']}…")
        self.progress.setRange(0, 0)
        # In a child process: training holds the interpreter lock for long stretches (imports, the
        # ONNX export's tracing), which froze the window when it ran in a thread.
        w = create_worker(run_in_subprocess, train_job, cfg, resume, progress=True, name="training")
        w.yielded.connect(self.on_event)
        w.returned.connect(self._trained)
        w.errored.connect(lambda exc: self._append(f"error: {exc}"))
        w.errored.connect(lambda exc: self.status.setText(f"Failed: {exc}"))
        w.aborted.connect(lambda: self.status.setText(
            "Stopped" + (": Resume continues from the last finished epoch" if self.last_result is None
                         or not self.last_result.epochs_run else
                         f" after {self.last_result.epochs_run} epoch(s): Resume continues from there")))
        w.finished.connect(self._finished)
        self.start_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.worker = self.workers.start(w, pool="compute")
        return self.worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.quit()
            self.status.setText("Stopping after the current batch…")

    def _finished(self) -> None:
        self.start_button.setEnabled(True)
        self.resume_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.last_result is not None else 0)

    def _trained(self, result) -> None:
        self.last_result = result
        if result.cancelled:
            return  # the aborted handler says so
        state = "stopped" if result.cancelled else ("stopped early" if result.stopped_early else "finished")
        self.status.setText(f"Training {state}: {result.epochs_run} epoch(s), best epoch {result.best_epoch}")
        if result.model_dir is not None:
            try:
                # deferred: imports torch (training, models, evaluation); the tab opens without it
                from chestview.engine.zoo.card import ModelCard

                model_id = ModelCard.load(result.model_dir).id
            except Exception:  # noqa: BLE001
                model_id = Path(result.model_dir).name
            self._append(f"model written to the zoo: {model_id} ({result.model_dir})")
            self.model_trained.emit(model_id)
        if result.evaluation is not None:
            self.show_evaluation(result.evaluation)

    def on_event(self, ev) -> None:
        """Draw one engine progress event (matched by class name: the GUI needs no engine import)."""
        kind = type(ev).__name__
        if kind == "EpochStarted":
            self.progress.setRange(0, max(ev.steps, 1))
            self.progress.setValue(0)
            self.status.setText(f"Epoch {ev.epoch}/{ev.epochs}")
        elif kind == "BatchDone":
            steps = ev.steps or max(self.progress.maximum(), 1)
            self.progress.setRange(0, steps)
            self.progress.setValue(ev.step)
            if math.isfinite(ev.loss):
                self._batch_x.append((max(ev.epoch, 1) - 1) + ev.step / steps)
                self._batch_y.append(float(ev.loss))
                if len(self._batch_x) % 5 == 0 or ev.step == steps:
                    self.batch_curve.setData(self._batch_x, self._batch_y)
        elif kind == "EpochDone":
            self._epochs.append(dict(ev.metrics))
            self._redraw()
        elif kind == "EvalProgress":
            self.progress.setRange(0, max(ev.total, 1))
            self.progress.setValue(ev.done)
            self.status.setText(f"Evaluating ({ev.stage}) {ev.done}/{ev.total}")
        elif kind == "Log":
            self._append(ev.message)
        elif kind == "TrainFinished":
            pass

    def _redraw(self) -> None:
        self.batch_curve.setData(self._batch_x, self._batch_y)
        xs = [m.get("epoch", i + 1) for i, m in enumerate(self._epochs)]
        tl = [m.get("train_loss") for m in self._epochs]
        vl = [m.get("val_loss") for m in self._epochs]
        va = [m.get("val_auroc_mean") for m in self._epochs]
        self.train_curve.setData(*_finite(xs, tl))
        self.val_curve.setData(*_finite(xs, vl))
        self.auroc_curve.setData(*_finite(xs, va))

    def _append(self, text: str) -> None:
        self.log.appendPlainText(text)

    # --- evaluation ----------------------------------------------------------------------------
    def start_evaluation(self, *, out_dir: str | None = None):
        model = self.eval_model.currentText()
        if not model or not self.data_path.text().strip():
            self.status.setText("Evaluation needs a model and a dataset")
            return None
        self.status.setText(f"Evaluating {model} on {self.data_spec()}…")
        w = create_worker(run_in_subprocess, evaluate_job, model, self.data_spec(), out_dir,
                          self.device.currentText(), progress=True, name="evaluation")
        self.eval_button.setEnabled(False)
        self.eval_stop.setEnabled(True)
        self.eval_worker = self._start_evaluation_worker(
            w, self.show_evaluation, lambda: (self.eval_button.setEnabled(True), self.eval_stop.setEnabled(False)))
        return self.eval_worker

    def _start_evaluation_worker(self, w, on_result, on_finished):
        """Progress to the status line and bar, the result to ``on_result``, a failure as one line."""
        w.yielded.connect(self.on_event)
        w.returned.connect(on_result)
        w.errored.connect(lambda exc: self.status.setText(f"Evaluation failed: {exc}"))
        w.finished.connect(on_finished)
        return self.workers.start(w, pool="compute")

    def show_evaluation(self, result) -> None:
        self.last_eval = result
        self.right.setCurrentWidget(self.evaluation)
        self.evaluation.show_result(result)
        mean = getattr(getattr(result, "auroc", None), "mean_auroc", float("nan"))
        self.status.setText(f"Evaluation of {result.model_id} on {result.split}: {result.n_images} images, "
                            f"mean AUROC {fmt(mean)}" + (" (stopped)" if getattr(result, "cancelled", False) else ""))

    def start_reader_evaluation(self):
        """The chosen model against the reader's verdict CSV, in a worker; the table shows in its tab."""
        model, csv_path = self.eval_model.currentText(), self.verdicts_path.text().strip()
        if not model or not csv_path:
            self.status.setText("Evaluating against the reader's verdicts needs a model and a verdict CSV")
            return None
        if self.reader_worker is not None and not self.reader_worker.is_done:
            return self.reader_worker
        self.status.setText(f"Evaluating {model} against the verdicts in {Path(csv_path).name}…")
        w = create_worker(reader_verdicts_job, csv_path, model, self.device.currentText(), progress=True,
                          name="reader verdicts")
        self.reader_button.setEnabled(False)
        self.reader_worker = self._start_evaluation_worker(w, self.show_reader_evaluation,
                                                           lambda: self.reader_button.setEnabled(True))
        return self.reader_worker

    def show_reader_evaluation(self, result) -> None:
        self.last_reader_eval = result
        self.right.setCurrentWidget(self.reader_view)
        self.reader_view.show_result(result)
        self.status.setText(result.summary())


def _finite(xs, ys) -> tuple[list, list]:
    pts = [(x, y) for x, y in zip(xs, ys) if y is not None and np.isfinite(y)]
    return [p[0] for p in pts], [p[1] for p in pts]

