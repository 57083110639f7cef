"""The findings table (every label with a probability bar) and the heatmap / box controls."""

from __future__ import annotations

import html

from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QPushButton,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QStackedWidget,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from chestview.engine.case_call import ABNORMALITY_MAP, case_call
from chestview.engine.colormaps import COLORMAPS, DEFAULT_COLORMAP, DEFAULT_OPACITY
from chestview.engine.results import Finding, ImageResult

LABEL_ROLE = Qt.ItemDataRole.UserRole + 1
PROB_ROLE = Qt.ItemDataRole.UserRole + 2
KIND_ROLE = Qt.ItemDataRole.UserRole + 3  # "positive" | "negative" | "unreliable"
SHORT_NEGATIVES = 3  # negatives listed before "Show all"

ORDER_RULE = (
    "One scale: the model's (calibrated) probability, 0 to 1; the tick on each bar is the operating "
    "point, chosen on the validation split (one for every finding on the bundled models, so a positive "
    "never has a lower probability than a negative). A finding is positive (red, above the line) when "
    "its probability reaches the operating point. Positives come first, then the others, each group by "
    "probability."
)

POSITIVE_BG = QColor(120, 40, 30)
BAR = {"positive": QColor(235, 110, 60), "negative": QColor(80, 140, 200), "unreliable": QColor(110, 110, 110)}
GREY = QColor(130, 130, 130)


def sorted_findings(findings: list[Finding]) -> list[Finding]:
    """Positive findings first, then the other reliable ones, then the unreliable ones; each group
    by probability (highest first). The colour follows "positive", so within each side of the line
    a red finding is never below a black one of higher probability (see ``ORDER_RULE``)."""
    return sorted(findings, key=lambda f: (not f.reliable, not (f.reliable and f.positive), -f.probability))


def short_list(findings: list[Finding], negatives: int = SHORT_NEGATIVES) -> list[Finding]:
    """What the collapsed list shows: every positive finding and the ``negatives`` most probable
    reliable negatives (``findings`` sorted as by :func:`sorted_findings`)."""
    pos = [f for f in findings if f.reliable and f.positive]
    neg = [f for f in findings if f.reliable and not f.positive][:negatives]
    return pos + neg


def default_label(findings: list[Finding]) -> str:
    """The finding to show first: the most probable positive one, else the most probable reliable one."""
    first = next(iter(sorted_findings([f for f in findings if f.reliable])), None)
    return first.label if first is not None else ""


def finding_kind(f: Finding) -> str:
    if not f.reliable:
        return "unreliable"
    return "positive" if f.positive else "negative"


class ProbabilityBarDelegate(QStyledItemDelegate):
    """Draws the probability as a horizontal bar with a tick at the operating threshold."""

    def paint(self, painter: QPainter, option, index) -> None:
        prob = index.data(PROB_ROLE)
        if prob is None:
            return super().paint(painter, option, index)
        kind = index.data(KIND_ROLE) or "negative"
        threshold = index.data(Qt.ItemDataRole.UserRole + 4)
        painter.save()
        bg = index.data(Qt.ItemDataRole.BackgroundRole)
        if bg is not None:
            painter.fillRect(option.rect, bg)
        r = option.rect.adjusted(4, 5, -48, -5)
        painter.fillRect(r, QColor(45, 48, 52))
        fill = QRectF(r.x(), r.y(), r.width() * max(0.0, min(1.0, float(prob))), r.height())
        painter.fillRect(fill, BAR[kind])
        if threshold is not None:
            x = r.x() + r.width() * float(threshold)
            painter.setPen(QColor(230, 230, 230))
            painter.drawLine(int(x), r.y() - 2, int(x), r.bottom() + 2)
        painter.setPen(GREY if kind == "unreliable" else QColor(235, 235, 235))
        text_rect = QRect(r.right() + 4, option.rect.y(), 44, option.rect.height())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{float(prob):.2f}")
        painter.restore()


GATE_BANNER = "Does not look like a frontal chest radiograph"


