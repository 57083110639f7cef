"""The one entry point to read an image file, whatever its format."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ImageLoadError
from ._common import MAX_PIXELS, file_problem, short_cause
from .detect import sniff_file
from .dicom import read_dicom
from .image import XrayImage
from .raster import read_raster


def load_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> XrayImage:
    """Read a PNG, JPEG or DICOM file (format detected from content) into an :class:`XrayImage`.

    Every failure, expected or not, is an :class:`ImageLoadError` with a one-line reason, so a batch
    can log it and go on.
    """
    p = Path(path)
    try:
        return _load(p, max_pixels)
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError(p, "not enough memory to load the image") from None
    except Exception as exc:  # a reader bug or an exotic file must not take a batch down
        raise ImageLoadError(p, f"unexpected error while reading ({short_cause(exc)})") from exc


def _load(p: Path, max_pixels: int) -> XrayImage:
    problem = file_problem(p)
    if problem is not None:
        raise ImageLoadError(p, problem)
    try:
        fmt = sniff_file(p)
    except PermissionError:
        raise ImageLoadError(p, "permission denied") from None
    except OSError as exc:
        raise ImageLoadError(p, f"cannot read file ({short_cause(exc)})") from None
    if fmt is None:
        if p.suffix.lower() in (".dcm", ".dicom", ".dic"):
            raise ImageLoadError(p, "not a DICOM file (no DICM marker and no valid DICOM header)")
        raise ImageLoadError(p, "not a PNG, JPEG or DICOM image")
    if fmt in ("png", "jpeg"):
        return read_raster(p, max_pixels=max_pixels)
    return read_dicom(p, force=fmt == "dicom-raw", max_pixels=max_pixels)
