"""The source image's header, as the DICOM objects need it: identity, geometry and display."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom import config
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value

from chestview import __version__
from chestview.engine.errors import ChestviewError
from chestview.engine.io.detect import sniff_file
from chestview.engine.io.dicom import output_range_sum, read_dataset
from chestview.engine.io.image import XrayImage
from chestview.engine.zoo.card import ModelCard
from chestview.engine.zoo.quality import model_warning_line

# Patient and study attributes that highdicom copies with plain attribute access (Type 2 in the
# output): a source without them still gets a valid object, with the attribute empty.
_TYPE2_IDENTITY = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "AccessionNumber", "StudyID", "StudyDate", "StudyTime", "ReferringPhysicianName",
)
_REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")


class NotDicomSource(ChestviewError):
    """The input is PNG/JPEG: it has no patient or study identity to file DICOM objects under."""


@dataclass(frozen=True)
class Algorithm:
    """The model as the observer of the report."""

    model_id: str
    architecture: str
    weights_sha256: str
    software_version: str
    warning: str = ""  # the model's quality warning (engine.zoo.quality), "" when it meets its targets
    site: str = ""  # the site profile whose calibration and operating points were used ("" = the card's)

    @classmethod
    def from_card(cls, card: ModelCard) -> "Algorithm":
        site = str((card.calibration or {}).get("site") or "")
        return cls(card.id, card.architecture, card.sha256, f"chestview {__version__}", model_warning_line(card), site)


def is_dicom_file(path: str | Path) -> bool:
    return sniff_file(path) in ("dicom", "dicom-raw")


def read_source_header(path: str | Path) -> Dataset:
    """The source's header without pixel data, ready to be referenced (and never written back)."""
    fmt = sniff_file(path)
    if fmt not in ("dicom", "dicom-raw"):
        raise NotDicomSource(f"{path}: not a DICOM file, so no DICOM objects (PNG/JPEG have no patient or study identity)")
    ds = read_dataset(Path(path), force=fmt == "dicom-raw", stop_before_pixels=True)
    missing = [k for k in _REQUIRED_UIDS if not str(ds.get(k, "")).strip()]
    if missing:
        raise ChestviewError(f"{path}: cannot reference this DICOM image in DICOM objects: it has no {', '.join(missing)}")
    if not ds.get("Rows") or not ds.get("Columns"):
        raise ChestviewError(f"{path}: DICOM image header lacks Rows/Columns")
    _drop_invalid_values(ds)
    for keyword in _TYPE2_IDENTITY:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds


def _drop_invalid_values(ds: Dataset) -> None:
    """Leave out top-level values their VR forbids (a PatientAge of "81" instead of "081Y" in the NIH
    DICOM release), so the copies in the new objects are valid; the source file is not touched."""
    for element in list(ds):
        if element.VR in ("SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN", "UT", "UR") or element.value is None:
            continue
        try:
            validate_value(element.VR, element.value, config.RAISE)
        except (ValueError, TypeError):
            del ds[element.tag]


def check_geometry(path: str | Path, ds: Dataset, width: int, height: int) -> None:
    """Boxes are in the pixel space of the image as read; it must be the source's own."""
    if (int(ds.Columns), int(ds.Rows)) != (int(width), int(height)):
        raise ChestviewError(
            f"{path}: result is for a {width}x{height} image but the DICOM file is {ds.Columns}x{ds.Rows}"
        )


def is_monochrome1(ds: Dataset) -> bool:
    return str(ds.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1"


def source_window(ds: Dataset, image: XrayImage, window: tuple[float, float] | None = None) -> tuple[float, float]:
    """The display window (centre, width) in the source's modality units, as a presentation state states it.

    chestview mirrors MONOCHROME1 pixels (``pivot - value``) so that larger is brighter; a window
    in that space maps back by the same mirror.
    """
    centre, width = window if window is not None else image.window
    if not is_monochrome1(ds):
        return float(centre), float(width)
    bits = int(image.metadata.get("bits_stored") or ds.get("BitsStored") or 16)
    return float(output_range_sum(ds, image.pixels, bits) - centre), float(width)
