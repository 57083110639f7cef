"""The DICOM tag panel (searchable) and the image information panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView, QFormLayout, QHeaderView, QLabel, QLineEdit, QSizePolicy, QTableView, QVBoxLayout,
    QWidget,
)

from chestview.engine.io import read_dicom_tags
from chestview.engine.io.detect import sniff_file
from chestview.engine.io.image import XrayImage

COLUMNS = ("Keyword", "Value", "Tag", "VR")
# Values hidden when identifiers are (screenshots): what names or points to the patient (after the
# DICOM basic de-identification profile, PS3.15 E.1-1).
IDENTIFYING_KEYWORDS = frozenset({
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "OtherPatientIDsSequence",
    "PatientBirthDate", "PatientBirthName", "PatientMotherBirthName", "PatientAddress",
    "PatientTelephoneNumbers", "IssuerOfPatientID", "AccessionNumber", "InstitutionName",
    "InstitutionAddress", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
    "MedicalRecordLocator", "StudyID",
})


def tags_job(path: str) -> tuple[str, list]:
    """Worker job: (path, tags) for a DICOM file, (path, []) for other files."""
    try:
        fmt = sniff_file(Path(path))
    except OSError:
        return path, []
    if fmt not in ("dicom", "dicom-raw"):
        return path, []
    return path, read_dicom_tags(path)


class TagPanel(QWidget):
    def __init__(self, parent: QWidget | None = None, *, hide_identifiers: bool = False) -> None:
        super().__init__(parent)
        self.hide_identifiers = hide_identifiers
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)  # search every column

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tags (keyword, tag, value)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(150)
        header.setStretchLastSection(True)
        self.note = QLabel("")
        self.note.setStyleSheet("color: #8a8f94;")
        self.note.setWordWrap(True)  # "not a DICOM file" and the like wrap rather than widen the dock
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.search)
        layout.addWidget(self.table)
        layout.addWidget(self.note)

    def set_tags(self, tags: list, *, note: str = "") -> None:
        self.model.removeRows(0, self.model.rowCount())
        for t in tags:
            value = "(hidden)" if self.hide_identifiers and t.keyword in IDENTIFYING_KEYWORDS else t.value
            row = [QStandardItem(str(v)) for v in (t.keyword or t.name, value, t.tag, t.vr)]
            row[0].setToolTip(f"{t.name} {t.tag} {t.vr}")
            row[1].setToolTip(value)
            self.model.appendRow(row)
        self.note.setText(note or (f"{len(tags)} elements" if tags else "Not a DICOM file: no tags"))

    def row_count(self) -> int:
        return self.proxy.rowCount()


class ImageInfoPanel(QWidget):
    """Size, spacing, photometric interpretation, window and loader warnings of the current image."""

    FIELDS = ("File", "Size", "Pixel spacing", "Photometric", "Modality", "Window", "Value range", "Warnings")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        self._image: XrayImage | None = None
        self.labels: dict[str, QLabel] = {}
        for name in self.FIELDS:
            lab = QLabel("–")
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lab.setWordWrap(True)
            # A long value (a file name without spaces) wraps or is cut, never widens the dock: the
            # film keeps its width while stepping (the full path is the File row's tooltip).
            lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.labels[name] = lab
            form.addRow(name, lab)

    def set_image(self, image: XrayImage | None, window: tuple[float, float] | None = None) -> None:
        self._image = image
        if image is None:
            for lab in self.labels.values():
                lab.setText("–")
            return
        md = image.metadata or {}
        spacing = image.pixel_spacing
        self.labels["File"].setText(Path(image.path).name)
        self.labels["File"].setToolTip(image.path)
        self.labels["Size"].setText(f"{image.width} × {image.height} px")
        self.labels["Pixel spacing"].setText(
            f"{spacing[0]:.3f} × {spacing[1]:.3f} mm (row × col)" if spacing else "unknown (sizes in pixels)"
        )
        photometric = md.get("photometric") or md.get("PhotometricInterpretation") or md.get("photometric_interpretation")
        if photometric is None:
            photometric = "MONOCHROME2 (raster)" if md.get("format") in ("png", "jpeg") else "–"
        if str(photometric).upper() == "MONOCHROME1":
            photometric = "MONOCHROME1 (inverted for display)"
        self.labels["Photometric"].setText(str(photometric))
        self.labels["Modality"].setText(str(md.get("modality") or md.get("Modality") or "–"))
        self.set_window(window or image.window)
        # Stored values (MONOCHROME1 mirrored back), as the header and the cursor readout give them.
        lo, hi = sorted((image.stored_value(float(image.pixels.min())), image.stored_value(float(image.pixels.max()))))
        self.labels["Value range"].setText(f"{lo:g} … {hi:g}")
        self.labels["Warnings"].setText("; ".join(image.warnings) or "none")

    def set_window(self, window: tuple[float, float]) -> None:
        c, w = self._image.stored_window(window) if self._image is not None else window
        self.labels["Window"].setText(f"centre {c:g}, width {w:g}")
