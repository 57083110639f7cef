"""The training tab's "Reader verdicts" view: the table of a model against the reader's own verdicts,
drawn from the ``ReaderEvaluation`` that ``chestview.engine.evaluate.against_reader`` returns (its
``table_rows`` and ``summary``); nothing is computed here."""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

HEADER = ("Finding", "n", "Positives", "AUROC", "Sensitivity", "Specificity", "Agreement", "Threshold")
TIPS = {
    "Positives": "films the reader calls positive: agreeing with a positive call or disagreeing with a negative one",
    "AUROC": "only where the reader's labels hold both positives and negatives",
    "Sensitivity": "share of the reader's positives the model calls positive at its operating point",
    "Specificity": "share of the reader's negatives the model calls negative at its operating point",
    "Agreement": "share of films where the model's call is the reader's label",
    "Threshold": "the model's operating point for the finding",
}


class ReaderVerdictView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("Evaluate a model against a verdict CSV (chestview worklist PATH --reviews CSV)")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADER))
        self.table.setHorizontalHeaderLabels(HEADER)
        for col, name in enumerate(HEADER):
            if name in TIPS:
                self.table.horizontalHeaderItem(col).setToolTip(TIPS[name])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.errors = QLabel("")
        self.errors.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.errors)

    def show_result(self, result) -> None:
        rows = result.table_rows()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.summary.setText(result.summary() + (" (stopped)" if result.cancelled else ""))
        shown = list(result.errors[:10])
        more = len(result.errors) - len(shown)
        self.errors.setText("\n".join(shown + ([f"… and {more} more"] if more > 0 else [])))
