"""Export dialogs: the current view as an annotated image (+ JSON), and all studies of the browser."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QWidget,
)

from chestview.engine.paths import user_data_dir, user_documents_dir

FORMATS = ("png", "jpg")
DICOM_FORMAT = "DICOM objects"  # an SR and a presentation state (+ optional secondary capture) in a folder


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def default_export_dir(last: str, sources: list[str]) -> str:
    """Where an export is proposed: the last export folder, else ``<documents>/chestview`` — but
    never beside or inside a source: a folder that holds (at any depth) one of ``sources`` (files or
    folders the studies were opened from) is skipped, so exports never mix with patient data."""
    folders = {Path(s) if Path(s).is_dir() else Path(s).parent for s in sources}
    for candidate in (last, str(user_documents_dir()), str(user_data_dir() / "exports")):
        if candidate and not any(_inside(Path(candidate), f) for f in folders):
            return str(Path(candidate))
    return str(Path.home())  # pragma: no cover - every candidate lies in a study folder


def default_export_path(source: str, folder: str, fmt: str = "png") -> str:
    """``<stem>_annotated.<fmt>`` in ``folder``, numbered (``_2``, ``_3``...) past an earlier export of
    the same image (its image or its JSON), so exporting again never replaces one; never the source."""
    stem = Path(source).stem
    n = 1
    while True:
        out = Path(folder) / (f"{stem}_annotated.{fmt}" if n == 1 else f"{stem}_annotated_{n}.{fmt}")
        taken = out.exists() or out.with_suffix(".json").exists() or out.resolve() == Path(source).resolve()
        if not taken:
            return str(out)
        n += 1


class _PathRow(QWidget):
    def __init__(self, text: str, pick) -> None:
        super().__init__()
        self.edit = QLineEdit(text)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: pick(self.edit))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(button)


_IMAGE_NOTE = ("Full image resolution; heatmap, boxes, findings, model id, date and “not for clinical use”."
               " No patient identifiers are written.")
_DICOM_NOTE = ("A structured report (every finding, its probability, the boxes) and a presentation state (the"
               " positive findings’ boxes and labels, this window) referencing the source image, for a PACS or"
               " viewer. They carry the source’s patient and study identity: that is how a PACS files them.")


class ExportDialog(QDialog):
    """Where to save the annotated image of the current view (a JSON report beside it), or its DICOM objects."""

    def __init__(self, parent: QWidget | None, source: str, folder: str, *, dicom_source: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export annotated image")
        self.source = source
        self._folder = folder
        self._confirmed: Path | None = None  # a name the user chose to replace (Save pressed twice)
        form = QFormLayout(self)
        self.format = QComboBox()
        self.format.addItems([*FORMATS, DICOM_FORMAT])
        if not dicom_source:  # PNG/JPEG have no patient or study identity to file DICOM objects under
            item = self.format.model().item(len(FORMATS))
            item.setEnabled(False)
            item.setToolTip("Only for DICOM source images")
        self.path_row = _PathRow(default_export_path(source, folder), self._pick)
        self.json = QCheckBox("JSON report beside the image (same schema as `chestview predict`)")
        self.json.setChecked(True)
        self.secondary = QCheckBox("Also a secondary capture (the annotated image, marked not for clinical use)")
        self.secondary.setVisible(False)
        form.addRow("Format", self.format)
        self.path_label = QLabel("File")
        form.addRow(self.path_label, self.path_row)
        form.addRow(self.json)
        form.addRow(self.secondary)
        self.note = note = QLabel(_IMAGE_NOTE)
        note.setWordWrap(True)
        note.setStyleSheet("color: #9a9a9a;")
        form.addRow(note)
        self.format.currentTextChanged.connect(self._format_changed)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff7070;")
        form.addRow(self.error)

    def _pick(self, edit: QLineEdit) -> None:
        if self.is_dicom():
            path = QFileDialog.getExistingDirectory(self, "Folder for the DICOM objects", edit.text())
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Export annotated image", edit.text(), "PNG (*.png);;JPEG (*.jpg *.jpeg)")
        if path:
            edit.setText(path)

    def _format_changed(self, fmt: str) -> None:
        dicom = fmt == DICOM_FORMAT
        self.json.setVisible(not dicom)
        self.secondary.setVisible(dicom)
        self.note.setText(_DICOM_NOTE if dicom else _IMAGE_NOTE)
        self.path_label.setText("Folder" if dicom else "File")
        if dicom:
            self.path_row.edit.setText(str(Path(self._folder) / "chestview-dicom"))
        else:
            p = Path(self.path_row.edit.text())
            if p.suffix.lower() in (".png", ".jpg", ".jpeg"):
                self.path_row.edit.setText(str(p.with_suffix("." + fmt)))
            else:
                self.path_row.edit.setText(default_export_path(self.source, self._folder, fmt))

    def _accept(self) -> None:
        if self.is_dicom():
            if not self.output_path():
                self.error.setText("Choose a folder for the DICOM objects")
                return
            self.accept()
            return
        p = Path(self.output_path())
        if p.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            self.error.setText("Use a .png, .jpg or .jpeg file name")
            return
        if p.exists() and p.resolve() == Path(self.source).resolve():
            self.error.setText("That is the source image: choose another name")
            return
        existing = [q for q in (p, *([p.with_suffix(".json")] if self.with_json() else [])) if q.exists()]
        if existing and self._confirmed != p:
            # Ask, in place: a second Save with the same name replaces the earlier export.
            self._confirmed = p
            self.error.setText(f"{', '.join(q.name for q in existing)} already exist{'s' if len(existing) == 1 else ''}"
                               f": Save again to replace, or choose another name")
            return
        self.accept()

    def output_path(self) -> str:
        return self.path_row.edit.text().strip()

    def with_json(self) -> bool:
        return self.json.isChecked()

    def is_dicom(self) -> bool:
        return self.format.currentText() == DICOM_FORMAT

    def secondary_capture(self) -> bool:
        return self.secondary.isChecked()


class BatchExportDialog(QDialog):
    """An output folder for annotated images of every study and one results.json."""

    def __init__(self, parent: QWidget | None, folder: str, sources: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export all studies")
        self.sources = list(sources or [])
        form = QFormLayout(self)
        self.format = QComboBox()
        self.format.addItems(FORMATS)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M")
        self.folder_row = _PathRow(str(Path(folder) / f"chestview-export-{stamp}"), self._pick)
        self.identifiers = QCheckBox("Include full file paths in results.json (may identify patients)")
        form.addRow("Format", self.format)
        form.addRow("Folder", self.folder_row)
        form.addRow(self.identifiers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff7070;")
        form.addRow(self.error)

    def _accept(self) -> None:
        out = Path(self.output_dir())
        folders = {Path(s) if Path(s).is_dir() else Path(s).parent for s in self.sources}
        if any(_inside(out, f) for f in folders):
            self.error.setText("That folder is inside a study folder: choose one outside the patient data")
            return
        self.accept()

    def _pick(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", edit.text())
        if folder:
            edit.setText(folder)

    def output_dir(self) -> str:
        return self.folder_row.edit.text().strip()

    def fmt(self) -> str:
        return self.format.currentText()

    def include_identifiers(self) -> bool:
        return self.identifiers.isChecked()
