"""All header elements of a DICOM file as short strings, for a searchable tag panel."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID

from ..errors import ImageLoadError
from .detect import sniff_file
from .dicom import read_dataset

_MAX_VALUE_CHARS = 160
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


@dataclass(frozen=True)
class DicomTag:
    tag: str  # "(0010,0010)"
    keyword: str  # "PatientName"; "" for private or unknown tags
    vr: str
    value: str  # short display string; sequences summarised, binary values sized
    name: str = ""  # "Patient's Name"


def read_dicom_tags(path: str | os.PathLike[str]) -> list[DicomTag]:
    """File meta then dataset elements, in file order; pixel data is never read."""
    p = Path(path)
    try:
        fmt = sniff_file(p)
    except OSError as exc:
        raise ImageLoadError(p, f"cannot read file ({type(exc).__name__})") from None
    if fmt not in ("dicom", "dicom-raw"):
        raise ImageLoadError(p, "not a DICOM file")
    ds = read_dataset(p, force=fmt == "dicom-raw", stop_before_pixels=True)
    meta: Dataset | None = getattr(ds, "file_meta", None)
    elements = list(meta.iterall()) if meta is not None else []
    return [_tag(e) for e in (*elements, *ds)]


def _tag(elem: DataElement) -> DicomTag:
    return DicomTag(
        tag=f"({elem.tag.group:04X},{elem.tag.element:04X})",
        keyword=elem.keyword or "",
        vr=str(elem.VR),
        value=format_value(elem),
        name=elem.name,
    )


def format_value(elem: DataElement) -> str:
    if elem.VR == "SQ":
        n = len(elem.value or [])
        return f"<sequence of {n} item{'s' if n != 1 else ''}>"
    value = elem.value
    if value is None:
        return ""
    if elem.VR in _BINARY_VRS or isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, tuple, MultiValue)):
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    if elem.VR == "UI":
        name = UID(text).name
        if name != text:
            text = f"{text} ({name})"
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"
