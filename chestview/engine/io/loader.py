"""The one entry point to read an image file, whatever its format."""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import ImageLoadError
from ._common import DECODE_PIXEL_BUDGET, MAX_PIXELS, file_problem, short_cause
from .detect import sniff_file
from .dicom import read_dicom
from .image import XrayImage
from .library_warnings import captured_warnings
from .raster import read_raster


def load_image(
    path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS, pixel_budget: int = DECODE_PIXEL_BUDGET
) -> XrayImage:
    """Read a PNG, JPEG or DICOM file (format detected from content) into an :class:`XrayImage`.

    Larger than ``max_pixels``: refused. Larger than ``pixel_budget``: downscaled by the smallest
    integer factor that fits (block mean), with a warning; results are then in its pixels.
    Warnings Pillow or pydicom raise while decoding become the image's warnings.

    Every failure, expected or not, is an :class:`ImageLoadError` with a one-line reason, so a batch
    can log it and go on.
    """
    p = Path(path)
    try:
        with captured_warnings() as caught:
            image = _within_budget(_load(p, max_pixels), pixel_budget)
        if caught:
            image = replace(image, warnings=(*image.warnings, *caught))
        return image
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


def _within_budget(image: XrayImage, budget: int) -> XrayImage:
    h, w = image.pixels.shape[:2]
    if h * w <= budget:
        return image
    f = math.ceil(math.sqrt(h * w / budget))
    while (h // f) * (w // f) > budget:
        f += 1
    hs, ws = h // f, w // f
    pixels = image.pixels[: hs * f, : ws * f].reshape(hs, f, ws, f).mean(axis=(1, 3), dtype=np.float32)
    spacing = image.pixel_spacing
    metadata = {**image.metadata, "rows": hs, "columns": ws, "downscaled_from": (w, h), "downscale_factor": f}
    note = (f"downscaled {f}x at decode: {w}x{h} exceeds the {budget // 1_000_000}-megapixel budget "
            f"(results are in the {ws}x{hs} image's pixels)")
    return replace(
        image,
        pixels=np.ascontiguousarray(pixels),
        pixel_spacing=(spacing[0] * f, spacing[1] * f) if spacing else None,
        metadata=metadata,
        warnings=(*image.warnings, note),
    )
