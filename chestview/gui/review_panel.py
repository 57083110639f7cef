"""The Review dock: the reader's verdict on each AI finding of the film shown (agree / disagree /
unsure), a read mark, a free-text note, the film's report line with a copy button, and, when a prior
is compared, the table of what changed since it. It only draws and emits; gui/reading.py stores."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

VERDICT_COLOURS = {"agree": QColor(90, 170, 90), "disagree": QColor(220, 80, 80), "unsure": QColor(220, 170, 40)}
CHANGE_COLOURS = {"new": QColor(220, 80, 80), "resolved": QColor(90, 170, 90), "higher": QColor(230, 150, 60),
                  "lower": QColor(110, 160, 220)}
LABEL_ROLE = Qt.ItemDataRole.UserRole + 20


class ReviewPanel(QWidget):
    note_done = Signal()
    verdict_requested = Signal(str, object)  # finding label, verdict ("agree"/"disagree"/"unsure") or None
    read_toggled = Signal(bool)
    note_edited = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._film = ""
        self.title = QLabel("No film")
        self.title.setStyleSheet("font-weight: bold;")
        self.read = QCheckBox("Read")
        self.read.setToolTip("Mark this film read (M); N marks it read and opens the next unread film")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(("Finding", "p", "AI", "Your verdict"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for verdict, key in (("agree", "G"), ("disagree", "D"), ("unsure", "U")):
            b = QPushButton(f"{verdict.capitalize()} ({key})")
            b.setToolTip(f"Your verdict on the selected finding: {verdict} (key {key})")
            b.clicked.connect(lambda _c=False, v=verdict: self._request(v))
            row.addWidget(b)
            self.buttons[verdict] = b
        clear = QPushButton("Clear")
        clear.setToolTip("Take back your verdict on the selected finding")
        clear.clicked.connect(lambda: self._request(None))
        row.addWidget(clear)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note on this film (kept with your review)…")
        self.note.editingFinished.connect(lambda: self.note_edited.emit(self.note.text()))
        # Return: the note is kept and the keys go back to reading (G, D, N… are not typed into it).
        self.note.returnPressed.connect(self.note_done)
        self.report = QLabel("")
        self.report.setWordWrap(True)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report.setStyleSheet("background: #1d2024; padding: 4px; font-family: monospace;")
        self.copy = QPushButton("Copy report line")
        self.copy.setToolTip("Copy the findings sentence for dictation (Ctrl+Shift+C)")
        self.copy.clicked.connect(self.copy_report)
        self.change_title = QLabel("")
        self.changes = QTableWidget(0, 4)
        self.changes.setHorizontalHeaderLabels(("Finding", "Prior p", "Now p", "Change"))
        self.changes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.changes.verticalHeader().setVisible(False)
        self.changes.verticalHeader().setDefaultSectionSize(20)
        ch = self.changes.horizontalHeader()
        ch.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        ch.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.set_changes(None, [])

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.read)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.table, 2)
        layout.addLayout(row)
        layout.addWidget(self.note)
        layout.addWidget(self.report)
        layout.addWidget(self.copy)
        layout.addWidget(self.change_title)
        layout.addWidget(self.changes, 1)
        self.read.toggled.connect(self.read_toggled)

    # -- content ----------------------------------------------------------------------------
    def set_film(self, name: str, result: Any, review: Any, report: str) -> None:
        """Show one film: its findings (None: no result yet) with the reader's verdicts, read mark and note."""
        self.title.setText(name or "No film")
        self.read.blockSignals(True)
        self.read.setChecked(bool(review is not None and review.read))
        self.read.setEnabled(review is not None)
        self.read.blockSignals(False)
        if not self.note.hasFocus():
            self.note.setText(review.note if review is not None else "")
        self.note.setEnabled(review is not None)
        # The same film again (a verdict given): keep the row; another film: start at its first finding.
        keep = self.selected_label() if name == self._film else ""
        self._film = name
        verdicts = dict(review.verdicts) if review is not None else {}
        findings = [f for f in result.findings if f.reliable] if result is not None and not result.flagged else []
        self.table.setRowCount(len(findings))
        for i, f in enumerate(findings):
            verdict = verdicts.get(f.label, "")
            cells = (f.label.replace("_", " "), f"{f.probability:.2f}", "positive" if f.positive else "–", verdict)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(LABEL_ROLE, f.label)
                if c == 3 and verdict:
                    item.setForeground(QBrush(VERDICT_COLOURS[verdict]))
                if f.positive and c < 3:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(i, c, item)
        labels = [f.label for f in findings]
        if labels:
            self.table.selectRow(labels.index(keep) if keep in labels else 0)
        self.report.setText(report)
        self.copy.setEnabled(bool(report))

    def set_changes(self, title: str | None, changes: list) -> None:
        """The change table against the prior (``title`` None: no prior compared; hidden)."""
        self.change_title.setText(title or "")
        self.change_title.setVisible(title is not None)
        self.changes.setVisible(title is not None)
        self.changes.setRowCount(len(changes))
        for i, c in enumerate(changes):
            cells = (c.label.replace("_", " "), "" if c.prior is None else f"{c.prior:.2f}",
                     "" if c.current is None else f"{c.current:.2f}", c.status)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 3 and c.status in CHANGE_COLOURS:
                    item.setForeground(QBrush(CHANGE_COLOURS[c.status]))
                self.changes.setItem(i, col, item)

    def selected_label(self) -> str:
        items = self.table.selectedItems()
        return str(items[0].data(LABEL_ROLE)) if items else ""

    def labels(self) -> list[str]:
        return [str(self.table.item(i, 0).data(LABEL_ROLE)) for i in range(self.table.rowCount())]

    def select_step(self, delta: int) -> None:
        n = self.table.rowCount()
        if n:
            rows = self.table.selectionModel().selectedRows()
            i = rows[0].row() + delta if rows else 0
            self.table.selectRow(max(0, min(n - 1, i)))

    def _request(self, verdict: str | None) -> None:
        label = self.selected_label()
        if label:
            self.verdict_requested.emit(label, verdict)

    def copy_report(self) -> str:
        text = self.report.text()
        if text:
            QGuiApplication.clipboard().setText(text)
        return text
