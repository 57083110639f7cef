"""Small helpers shared by the readers."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

#: Largest image we agree to decode (width * height * frames). Protects against
#: decompression bombs: a tiny file whose header claims a gigapixel image.
MAX_PIXELS = 100_000_000

#: Pixel budget of a decoded image: larger ones (above every chest detector; 43 cm at 0.1 mm is
#: 4300 x 4300) are downscaled by an integer factor right after decoding, with a warning, so that
#: rendering and prefetching stay within a few hundred MB per image.
DECODE_PIXEL_BUDGET = 36_000_000  # e.g. 6000 x 6000

#: The metadata keys every reader fills (None when unknown), so callers can index them safely.
METADATA_KEYS = (
    "format",
    "modality",
    "view_position",
    "body_part",
    "patient_position",
    "study_uid",
    "series_uid",
    "sop_uid",
    "sop_class",
    "patient_id",
    "patient_sex",
    "patient_age",
    "study_date",
    "study_description",
    "series_description",
    "series_number",
    "instance_number",
    "photometric",
    "window",
    "voi_source",
    "bits_stored",
    "bits_allocated",
    "transfer_syntax",
    "frames",
    "manufacturer",
    "rows",
    "columns",
    "spacing_source",
    "inversion_pivot",  # MONOCHROME1: displayed = pivot - stored (None otherwise)
    "colourfulness",
)


def empty_metadata(**values: Any) -> dict[str, Any]:
    md: dict[str, Any] = dict.fromkeys(METADATA_KEYS)
    md.update(values)
    return md


def short_cause(exc: BaseException, limit: int = 100) -> str:
    """First line of an exception message, squeezed and cut: enough to explain, never a dump."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = re.sub(r"\s+", " ", text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def window_from_range(low: float, high: float) -> tuple[float, float]:
    """(centre, width) of a window spanning [low, high]; width at least 1 so it is never degenerate."""
    low, high = float(low), float(high)
    return (low + high) / 2.0, max(high - low, 1.0)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an (H, W, 3) array as float32, the weights PIL uses for mode "L"."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.asarray(rgb[..., :3], dtype=np.float32) @ weights


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be read as an image file (a folder, a FIFO, a symlink loop, an empty
    file…), or None for a non-empty regular file. Never opens it: opening a FIFO would block."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "broken symbolic link" if os.path.islink(path) else "file not found"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot read file ({short_cause(exc)})"
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if st.st_size == 0:
        return "file is empty"
    return None


def colourfulness(rgb: np.ndarray) -> float:
    """Mean spread between the colour channels, as a fraction of full scale (0 for a gray image
    stored as RGB). Radiographs saved in colour files have R = G = B up to compression noise; a
    photograph does not. Computed on every 4th pixel: a statistic, not an image."""
    arr = np.asarray(rgb)[::4, ::4, :3]
    if arr.size == 0:
        return 0.0
    full = 255.0 if arr.dtype == np.uint8 or float(arr.max(initial=0)) <= 255 else 65535.0
    spread = arr.max(axis=-1).astype(np.float32) - arr.min(axis=-1).astype(np.float32)
    return float(spread.mean() / full)
