"""DICOM files through pydicom and the pylibjpeg codecs, done the way a viewer should.

Order of operations (PS3.4 grayscale pipeline): decode the first frame -> modality LUT (rescale
slope/intercept or LUT) -> VOI (window centre/width, else a VOI LUT turned into an equivalent linear
window, else a default window) -> MONOCHROME1 inversion of pixels *and* window, so that larger is
always brighter. The VOI is kept as a window instead of being baked into the pixels: pixels stay in
modality units (useful to measure and to re-window) and ``XrayImage.normalised()`` reproduces the
intended display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder, pixel_array
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ..errors import ImageLoadError
from ._common import MAX_PIXELS, colourfulness, empty_metadata, luminance, short_cause, window_from_range
from .checks import chest_header_warnings
from .image import XrayImage

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Percentiles of the default window for >8-bit images with no VOI: robust to burned-in labels,
# collimator edges and dead pixels, which would squeeze a full-range window.
_DEFAULT_PERCENTILES = (0.5, 99.5)


def read_dicom(path: str | Path, *, force: bool = False, max_pixels: int = MAX_PIXELS) -> XrayImage:
    """Read the first frame of a DICOM image. ``force`` is for files without preamble/"DICM"."""
    path = Path(path)
    ds = read_dataset(path, force=force)
    frames = _check_pixels_readable(path, ds, max_pixels)
    try:
        arr = pixel_array(ds, index=0) if frames > 1 else ds.pixel_array
    except MemoryError:
        raise ImageLoadError(path, "not enough memory to decode the pixel data") from None
    except Exception as exc:  # pydicom and codec errors come in many types; one clear line instead
        raise ImageLoadError(path, f"cannot decode the pixel data ({short_cause(exc)})") from None
    arr = np.asarray(arr)
    rows, cols = _int(ds.get("Rows")), _int(ds.get("Columns"))
    if arr.shape[:2] != (rows, cols):  # a compressed frame of another size than the header says
        raise ImageLoadError(
            path, f"decoded pixel data is {'x'.join(map(str, arr.shape))}, not the header's {cols}x{rows}"
        )
    return _to_xray(path, ds, arr, frames)


def read_dataset(path: Path, *, force: bool = False, **kwargs: Any) -> Dataset:
    """pydicom.dcmread with errors turned into ImageLoadError and a usable transfer syntax."""
    try:
        ds = pydicom.dcmread(path, force=force, **kwargs)
    except InvalidDicomError as exc:
        raise ImageLoadError(path, f"not a valid DICOM file ({short_cause(exc)})") from None
    except FileNotFoundError:
        raise ImageLoadError(path, "file not found") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied") from None
    except Exception as exc:  # on a damaged header pydicom can fail in many ways (struct, codecs, ...)
        raise ImageLoadError(path, f"DICOM header is truncated or corrupt ({short_cause(exc)})") from None
    if len(ds) == 0:
        reason = "not a valid DICOM file" if force else "DICOM file is truncated"
        raise ImageLoadError(path, f"{reason} (no data elements)")
    _ensure_transfer_syntax(ds)
    return ds


def _ensure_transfer_syntax(ds: Dataset) -> None:
    # Files without file meta (old ACR-NEMA style) still need a transfer syntax for pixel decoding:
    # use the encoding pydicom detected while reading them.
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if implicit is None:
        implicit = True
    if little is False:
        meta.TransferSyntaxUID = ExplicitVRBigEndian
    else:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian


def transfer_syntax(ds: Dataset) -> UID:
    return UID(ds.file_meta.TransferSyntaxUID)


def _check_pixels_readable(path: Path, ds: Dataset, max_pixels: int) -> int:
    """Validate what can be validated from the header; return the number of frames."""
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        if "Rows" in ds and "Columns" in ds:
            # An image header without pixels: pydicom drops an element cut off by the end of file.
            raise ImageLoadError(path, "DICOM image has no pixel data (file truncated?)")
        sop = ds.get("SOPClassUID")
        what = f" ({UID(sop).name})" if sop else ""
        raise ImageLoadError(path, f"DICOM file has no pixel data{what}")
    rows, cols = _int(ds.get("Rows")), _int(ds.get("Columns"))
    frames = max(_int(ds.get("NumberOfFrames")) or 1, 1)
    if not rows or not cols:
        raise ImageLoadError(path, "DICOM image header lacks Rows/Columns")
    if rows * cols * frames > max_pixels:
        size = f"{cols}x{rows}" + (f"x{frames} frames" if frames > 1 else "")
        raise ImageLoadError(path, f"image too large: {size} exceeds the {max_pixels // 1_000_000} megapixel limit")
    ts = transfer_syntax(ds)
    if not ts.is_encapsulated and "PixelData" in ds:
        samples = _int(ds.get("SamplesPerPixel")) or 1
        bits = _int(ds.get("BitsAllocated")) or 8
        expected = (rows * cols * frames * samples * bits + 7) // 8
        actual = len(ds.PixelData or b"")
        if actual < expected:
            raise ImageLoadError(path, f"pixel data is truncated ({actual:,} of {expected:,} bytes)")
        if actual > expected + (expected % 2):  # odd lengths are padded to even: one byte more is fine
            # pydicom would return the surplus as extra frames: a guessed shape, never the image.
            shape = f"{cols}x{rows}" + (f"x{frames} frames" if frames > 1 else "") + (f"x{samples}" if samples > 1 else "")
            raise ImageLoadError(
                path, f"pixel data does not match the header: {actual:,} bytes where {shape} at {bits} bits "
                f"needs {expected:,} (wrong Rows/Columns?)"
            )
    if ts.is_compressed:
        try:
            decoder = get_decoder(ts)
        except NotImplementedError:
            raise ImageLoadError(path, f"unsupported transfer syntax {ts.name} ({ts})") from None
        if not decoder.is_available:
            raise ImageLoadError(path, f"no decoder installed for transfer syntax {ts.name}")
    if ts.is_encapsulated and "PixelData" in ds:
        size = _frame_size(ds, frames)
        if size is not None and size != (cols, rows):
            # a decoder would reshape a frame of another shape to the header's (same pixel count):
            # a scrambled image, never the film
            raise ImageLoadError(path, f"the compressed frame is {size[0]}x{size[1]}, not the header's {cols}x{rows}")
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        value = _first(ds.get(keyword))
        if keyword in ds and ds[keyword].value not in (None, "") and (value is None or not math.isfinite(value)):
            raise ImageLoadError(path, f"{keyword} is not a finite number ({ds[keyword].value!r})")
    if _first(ds.get("RescaleSlope")) == 0:
        raise ImageLoadError(path, "RescaleSlope is 0 (every pixel would be the same)")
    return frames


def _frame_size(ds: Dataset, frames: int) -> tuple[int, int] | None:
    """(width, height) the first compressed frame's own header states (JPEG, JPEG-LS: its SOF
    segment; JPEG 2000: its SIZ), or None when it cannot be told without decoding."""
    from pydicom.encaps import generate_frames

    try:
        frame = next(generate_frames(ds.PixelData, number_of_frames=frames))
    except Exception:  # noqa: BLE001 - a damaged encapsulation is reported by the decoder
        return None
    head = bytes(frame[:65536])
    if head[:2] == b"\xff\xd8":  # JPEG family: the SOF segment (pydicom's parser, JPEG-LS included)
        from pydicom.pixels.utils import _get_jpg_parameters

        info = _get_jpg_parameters(head)
        return (info["width"], info["height"]) if info.get("width") and info.get("height") else None
    try:  # JPEG 2000 (raw codestream or JP2): Pillow reads the header without decoding
        import io

        from PIL import Image

        with Image.open(io.BytesIO(bytes(frame))) as im:
            return im.size if im.format in ("JPEG2000",) else None
    except Exception:  # noqa: BLE001 - no header Pillow knows: left to the decoder
        return None


def _to_xray(path: Path, ds: Dataset, arr: np.ndarray, frames: int) -> XrayImage:
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper().strip()
    bits_stored = _int(ds.get("BitsStored")) or int(arr.dtype.itemsize * 8)
    voi_source: str
    pivot: float | None = None
    colour = 0.0
    if photometric == "PALETTE COLOR" and arr.ndim == 2:
        arr = apply_color_lut(arr, ds)
    if arr.ndim == 3:
        # Colour (RGB secondary captures, palette, YBR already converted by pydicom): luminance only;
        # there is no modality LUT for colour images.
        bits = 8 if arr.dtype.itemsize == 1 else 16
        pixels = luminance(arr)
        colour = colourfulness(arr)
        window = window_from_range(0.0, float(2**bits - 1))
        voi_source = "full range"
    else:
        pixels = np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
        window, voi_source = _voi_window(ds, pixels, bits_stored)
        if photometric == "MONOCHROME1":
            # Mirror around the middle of the possible output range, so values stay in that range and
            # the window inverts consistently with the pixels.
            pivot = output_range_sum(ds, pixels, bits_stored)
            pixels = np.subtract(np.float32(pivot), pixels, dtype=np.float32)
            window = (pivot - window[0], window[1])

    spacing, spacing_source = _pixel_spacing(ds)
    warnings = chest_header_warnings(
        ds.get("Modality"), ds.get("BodyPartExamined"), ds.get("ViewPosition"), ds.get("PatientPosition")
    )
    if frames > 1:
        warnings.insert(0, f"multi-frame DICOM ({frames} frames): showing the first")
    return XrayImage(
        path=str(path),
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        window=(float(window[0]), float(window[1])),
        pixel_spacing=spacing,
        metadata={**_metadata(ds, photometric, bits_stored, frames, voi_source, spacing_source),
                  "inversion_pivot": None if pivot is None else float(pivot), "colourfulness": colour},
        warnings=tuple(warnings),
    )


def _voi_window(ds: Dataset, pixels: np.ndarray, bits_stored: int) -> tuple[tuple[float, float], str]:
    centre, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if centre is not None and width is not None and width > 0:
        return (centre, width), "window"
    seq = ds.get("VOILUTSequence")
    if seq:
        window = _window_from_voi_lut(seq[0])
        if window is not None:
            return window, "voi lut"
    if bits_stored <= 8:
        low, high = _stored_range(ds, bits_stored)
        return window_from_range(low, high), "full range"
    step = _eight_bit_step(pixels)
    if step is not None:
        return window_from_range(0.0, 255.0 * step), "8-bit values"
    sample = pixels[:: max(1, pixels.shape[0] // 512), :: max(1, pixels.shape[1] // 512)]
    low, high = np.percentile(sample, _DEFAULT_PERCENTILES)
    return window_from_range(float(low), float(high)), "percentiles"


def _eight_bit_step(pixels: np.ndarray) -> int | None:
    """k when every value is one of 0, k, 2k, ... 255k: 8-bit data in a deeper container (an 8-bit
    film saved as 12 or 16 bits, as is or scaled). Its window is then the 8-bit original's, 0..255k,
    so such a copy shows and scores exactly as the 8-bit file it came from; a percentile window would
    stretch it. None for anything else (real 12-16-bit detector data uses many more values)."""
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0 or high <= 0 or high >= 2**16:
        return None
    ints = pixels.astype(np.int64)
    if not np.array_equal(ints, pixels):
        return None  # fractional values (a rescale slope)
    values = np.flatnonzero(np.bincount(ints.ravel()))
    if len(values) > 256:
        return None
    step = int(np.gcd.reduce(values))
    return step if step >= 1 and high <= 255 * step else None


def _window_from_voi_lut(item: Dataset) -> tuple[float, float] | None:
    """An equivalent linear window of a VOI LUT: the input span over which its output rises.

    Exact for a linear LUT; for a curved one it keeps the same black and white points.
    """
    desc = item.get("LUTDescriptor")
    data = item.get("LUTData")
    if not desc or data is None or len(desc) < 3:
        return None
    lut = np.asarray(data if not isinstance(data, bytes) else np.frombuffer(data, dtype="<u2"), dtype=np.float64)
    if lut.size < 2 or lut.max() == lut.min():
        return None
    first = int(desc[1])
    if first > 32767:  # the descriptor's first value is signed for signed pixel data
        first -= 65536
    lo_i = int(np.flatnonzero(lut == lut.min())[-1])
    hi_i = int(np.flatnonzero(lut == lut.max())[0])
    lo_i, hi_i = min(lo_i, hi_i), max(lo_i, hi_i)
    return window_from_range(first + lo_i, first + hi_i)


def _stored_range(ds: Dataset, bits_stored: int) -> tuple[float, float]:
    """Range of possible stored values after the rescale (modality units)."""
    if _int(ds.get("PixelRepresentation")) == 1:
        low, high = -(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1
    else:
        low, high = 0, 2**bits_stored - 1
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    a, b = low * slope + intercept, high * slope + intercept
    return min(a, b), max(a, b)


def output_range_sum(ds: Dataset, pixels: np.ndarray, bits_stored: int) -> float:
    """The MONOCHROME1 mirror's pivot: low + high of the modality output range.

    With a modality LUT it is the data's min + max, which mirroring leaves unchanged: the same
    call on the mirrored pixels gives the same pivot (presentation states map windows back with it).
    """
    if "ModalityLUTSequence" in ds:  # LUT output range is not derivable from bits: use the data
        return float(pixels.min()) + float(pixels.max())
    low, high = _stored_range(ds, bits_stored)
    return low + high


def _pixel_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str | None]:
    # PixelSpacing is calibrated to the patient; ImagerPixelSpacing is at the detector (slightly
    # magnified). Zero values (as in some test images) mean "unknown".
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        try:
            if value is not None and len(value) >= 2:
                row, col = float(value[0]), float(value[1])
                if row > 0 and col > 0:
                    return (row, col), keyword
        except (TypeError, ValueError):
            continue
    return None, None


def _metadata(
    ds: Dataset, photometric: str, bits_stored: int, frames: int, voi_source: str, spacing_source: str | None
) -> dict[str, Any]:
    centre, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    ts = transfer_syntax(ds)
    sop_class = ds.get("SOPClassUID")
    return empty_metadata(
        format="DICOM",
        modality=_str(ds.get("Modality")),
        view_position=_str(ds.get("ViewPosition")),
        body_part=_str(ds.get("BodyPartExamined")),
        patient_position=_str(ds.get("PatientPosition")),
        study_uid=_str(ds.get("StudyInstanceUID")),
        series_uid=_str(ds.get("SeriesInstanceUID")),
        sop_uid=_str(ds.get("SOPInstanceUID")),
        sop_class=UID(sop_class).name if sop_class else None,
        patient_id=_str(ds.get("PatientID")),
        patient_sex=_str(ds.get("PatientSex")),
        patient_age=_str(ds.get("PatientAge")),
        study_date=_str(ds.get("StudyDate")),
        study_description=_str(ds.get("StudyDescription")),
        series_description=_str(ds.get("SeriesDescription")),
        series_number=_int(ds.get("SeriesNumber")),
        instance_number=_int(ds.get("InstanceNumber")),
        photometric=photometric,
        window=(centre, width) if centre is not None and width is not None else None,
        voi_source=voi_source,
        bits_stored=bits_stored,
        bits_allocated=_int(ds.get("BitsAllocated")),
        transfer_syntax=ts.name,
        lossy=str(ds.get("LossyImageCompression", "")).strip() == "01",
        frames=frames,
        manufacturer=_str(ds.get("Manufacturer")),
        rows=_int(ds.get("Rows")),
        columns=_int(ds.get("Columns")),
        spacing_source=spacing_source,
        rescale=(float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)),
    )


def _first(value: Any) -> float | None:
    """First value of a possibly multi-valued numeric element (several windows: the first wins)."""
    if isinstance(value, (MultiValue, list, tuple)):
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None and str(value).strip() != "" else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    f = _first(value)
    return int(f) if f is not None else None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
