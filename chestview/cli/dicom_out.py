"""``--dicom-out``: one result's DICOM objects, reported the CLI's way (one line per problem)."""

from __future__ import annotations

import sys

from chestview.engine.dicom_export import DicomExporter, NotDicomSource
from chestview.engine.errors import ChestviewError
from chestview.engine.io.image import XrayImage
from chestview.engine.results import ImageResult


def export_dicom(exporter: DicomExporter, result: ImageResult, image: XrayImage | None = None) -> None:
    """PNG/JPEG inputs get a note (they have no DICOM identity); a failure marks the result as failed."""
    try:
        exporter.export(result, image=image)
    except NotDicomSource as exc:
        print(f"chestview: note: {exc}", file=sys.stderr)
    except ChestviewError as exc:
        result.error = str(exc)
        print(f"chestview: {exc}", file=sys.stderr)
