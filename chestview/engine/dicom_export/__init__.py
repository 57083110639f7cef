"""DICOM objects of chestview's results (Comprehensive SR, GSPS, Secondary Capture) via highdicom."""

from chestview.engine.dicom_export.exporter import DicomExporter
from chestview.engine.dicom_export.source import NotDicomSource, is_dicom_file

__all__ = ["DicomExporter", "NotDicomSource", "is_dicom_file"]
