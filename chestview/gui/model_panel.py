"""The model picker (bundled and imported zoo models), its card, the device, and Run controls."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)


def card_html(card, *, bundled: bool | None = None, path: str = "", reference=None) -> str:
    """A short human description of a model card: what it is (the paper), how it measured against
    ``reference`` (the default model's card), labels, metrics, provenance."""
    # deferred: the zoo modules import torch; the window opens without it
    from chestview.engine.zoo.comparison import compare_cards, system_info

    e = html.escape
    system = system_info(card)
    rows = [
        f"<b>{e(card.id)}</b>" + (" <i>(bundled)</i>" if bundled else " <i>(user)</i>" if bundled is False else ""),
        # The design line often opens with the system's name ("CheXNet: DenseNet-121, ..."): said once.
        (f"<b>{e(system.title)}</b>" + (f": {e(system.design)}" if system.design else "")
         if not system.design.startswith(system.title) else f"<b>{e(system.design)}</b>"),
    ]
    if system.paper:
        rows.append(f"Paper: {e(system.paper)}")
    if reference is not None:
        rows.append(f"Against the default: {e(compare_cards(card, reference).sentence())}")
    rows += [
        f"Architecture: {e(card.architecture)}"
        + (f" ({e(', '.join(f'{k}={v}' for k, v in card.arch_kwargs.items()))})" if card.arch_kwargs else ""),
        f"Input: {card.preprocessing.size}px, {card.preprocessing.channels} channel(s); supervision: {e(card.supervision)}",
        f"Box threshold: {card.box_threshold} of 255"
        + (" (chosen on validation boxes)" if "box_threshold_choice" in (card.provenance or {}) else ""),
    ]
    if card.description:
        rows.append(e(card.description))
    labels = ", ".join(
        f"<span style='color:#888'>{e(lbl)}</span>" if lbl in card.unreliable_labels else e(lbl) for lbl in card.labels
    )
    rows.append(f"Labels ({len(card.labels)}): {labels}")
    metrics = card.metrics or {}
    if metrics:
        rows.append("Metrics: " + "; ".join(metric_summary(k, v) for k, v in list(metrics.items())[:12]))
    else:
        rows.append("Metrics: <i>none recorded</i>")
    prov = card.provenance or {}
    if prov:
        rows.append("Provenance: " + "; ".join(f"{e(str(k))}: {e(str(v))[:80]}" for k, v in list(prov.items())[:8]))
    if card.licence:
        rows.append(f"Licence: {e(card.licence)}")
    if path:
        rows.append(f"<span style='color:#888'>{e(path)}</span>")
    return "<br>".join(rows)


def metric_summary(key: str, value) -> str:
    """One card metric in a few words: an evaluation as its mean AUROC, a history as its length."""
    e = html.escape
    if isinstance(value, bool) or not isinstance(value, (int, float, dict, list)):
        return f"{e(str(key))}: {e(str(value))[:60]}"
    if isinstance(value, float):
        return f"{e(str(key))}: {value:.3f}"
    if isinstance(value, int):
        return f"{e(str(key))}: {value}"
    if isinstance(value, list):
        return f"{e(str(key))}: {len(value)} epoch(s)" if key == "history" else f"{e(str(key))}: {len(value)} entries"
    mean = value.get("mean_auroc")
    if isinstance(mean, (int, float)):
        n = value.get("n_images")
        return f"{e(str(key))} mean AUROC <b>{mean:.3f}</b>" + (f" ({n} images)" if n else "")
    return f"{e(str(key))}: {len(value)} entries"


class ModelPanel(QWidget):
    model_changed = Signal(str)
    run_requested = Signal()
    run_all_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list = []
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.currentIndexChanged.connect(self._changed)
        # The model's quality warning (engine.zoo.quality): targets missed, a test AUROC near chance.
        self.quality = QLabel()
        self.quality.setWordWrap(True)
        self.quality.setStyleSheet("color: #ffd0a0; background: #5a2a10; padding: 3px;")
        self.quality.setVisible(False)
        self.device_label = QLabel("Device: …")
        self.device_label.setStyleSheet("color: #9fd39f;")
        self.card_view = QTextBrowser()
        self.card_view.setOpenExternalLinks(False)
        self.card_view.setMaximumHeight(110)  # scrolls: the findings below need the height more
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the model on the current image (Ctrl+R)")
        self.run_all_button = QPushButton("Run on all")
        self.run_all_button.setToolTip("Run the model on every image of the browser (Ctrl+Shift+R)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.auto_run = QCheckBox("Auto-run")
        self.auto_run.setChecked(True)
        self.auto_run.setToolTip("Run the model whenever another image is shown (results are cached)")
        # The drift warning of the last Run on all (engine.gate.drift): hidden when there is none.
        self.drift_label = QLabel()
        self.drift_label.setWordWrap(True)
        self.drift_label.setStyleSheet("color: white; background: #8a5a00; padding: 4px;")
        self.drift_label.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setTextVisible(True)

        self.run_button.clicked.connect(self.run_requested)
        self.run_all_button.clicked.connect(self.run_all_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)

        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.combo, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.run_all_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.auto_run)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.quality)
        layout.addWidget(self.device_label)
        layout.addWidget(self.card_view)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.drift_label)
        self.set_entries([])
        # Until the zoo is listed (it imports PyTorch: seconds), "no model installed" would be untrue.
        self.card_view.setHtml("<i>Loading the model zoo…</i>")

    def set_drift(self, message: str) -> None:
        """Show (or, with "", hide) the folder's drift warning."""
        self.drift_label.setText(message)
        self.drift_label.setVisible(bool(message))

    def set_entries(self, entries: list, *, select: str = "") -> None:
        self.entries = list(entries)
        self.combo.blockSignals(True)
        self.combo.clear()
        # deferred: the zoo modules import torch; the window opens without it
        from chestview.engine.zoo.comparison import system_info
        from chestview.engine.zoo.quality import model_warnings

        for e in self.entries:
            warned = bool(model_warnings(e.card))
            title = system_info(e.card).title
            self.combo.addItem(("⚠ " if warned else "") + e.card.id + ("" if e.bundled else "  (user)")
                               + (f"  · {title}" if title != e.card.architecture else ""), e.card.id)
        self.combo.blockSignals(False)
        has = bool(self.entries)
        self.combo.setEnabled(has)
        self.run_button.setEnabled(has)
        self.run_all_button.setEnabled(has)
        if not has:
            self.card_view.setHtml(
                "<b>No model installed.</b><br>The model zoo is empty: train one in the "
                "<i>Training &amp; evaluation</i> tab (or with <code>chestview train</code>), or import one."
            )
            self.model_changed.emit("")
            return
        idx = self.combo.findData(select) if select else 0
        self.combo.setCurrentIndex(max(idx, 0))
        self._changed(self.combo.currentIndex())

    def current_id(self) -> str:
        return self.combo.currentData() or ""

    def current_entry(self):
        mid = self.current_id()
        return next((e for e in self.entries if e.card.id == mid), None)

    def card(self, model_id: str | None = None):
        mid = model_id or self.current_id()
        entry = next((e for e in self.entries if e.card.id == mid), None)
        return entry.card if entry else None

    def _changed(self, _index: int) -> None:
        # deferred: the zoo modules import torch; the window opens without it
        from chestview.engine.zoo.quality import model_warnings

        entry = self.current_entry()
        warnings = model_warnings(entry.card) if entry is not None else []
        self.quality.setText("\n".join(f"⚠ {w.split(':')[0]}" for w in warnings))
        self.quality.setToolTip("From the model card's test evaluation; read its findings with this in mind:\n"
                                + "\n".join(warnings))
        self.quality.setVisible(bool(warnings))
        if entry is not None:
            # deferred: the zoo modules import torch; the window opens without it
            from chestview.engine.zoo.store import default_model_id

            default = default_model_id()
            reference = self.card(default) if default and default != entry.card.id else None
            self.card_view.setHtml(card_html(entry.card, bundled=entry.bundled, path=str(entry.path),
                                             reference=reference))
        self.model_changed.emit(self.current_id())

    def set_device(self, text: str) -> None:
        self.device_label.setText(f"Device: {text}")

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
            self.progress.setFormat(text or "working…")

    def set_progress(self, done: int, total: int, text: str = "") -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(text or f"{done}/{total}")
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
