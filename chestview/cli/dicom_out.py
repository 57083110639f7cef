"""``--dicom-out``: one result's DICOM objects, reported the CLI's way (one line per problem)."""

from __future__ import annotations

from chestview.cli.common import os_error_text, report
from chestview.engine.dicom_export import DicomExporter, NotDicomSource
from chestview.engine.errors import ChestviewError
from chestview.engine.io.image import XrayImage
from chestview.engine.results import ImageResult


def export_dicom(exporter: DicomExporter, result: ImageResult, image: XrayImage | None = None) -> None:
    """PNG/JPEG inputs get a note (they have no DICOM identity); a failure (an unusable header, a
    folder that cannot be written, a full disk) marks this result as failed and the batch goes on."""
    try:
        exporter.export(result, image=image)
    except NotDicomSource as exc:
        report(f"note: {exc}")
    except ChestviewError as exc:
        result.error = str(exc)
        report(str(exc))
    except OSError as exc:
        result.error = os_error_text(exc)
        report(result.error)
