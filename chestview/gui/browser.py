"""The study browser: patient → study → series → image for DICOM, single PNG/JPEG images, and the
files that could not be opened (with the reason), with thumbnails, a filter box and drag and drop."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHeaderView, QLabel, QLineEdit, QToolBar, QTreeWidget, QTreeWidgetItem, QTreeWidgetItemIterator, QVBoxLayout,
    QWidget,
)

from chestview.engine.errors import ChestviewError
from chestview.engine.io import load_image, scan_paths, thumbnail
from chestview.engine.results import abnormality_score
from chestview.gui.state import Catalog, CatalogImage

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
TITLE_ROLE = Qt.ItemDataRole.UserRole + 2
FLAGGED_COLOUR = QColor("#ff9b9b")  # the input gate flagged the image: not scored
THUMB = 56
MAX_THUMBNAILS = 300


def catalog_from_scan(scan) -> Catalog:
    """Flatten the engine's ScanResult (patients → studies → series → images) into the browser's list."""
    images: list[CatalogImage] = []
    for patient in scan.patients:
        for study in patient.studies:
            for series in study.series:
                for ref in series.images:
                    path = str(ref.path)
                    if ref.kind != "dicom":
                        images.append(CatalogImage(path, Path(path).name))
                        continue
                    pid = patient.id or "(no patient ID)"
                    pname = f" {patient.name}" if patient.name else ""
                    study_text = " ".join(t for t in (_date(study.date), study.description) if t) or "Study"
                    series_text = " ".join(
                        t for t in (series.modality, series.description, f"#{series.number}" if series.number else "") if t
                    ) or "Series"
                    title = Path(path).name if ref.instance_number is None else f"{ref.instance_number}: {Path(path).name}"
                    images.append(
                        CatalogImage(
                            path, title, patient=f"{pid}{pname}", study=study_text, series=series_text,
                            is_dicom=True, info=f"{series.modality or ''} {ref.frames} frame(s)".strip(),
                            patient_id=patient.id or "", study_date=study.date or "", study_uid=study.uid or "",
                            accession=study.accession or "", view=ref.view or "", modality=series.modality or "",
                        )
                    )
    return Catalog(images, list(scan.errors))


def _date(d: str | None) -> str:
    if d and len(d) == 8 and d.isdigit():
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    return d or ""


def scan_job(paths: list[str], *, on_event=None, should_stop=None) -> Catalog:
    """Worker job: list the studies under ``paths`` (headers only)."""
    return catalog_from_scan(scan_paths(paths, on_event=on_event, should_stop=should_stop))


def thumbnails_job(paths: list[str], size: int = THUMB) -> Iterator[tuple[str, np.ndarray | None]]:
    """Worker generator: (path, uint8 thumbnail or None) for each image."""
    for path in paths[:MAX_THUMBNAILS]:
        try:
            yield path, thumbnail(load_image(path), size)
        except (ChestviewError, OSError, ValueError, MemoryError):
            yield path, None


def result_flag(result) -> tuple[bool, float]:
    """(abnormal?, score) of a result: the abnormality score when the model has one, else the top
    finding's probability (``engine.results.abnormality_score``); abnormal = a positive finding."""
    ab = getattr(result, "abnormality", None)
    positive = ab.positive if ab is not None else any(f.positive and f.reliable for f in result.findings)
    return bool(positive), float(abnormality_score(result))


def gray_to_pixmap(arr: np.ndarray) -> QPixmap:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = arr.shape[:2]
    if arr.ndim == 2:
        qimg = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        qimg = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimg.copy())


