"""``--dicom-out``: one result's DICOM objects, reported the CLI's way (one line per problem)."""

from __future__ import annotations

from chestview.cli.common import one_line
from chestview.cli.progress import write_stderr
from chestview.engine.dicom_export import DicomExporter, NotDicomSource
from chestview.engine.errors import ChestviewError
from chestview.engine.io.image import XrayImage
from chestview.engine.results import ImageResult


def export_dicom(exporter: DicomExporter, result: ImageResult, image: XrayImage | None = None) -> None:
    """PNG/JPEG inputs get a note (they have no DICOM identity); a failure marks the result as failed."""
    try:
        exporter.export(result, image=image)
    except NotDicomSource as exc:
        write_stderr(f"chestview: note: {one_line(exc)}")
    except ChestviewError as exc:
        result.error = str(exc)
        write_stderr(f"chestview: {one_line(exc)}")
