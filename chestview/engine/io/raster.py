"""PNG and JPEG files through Pillow: 8/16-bit gray, RGB, RGBA and palette images to float32 gray."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageLoadError
from ._common import MAX_PIXELS, colourfulness, empty_metadata, luminance, short_cause, window_from_range
from .image import XrayImage

_EXIF_ORIENTATION = 0x0112
_WINDOW_8BIT = window_from_range(0.0, 255.0)


def read_raster(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> XrayImage:
    """Read a PNG or JPEG file. 8-bit images get the window 0..255, deeper ones their data range."""
    path = Path(path)
    try:
        im = Image.open(path)
    except Image.DecompressionBombError:
        raise ImageLoadError(path, f"image too large (more than {max_pixels // 1_000_000} megapixels)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageLoadError(path, f"not a readable PNG/JPEG image ({short_cause(exc)})") from None
    with im:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImageLoadError(path, f"image has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageLoadError(
                path, f"image too large: {width}x{height} exceeds the {max_pixels // 1_000_000} megapixel limit"
            )
        frames = int(getattr(im, "n_frames", 1) or 1)
        fmt = im.format or path.suffix.lstrip(".").upper()
        mode = im.mode
        try:
            im.load()
            pixels, bits, photometric, colour = _to_gray(_exif_oriented(im))
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageLoadError(path, f"image data is truncated or corrupt ({short_cause(exc)})") from None

    if bits <= 8:
        window = _WINDOW_8BIT
    else:
        window = window_from_range(float(pixels.min()), float(pixels.max()))
    warnings: tuple[str, ...] = ()
    if frames > 1:
        warnings = (f"file holds {frames} frames: showing the first",)
    metadata = empty_metadata(
        format=fmt,
        photometric=photometric,
        voi_source="full range" if bits <= 8 else "data range",
        bits_stored=bits,
        bits_allocated=bits,
        frames=frames,
        rows=int(pixels.shape[0]),
        columns=int(pixels.shape[1]),
        mode=mode,
        colourfulness=colour,
    )
    return XrayImage(path=str(path), pixels=pixels, window=window, metadata=metadata, warnings=warnings)


def _exif_oriented(im: Image.Image) -> Image.Image:
    # Phones and some scanners store JPEGs sideways with an EXIF orientation flag; display orientation
    # means honouring it. Checked first because exif_transpose copies the image even when upright.
    if im.format == "JPEG" and im.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        return ImageOps.exif_transpose(im)
    return im


def _to_gray(im: Image.Image) -> tuple[np.ndarray, int, str, float]:
    """(float32 gray pixels, bits per sample, photometric description, colourfulness) without
    per-pixel Python; colourfulness is 0 for gray modes."""
    mode = im.mode
    if mode == "L":
        return np.asarray(im, dtype=np.float32), 8, "MONOCHROME2", 0.0
    if mode.startswith("I;16") or mode == "I":
        # 16-bit PNGs open as "I;16" (or "I" in older Pillow): keep every bit.
        return np.asarray(im).astype(np.float32), 16, "MONOCHROME2", 0.0
    if mode == "F":
        return np.asarray(im, dtype=np.float32), 32, "MONOCHROME2", 0.0
    if mode == "1":
        return np.asarray(im.convert("L"), dtype=np.float32), 8, "MONOCHROME2", 0.0
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        photometric = "PALETTE COLOR"
    elif mode in ("LA", "La"):
        arr = np.asarray(im.convert("LA"), dtype=np.float32)
        return arr[..., 0] * (arr[..., 1] / 255.0), 8, "MONOCHROME2", 0.0
    else:
        photometric = "RGB"
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in im.mode else "RGB")
    arr = np.asarray(im)
    gray = luminance(arr)
    if arr.shape[-1] == 4:
        # Composite over black: transparent areas are outside the radiograph (no exposure = dark).
        gray *= arr[..., 3].astype(np.float32) / 255.0
    return gray, 8, photometric, colourfulness(arr)