class FindingsPanel(QWidget):
    finding_selected = Signal(str)  # label ("" = none)
    display_changed = Signal()  # colour map, opacity, threshold, mode or heatmap toggle

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: ImageResult | None = None
        self.stack = QStackedWidget()
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #ffb000; background: #3a3020; padding: 4px;")
        self.warning.setVisible(False)
        # The input gate's banner: shown instead of the findings of an image that does not look
        # like a frontal chest radiograph, until the user asks to see them anyway.
        self.gate_banner = QLabel()
        self.gate_banner.setWordWrap(True)
        self.gate_banner.setStyleSheet("color: white; background: #8a1f1f; padding: 6px; font-weight: bold;")
        self.gate_banner.setTextFormat(Qt.TextFormat.RichText)
        self.gate_banner.linkActivated.connect(lambda _l: self.show_anyway())
        self.gate_banner.setVisible(False)
        self._shown_anyway: set[str] = set()

        self.abnormality = QLabel()
        self.abnormality.setTextFormat(Qt.TextFormat.RichText)
        self.abnormality.setWordWrap(True)
        self.abnormality.linkActivated.connect(lambda _l: self.show_abnormality_map())
        self._abnormality_map = False  # the abnormality output's map is the one shown (no finding selected)
        self.abnormality.setStyleSheet("padding: 4px; font-size: 13px;")
        self.abnormality.setVisible(False)
        self.show_all = QPushButton("Show all findings")
        self.show_all.setCheckable(True)
        self.show_all.setFlat(True)
        self.show_all.setStyleSheet("text-align: left; color: #8ab4f8; padding: 2px 6px;")
        self.show_all.toggled.connect(self._refill)

        self.table = QTableWidget(0, 3)
        self.table.setToolTip(ORDER_RULE)
        self.table.setHorizontalHeaderLabels(["Finding", "Probability", "Status"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setMinimumHeight(5 * 24 + 26)  # a few findings always visible, header included
        self.table.setItemDelegateForColumn(1, ProbabilityBarDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        table_page = QWidget()
        tl = QVBoxLayout(table_page)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(0)
        tl.addWidget(self.abnormality)
        tl.addWidget(self.table, 1)
        tl.addWidget(self.show_all)
        self.table_page = table_page
        self.stack.addWidget(table_page)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet("color: #d0d0d0; font-size: 14px; padding: 16px;")
        self.stack.addWidget(self.message)

        # Display controls.
        self.show_heatmap = QCheckBox("Heatmap")
        self.show_heatmap.setChecked(True)
        self.all_positive = QCheckBox("All positive findings")
        self.all_positive.setToolTip("Draw the boxes of every positive finding, each in its own colour")
        self.negative_boxes = QCheckBox("Boxes of negatives")
        self.negative_boxes.setToolTip("Also draw the boxes of a selected negative finding (thin, dashed, grey)")
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.setCurrentText(DEFAULT_COLORMAP)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(DEFAULT_OPACITY * 100))
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(1, 255)
        self.threshold.setValue(180)
        self.threshold.setToolTip("Heatmap level (of 255, on the image-relative map) above which a region gets a box")
        self.model_threshold = 180  # the model's own (its card's) or the user's fixed one from Settings
        self.threshold_label = QLabel("180 (model)")
        self.threshold_label.setMinimumWidth(84)
        self.threshold_reset = QPushButton("Reset")
        self.threshold_reset.setToolTip("Back to the model's own box threshold")
        self.threshold_reset.setEnabled(False)
        self.threshold_reset.clicked.connect(lambda: self.threshold.setValue(self.model_threshold))
        self.box_count = QLabel("")
        self.box_count.setStyleSheet("color: #a0a0a0;")

        checks = QHBoxLayout()
        checks.addWidget(self.show_heatmap)
        checks.addWidget(self.all_positive)
        checks.addWidget(self.negative_boxes)
        checks.addStretch(1)
        thr = QHBoxLayout()
        thr.addWidget(self.threshold, 1)
        thr.addWidget(self.threshold_label)
        thr.addWidget(self.threshold_reset)
        form = QFormLayout()
        form.addRow(checks)
        form.addRow("Colour map", self.colormap)
        form.addRow("Opacity", self.opacity)
        form.addRow("Box threshold", thr)
        form.addRow(self.box_count)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.warning)
        layout.addWidget(self.gate_banner)
        layout.addWidget(self.stack, 1)
        layout.addLayout(form)

        self.show_heatmap.toggled.connect(self.display_changed)
        self.all_positive.toggled.connect(self.display_changed)
        self.negative_boxes.toggled.connect(self.display_changed)
        self.colormap.currentTextChanged.connect(self.display_changed)
        self.opacity.valueChanged.connect(self.display_changed)
        self.threshold.valueChanged.connect(self._threshold_changed)
        self.threshold.valueChanged.connect(self.display_changed)
        self.show_message("No results yet: choose a model and press Run.")

    # --- content -----------------------------------------------------------------------------
    def findings_hidden(self) -> bool:
        """The shown result is flagged by the input gate and its findings are hidden."""
        r = self.result
        return r is not None and r.flagged and r.path not in self._shown_anyway

    def show_anyway(self) -> None:
        if self.result is not None:
            self._shown_anyway.add(self.result.path)
            self.set_result(self.result)
            self.display_changed.emit()

    def show_message(self, text: str) -> None:
        self.result = None
        self._abnormality_map = False
        self.gate_banner.setVisible(False)
        self.warning.setVisible(False)
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)
        self.table.setRowCount(0)

    def set_result(self, result: ImageResult, *, select: str | None = None) -> None:
        """Fill the list; keep the selected label when it exists, else select ``select`` (if given)."""
        previous = select if select is not None else self.selected_label()
        self.result = result
        self.warning.setText("\n".join(f"⚠ {w}" for w in result.warnings))
        self.warning.setVisible(bool(result.warnings))
        if result.error:
            self.show_message(f"Could not analyse this image:\n{result.error}")
            self.warning.setVisible(bool(result.warnings))
            self.result = result
            return
        if result.flagged:
            hidden = result.path not in self._shown_anyway
            link = " — findings hidden; <a href='show' style='color:#ffd0d0'>show anyway</a>" if hidden else ""
            reason = html.escape(result.input_check.reason)
            self.gate_banner.setText(f"{GATE_BANNER}{link}<br><span style='font-weight:normal'>{reason}</span>")
            self.gate_banner.setVisible(True)
            if hidden:
                self.message.setText("Findings hidden: this image does not look like a frontal chest radiograph.")
                self.stack.setCurrentWidget(self.message)
                self.table.setRowCount(0)
                self.abnormality.setVisible(False)
                self._abnormality_map = False
                self.finding_selected.emit("")
                return
        else:
            self.gate_banner.setVisible(False)
        self.stack.setCurrentWidget(self.table_page)
        self._show_abnormality(result)
        if previous == ABNORMALITY_MAP:
            self._fill(None, emit=False)
            self.show_abnormality_map()
            return
        if previous and not self.show_all.isChecked():
            shown = {f.label for f in short_list(sorted_findings(result.findings))}
            if previous not in shown:
                previous = None  # the kept label is collapsed away: select the default instead
        self._fill(previous)

    def _show_abnormality(self, result: ImageResult) -> None:
        """The case call above the list (engine.case_call: the same words as the worklist and the
        exports): the abnormality score on the same scale, and a note when a finding disagrees."""
        ab, call = result.abnormality, case_call(result)
        if call is None or ab is None:  # without an abnormality output the list itself is the call
            self.abnormality.setVisible(False)
            return
        colour = "#ff9070" if call.call == "abnormal" else "#ffb000" if call.discordant else "#d0d0d0"
        text = f"<b style='color:{colour}'>{html.escape(call.text)}</b>"
        if call.note:
            text += f"<br><span style='color:#ffb000'>⚠ {html.escape(call.note)}</span>"
        if ab is not None and ABNORMALITY_MAP in result.heatmaps:
            text += " <a href='map' style='color:#8ab4f8'>abnormality map</a>"
        self.abnormality.setText(text)
        self.abnormality.setToolTip("The case call: the model's abnormality output at its operating point "
                                    "(any finding), read together with the findings below")
        self.abnormality.setVisible(True)

    def show_abnormality_map(self) -> None:
        """Show the abnormality output's own map (no finding selected)."""
        if self.result is None or ABNORMALITY_MAP not in self.result.heatmaps:
            return
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.blockSignals(False)
        self._abnormality_map = True
        self.finding_selected.emit(ABNORMALITY_MAP)

    def shown_map(self) -> str:
        """The map shown: the selected finding's, or the abnormality output's (``ABNORMALITY_MAP``)."""
        return ABNORMALITY_MAP if self._abnormality_map else self.selected_label()

    def _refill(self) -> None:
        if self.result is not None and not self.result.error:
            self._fill(self.selected_label())

    def _fill(self, previous: str | None, *, emit: bool = True) -> None:
        result = self.result
        self._abnormality_map = False
        ordered = sorted_findings(result.findings)
        findings = ordered if self.show_all.isChecked() else short_list(ordered)
        hidden = len(ordered) - len(findings)
        self.show_all.setVisible(hidden > 0 or self.show_all.isChecked())
        self.show_all.setText("Show fewer" if self.show_all.isChecked() else f"Show all {len(ordered)} findings (+{hidden})")
        n_pos = sum(1 for f in findings if f.reliable and f.positive)
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.clearSpans()
        self.table.setRowCount(len(findings) + 1)  # + the operating-point line
        bold = QFont()
        bold.setBold(True)
        row = 0
        for i, f in enumerate(findings):
            if i == n_pos:
                self._separator(row, n_pos)
                row += 1
            self._finding_row(row, f, bold)
            row += 1
        if n_pos == len(findings):
            self._separator(row, n_pos)
        self.table.blockSignals(False)
        if not emit:
            return
        if previous and self.select_label(previous):
            return
        self.finding_selected.emit(self.selected_label())

    def _separator(self, row: int, n_pos: int) -> None:
        text = "── below the operating point ──" if n_pos else "── no positive finding; below the operating point ──"
        item = QTableWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setForeground(QBrush(GREY))
        item.setToolTip(ORDER_RULE)
        self.table.setItem(row, 0, item)
        self.table.setSpan(row, 0, 1, 3)
        self.table.setRowHeight(row, 18)

    def _finding_row(self, row: int, f: Finding, bold: QFont) -> None:
        kind = finding_kind(f)
        name = QTableWidgetItem(f.label.replace("_", " "))
        name.setData(LABEL_ROLE, f.label)
        bar = QTableWidgetItem()
        bar.setData(PROB_ROLE, float(f.probability))
        bar.setData(KIND_ROLE, kind)
        bar.setData(Qt.ItemDataRole.UserRole + 4, float(f.threshold))
        bar.setToolTip(f"p = {f.probability:.3f}, operating point {f.threshold:.3f} (the tick)\n\n{ORDER_RULE}")
        status = QTableWidgetItem({"positive": "positive", "negative": "", "unreliable": "not reliable"}[kind])
        if kind == "unreliable":
            status.setToolTip("Too few training examples of this label: the model cannot predict it")
        for item in (name, bar, status):
            if kind == "positive":
                item.setBackground(QBrush(POSITIVE_BG))
                item.setFont(bold)
            elif kind == "unreliable":
                item.setForeground(QBrush(GREY))
        self.table.setItem(row, 0, name)
        self.table.setItem(row, 1, bar)
        self.table.setItem(row, 2, status)
        self.table.setRowHeight(row, 24)

    def labels(self) -> list[str]:
        """The labels listed now, top to bottom (the operating-point line is not one)."""
        items = (self.table.item(r, 0) for r in range(self.table.rowCount()))
        return [it.data(LABEL_ROLE) for it in items if it is not None and it.data(LABEL_ROLE)]

    def row_of(self, label: str) -> int:
        for r in range(self.table.rowCount()):
            it = self.table.item(r, 0)
            if it is not None and it.data(LABEL_ROLE) == label:
                return r
        return -1

    def select_label(self, label: str) -> bool:
        """Select ``label``'s row; a finding collapsed out of the short list is shown first."""
        row = self.row_of(label)
        if row < 0 and self.result is not None and any(f.label == label for f in self.result.findings) \
                and not self.show_all.isChecked():
            self.show_all.setChecked(True)  # expands the list (its toggled handler refills the table)
            self._refill()
            row = self.row_of(label)
        if row < 0:
            return False
        self.table.selectRow(row)
        self._abnormality_map = False
        self.finding_selected.emit(label)  # also when it was already selected: redraw
        return True

    def selected_label(self) -> str:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return ""
        item = self.table.item(rows[0].row(), 0)
        return item.data(LABEL_ROLE) if item is not None else ""

    def _selection_changed(self) -> None:
        self._abnormality_map = False
        self.finding_selected.emit(self.selected_label())

    # --- display settings --------------------------------------------------------------------
    @property
    def colormap_name(self) -> str:
        return self.colormap.currentText()

    @property
    def opacity_value(self) -> float:
        return self.opacity.value() / 100.0

    @property
    def threshold_value(self) -> int:
        return self.threshold.value()

    @property
    def threshold_is_manual(self) -> bool:
        return self.threshold.value() != self.model_threshold

    def set_model_threshold(self, value: int) -> None:
        """The model's own box threshold: the slider goes (back) to it; a manual change shows as such."""
        self.model_threshold = int(value)
        self.threshold.setValue(int(value))
        self._threshold_changed(self.threshold.value())

    def _threshold_changed(self, value: int) -> None:
        manual = value != self.model_threshold
        self.threshold_label.setText(f"{value} (manual)" if manual else f"{value} (model)")
        self.threshold_label.setStyleSheet("color: #ffb000; font-weight: bold;" if manual else "")
        self.threshold_label.setToolTip(f"The model's own box threshold is {self.model_threshold}")
        self.threshold_reset.setEnabled(manual)
