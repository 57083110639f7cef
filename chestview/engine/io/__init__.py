"""Reading chest X-ray studies: PNG, JPEG and DICOM into one image type.

Public API: :func:`load_image`, :func:`scan_paths`, :func:`iter_image_files`, :func:`read_dicom_tags`,
:func:`thumbnail`, :func:`detect_format`/:func:`sniff_file`, and the dataclasses they return.
"""

from ._common import MAX_PIXELS
from .checks import chest_header_warnings
from .detect import FileFormat, detect_format, is_image_file, sniff_file
from .image import XrayImage
from .loader import load_image
from .scan import ImageRef, Patient, ScanProgress, ScanResult, Series, Study, iter_image_files, scan_paths
from .tags import DicomTag, read_dicom_tags
from .thumbnail import thumbnail

__all__ = [
    "MAX_PIXELS",
    "DicomTag",
    "FileFormat",
    "ImageRef",
    "Patient",
    "ScanProgress",
    "ScanResult",
    "Series",
    "Study",
    "XrayImage",
    "chest_header_warnings",
    "detect_format",
    "is_image_file",
    "iter_image_files",
    "load_image",
    "read_dicom_tags",
    "scan_paths",
    "sniff_file",
    "thumbnail",
]