class StudyBrowser(QWidget):
    image_selected = Signal(str)
    paths_dropped = Signal(list)

    def __init__(
        self, actions: list[QAction] | None = None, parent: QWidget | None = None, *, hide_identifiers: bool = False
    ) -> None:
        super().__init__(parent)
        # Screenshots and window captures: patients shown as "Patient 1", "Patient 2"…, not by name and ID.
        self.hide_identifiers = hide_identifiers
        self.catalog = Catalog()
        self._items: dict[str, QTreeWidgetItem] = {}
        self._warnings: dict[str, list[str]] = {}
        self.roots: list[str] = []  # the files and folders the catalogue was opened from
        self.setAcceptDrops(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        if actions:
            bar = QToolBar()
            bar.setIconSize(QSize(16, 16))
            bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            for a in actions:
                bar.addAction(a)
            layout.addWidget(bar)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter (name, patient, study)…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.apply_filter)
        layout.addWidget(self.filter_edit)
        self.filter_status = QLabel("")
        self.filter_status.setStyleSheet("color: #ffb000; padding: 1px 4px;")
        self.filter_status.setWordWrap(True)
        self.filter_status.setVisible(False)
        layout.addWidget(self.filter_status)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setUniformRowHeights(False)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.tree.setAcceptDrops(False)
        layout.addWidget(self.tree)

    # --- content -----------------------------------------------------------------------------
    def set_catalog(self, catalog: Catalog) -> None:
        """Show a newly opened catalogue; a filter typed for the previous one is cleared (it would
        otherwise hide the new studies without saying so)."""
        self.catalog = catalog
        self.filter_edit.blockSignals(True)
        self.filter_edit.clear()
        self.filter_edit.blockSignals(False)
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items.clear()
        self._warnings.clear()
        groups: dict[tuple, QTreeWidgetItem] = {}

        def group(key: tuple, parent: QTreeWidgetItem | None, text: str) -> QTreeWidgetItem:
            if key not in groups:
                item = QTreeWidgetItem([text])
                (parent.addChild(item) if parent is not None else self.tree.addTopLevelItem(item))
                item.setExpanded(True)
                groups[key] = item
            return groups[key]

        pseudonyms: dict[str, int] = {}
        for im in catalog.images:
            item = QTreeWidgetItem([im.title])
            item.setData(0, PATH_ROLE, im.path)
            item.setData(0, TITLE_ROLE, im.title)
            item.setToolTip(0, f"{im.path}\n{im.info}".strip())
            if im.is_dicom:
                number = pseudonyms.setdefault(im.patient, len(pseudonyms) + 1)
                label = f"Patient {number} (identifiers hidden)" if self.hide_identifiers else f"Patient {im.patient}"
                p = group(("p", im.patient), None, label)
                s = group(("s", im.patient, im.study), p, im.study)
                se = group(("se", im.patient, im.study, im.series), s, im.series)
                se.addChild(item)
            else:
                self.tree.addTopLevelItem(item)
            self._items[im.path] = item
        if catalog.errors:
            err = QTreeWidgetItem([f"Could not open ({len(catalog.errors)})"])
            err.setForeground(0, QBrush(QColor("#ff6b6b")))
            self.tree.addTopLevelItem(err)
            for path, reason in catalog.errors:
                child = QTreeWidgetItem([f"{Path(path).name}: {reason}"])
                child.setToolTip(0, f"{path}\n{reason}")
                child.setForeground(0, QBrush(QColor("#ff9b9b")))
                err.addChild(child)
            err.setExpanded(True)
        self.tree.blockSignals(False)
        self.apply_filter(self.filter_edit.text())

    def add_catalog(self, catalog: Catalog) -> list[str]:
        """Join ``catalog`` to the one shown (files dropped on the window); images already listed keep
        their thumbnails, marks and scores. Returns the images that are new (they need thumbnails)."""
        known = set(self.catalog.paths())
        kept = {p: (item.icon(0), item.text(1), item.foreground(1), item.toolTip(1), item.foreground(0))
                for p, item in self._items.items()}
        warnings = {p: list(w) for p, w in self._warnings.items()}
        self.set_catalog(self.catalog.merge(catalog))
        for path, (icon, text, colour, tip, title_colour) in kept.items():
            item = self._items.get(path)
            if item is None:
                continue
            item.setIcon(0, icon)
            item.setText(1, text)
            item.setForeground(1, colour)
            item.setToolTip(1, tip)
            item.setForeground(0, title_colour)
            if warnings.get(path):
                self._warnings[path] = warnings[path]
                item.setText(0, self._title_text(path))
        return [p for p in self.catalog.paths() if p not in known]

    def set_thumbnail(self, path: str, arr: np.ndarray | None) -> None:
        item = self._items.get(path)
        if item is not None and arr is not None:
            item.setIcon(0, QIcon(gray_to_pixmap(arr)))

    def add_warnings(self, path: str, warnings) -> None:
        """Mark an image whose loading or input check warned (⚠ before its name, the text as tooltip)."""
        item = self._items.get(path)
        new = [w for w in warnings if w not in self._warnings.get(path, [])]
        if item is None or not new:
            return
        self._warnings.setdefault(path, []).extend(new)
        item.setText(0, self._title_text(path))
        item.setForeground(0, QBrush(QColor("#ffc040")))
        item.setToolTip(0, f"{path}\n" + "\n".join(f"⚠ {w}" for w in self._warnings[path]))

    def set_result(self, path: str, result) -> None:
        """The image's flag and score after a run: "+ 0.62" (red) when the model calls it abnormal."""
        item = self._items.get(path)
        if item is None:
            return
        if result is None:
            item.setText(1, "")
            return
        if result.error:
            item.setText(1, "error")
            item.setForeground(1, QBrush(QColor("#ff6b6b")))
            item.setToolTip(1, result.error)
            return
        if result.warnings:
            self.add_warnings(path, result.warnings)
        if result.flagged:
            # The input gate's verdict, never a score: its findings are hidden in the app.
            item.setText(1, "flagged")
            for column in (0, 1):
                item.setForeground(column, QBrush(FLAGGED_COLOUR))
            item.setToolTip(1, f"Not a frontal chest radiograph? {result.input_check.reason} (findings hidden)")
            return
        positive, score = result_flag(result)
        item.setText(1, f"{'+ ' if positive else ''}{score:.2f}" if score == score else "–")  # NaN: no score
        item.setForeground(1, QBrush(QColor("#ff8a65" if positive else "#a0a4a8")))
        item.setToolTip(1, "abnormal (a positive finding)" if positive else "no positive finding")
        item.setForeground(0, QBrush(QColor("#ffc040")) if self._warnings.get(path) else QBrush())

    def clear_results(self) -> None:
        for item in self._items.values():
            item.setText(1, "")

    def _title_text(self, path: str) -> str:
        """The image's title, with ⚠ when it warned."""
        item = self._items[path]
        title = item.data(0, TITLE_ROLE) or Path(path).name
        return f"{'⚠ ' if self._warnings.get(path) else ''}{title}"

    def paths(self) -> list[str]:
        return self.catalog.paths()

    def visible_paths(self) -> list[str]:
        return [p for p in self.catalog.paths() if not self._items[p].isHidden()]

    # --- selection ---------------------------------------------------------------------------
    def current_path(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, PATH_ROLE) if item is not None else None

    def select_path(self, path: str) -> bool:
        item = self._items.get(path)
        if item is None:
            return False
        self.tree.setCurrentItem(item)
        self.tree.scrollToItem(item)
        return True

    def select_offset(self, step: int) -> bool:
        """Next (+1) / previous (-1) visible image; wraps around nothing (stops at the ends)."""
        paths = self.visible_paths()
        if not paths:
            return False
        cur = self.current_path()
        if cur not in paths:
            return self.select_path(paths[0 if step > 0 else -1])
        i = paths.index(cur) + step
        if 0 <= i < len(paths):
            return self.select_path(paths[i])
        return False

    def _current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is None:
            return
        path = current.data(0, PATH_ROLE)
        if path:
            self.image_selected.emit(path)

    # --- filter ------------------------------------------------------------------------------
    def apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        by_path = {im.path: im for im in self.catalog.images}
        for path, item in self._items.items():
            im = by_path[path]
            hay = f"{im.title} {im.path} {im.patient} {im.study} {im.series}".lower()
            item.setHidden(bool(needle) and needle not in hay)
        # Hide groups whose images are all hidden (bottom-up).
        it = QTreeWidgetItemIterator(self.tree)
        groups = []
        while it.value():
            item = it.value()
            if item.childCount() and item.data(0, PATH_ROLE) is None:
                groups.append(item)
            it += 1
        for g in reversed(groups):
            if g.text(0).startswith("Could not open"):
                continue
            g.setHidden(all(g.child(i).isHidden() for i in range(g.childCount())))
        hidden = sum(item.isHidden() for item in self._items.values())
        self.filter_status.setText(
            f"Filter “{text.strip()}” hides {hidden} of {len(self._items)} images" if needle and hidden else ""
        )
        self.filter_status.setVisible(bool(needle and hidden))

    @property
    def hidden_count(self) -> int:
        return sum(item.isHidden() for item in self._items.values())

    # --- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        accept_file_drag(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = dropped_paths(event)
        if paths:
            self.paths_dropped.emit(paths)


def accept_file_drag(event) -> None:
    """Accept a drag that carries files or folders (the browser and the main window share this)."""
    if event.mimeData().hasUrls():
        event.acceptProposedAction()


def dropped_paths(event) -> list[str]:
    """The local files and folders of a drop; the drop is accepted when there are any."""
    paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
    if paths:
        event.acceptProposedAction()
    return paths
