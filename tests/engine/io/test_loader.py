"""load_image on PNG/JPEG (every pixel layout), content detection, bad input, thumbnails."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chestview.engine.errors import ImageLoadError
from chestview.engine.io import XrayImage, detect_format, load_image, thumbnail

DATA = Path(__file__).resolve().parents[2] / "data"
DICOM_DIR = DATA / "dicom"
NIH_PNG = DATA / "nih" / "images" / "00000661_000.png"


@pytest.fixture(scope="module")
def gray8() -> np.ndarray:
    return np.asarray(Image.open(NIH_PNG))


def assert_one_line_error(exc: pytest.ExceptionInfo[ImageLoadError], path: Path, *words: str) -> None:
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(str(path)) and exc.value.path == str(path)
    assert 0 < len(exc.value.reason) < 200
    for word in words:
        assert word.lower() in message.lower()


def test_png_8bit_gray(gray8: np.ndarray) -> None:
    im = load_image(NIH_PNG)
    assert isinstance(im, XrayImage)
    assert im.pixels.dtype == np.float32 and im.pixels.shape == (512, 512)
    np.testing.assert_array_equal(im.pixels, gray8)
    assert im.window == (127.5, 255.0)  # full 8-bit range
    assert im.pixel_spacing is None and im.warnings == ()
    assert im.metadata["format"] == "PNG" and im.metadata["bits_stored"] == 8
    assert im.metadata["modality"] is None  # same keys for every format


def test_full_size_png_is_fast(samples_dir: Path) -> None:
    path = samples_dir / "00000661_000.png"
    load_image(path)
    start = time.perf_counter()
    im = load_image(path)
    assert im.size == (1024, 1024)
    assert time.perf_counter() - start < 0.5


def test_png_16bit_equals_8bit(tmp_path: Path, gray8: np.ndarray) -> None:
    path = tmp_path / "sixteen.png"
    Image.fromarray(gray8.astype(np.uint16) * 257).save(path)
    im16, im8 = load_image(path), load_image(NIH_PNG)
    assert im16.metadata["bits_stored"] == 16
    np.testing.assert_array_equal(im16.pixels, im8.pixels * 257)
    lo, hi = float(gray8.min()), float(gray8.max())
    assert im16.window == pytest.approx(((lo + hi) / 2 * 257, (hi - lo) * 257))  # the data range
    expected = (im8.pixels - lo) / (hi - lo)
    np.testing.assert_allclose(im16.normalised(), expected, atol=1e-5)


def test_rgb_jpeg_becomes_gray(tmp_path: Path, gray8: np.ndarray) -> None:
    path = tmp_path / "colour.jpg"
    Image.fromarray(np.stack([gray8] * 3, axis=-1)).save(path, quality=95)
    im = load_image(path)
    assert im.pixels.ndim == 2 and im.metadata["format"] == "JPEG"
    assert np.abs(im.pixels - gray8).mean() < 2.0  # only JPEG loss


def test_rgba_png_composited_over_black(tmp_path: Path, gray8: np.ndarray) -> None:
    rgba = np.dstack([gray8, gray8, gray8, np.full_like(gray8, 255)])
    rgba[:, :256, 3] = 0
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    im = load_image(path)
    np.testing.assert_allclose(im.pixels[:, 256:], gray8[:, 256:], atol=1e-3)
    assert not im.pixels[:, :256].any()


def test_palette_png_maps_through_palette(tmp_path: Path) -> None:
    index = np.arange(256, dtype=np.uint8).reshape(16, 16)
    pal = Image.fromarray(index, mode="P")
    pal.putpalette([v for i in range(256) for v in (255 - i,) * 3])  # inverted gray palette
    path = tmp_path / "palette.png"
    pal.save(path)
    im = load_image(path)
    assert im.metadata["photometric"] == "PALETTE COLOR"
    np.testing.assert_allclose(im.pixels, 255.0 - index, atol=1e-3)


def test_jpeg_exif_orientation_is_applied(tmp_path: Path) -> None:
    arr = np.zeros((10, 20), dtype=np.uint8)
    arr[:, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(arr).save(path, exif=exif, quality=100)
    im = load_image(path)
    assert im.pixels.shape == (20, 10)
    assert im.pixels[:10].mean() > 200 and im.pixels[10:].mean() < 50


def test_detected_by_content_not_extension(tmp_path: Path, gray8: np.ndarray) -> None:
    png_no_ext = tmp_path / "IMG0001"
    Image.fromarray(gray8).save(png_no_ext, format="PNG")
    dicom_no_ext = tmp_path / "I0000017"
    dicom_no_ext.write_bytes((DICOM_DIR / "sc_nih_udacity_test1_quarter.dcm").read_bytes())
    assert load_image(png_no_ext).metadata["format"] == "PNG"
    assert load_image(dicom_no_ext).metadata["format"] == "DICOM"
    assert detect_format(b"\x89PNG\r\n\x1a\n" + b"\0" * 10) == "png"
    assert detect_format(b"hello world, not an image") is None


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.png", b"", ["empty"]),
        ("notes.png", b"this is a text file, not an image\n" * 5, ["not a PNG, JPEG or DICOM"]),
        ("report.dcm", b"%PDF-1.4 some pdf bytes " * 20, ["not a DICOM"]),
        ("bomb.png", _png_header_only(20000, 20000), ["too large"]),
    ],
)
def test_bad_files_raise_one_line_errors(tmp_path: Path, name: str, content: bytes, words: list[str]) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    assert_one_line_error(exc, path, *words)


def test_truncated_png(tmp_path: Path) -> None:
    data = NIH_PNG.read_bytes()
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    assert_one_line_error(exc, path, "truncated")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageLoadError) as exc:
        load_image(missing)
    assert_one_line_error(exc, missing, "not found")
    folder = tmp_path / "x.png"
    folder.mkdir()
    with pytest.raises(ImageLoadError) as exc:
        load_image(folder)
    assert_one_line_error(exc, folder, "directory")


def test_max_pixels_is_configurable() -> None:
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(NIH_PNG, max_pixels=100_000)


def test_thumbnail_fits_and_keeps_aspect() -> None:
    im = XrayImage(path="x", pixels=np.linspace(0, 1, 400 * 300, dtype=np.float32).reshape(300, 400), window=(0.5, 1.0))
    th = thumbnail(im, 128)
    assert th.dtype == np.uint8 and th.shape == (96, 128)
    assert th[0, 0] < 10 and th[-1, -1] > 245  # windowed gradient kept
    small = XrayImage(path="y", pixels=np.zeros((40, 30), np.float32), window=(0.5, 1.0))
    assert thumbnail(small, 128).shape == (40, 30)  # never enlarged


def test_images_above_the_pixel_budget_are_downscaled_at_decode(gray8: np.ndarray) -> None:
    full = load_image(NIH_PNG)
    small = load_image(NIH_PNG, pixel_budget=50_000)  # 512 x 512 -> 3x smaller: 170 x 170
    assert small.pixels.shape == (170, 170) and small.size == (170, 170)
    expected = gray8[:510, :510].astype(np.float32).reshape(170, 3, 170, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(small.pixels, expected, rtol=0, atol=1e-3)
    assert small.window == full.window and small.metadata["downscaled_from"] == (512, 512)
    assert any("downscaled 3x at decode" in w and "512x512" in w for w in small.warnings)
    assert full.pixels.shape == (512, 512) and not full.warnings


def _vr_mismatch_dicom(path: Path) -> Path:
    """An implicit-VR data set under an explicit-VR transfer syntax: pydicom warns while reading it."""
    import pydicom
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import ExplicitVRLittleEndian

    ds = pydicom.dcmread(DICOM_DIR / "sc_nih_udacity_test1_quarter.dcm")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    with open(path, "wb") as fh:
        fh.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(fh, ds.file_meta, enforce_standard=True)
        fp = DicomFileLike(fh)
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_dataset(fp, ds)
    return path


def test_library_warnings_become_the_files_warnings(tmp_path: Path, monkeypatch, capfd) -> None:
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    path = _vr_mismatch_dicom(tmp_path / "vr.dcm")
    clean = DICOM_DIR / "sc_nih_udacity_test1_quarter.dcm"
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("default")
        # each file its own copy, also when decoded concurrently (the predict pipeline's threads)
        with ThreadPoolExecutor(4) as pool:
            images = list(pool.map(load_image, [path, clean] * 4))
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200_000)  # 512 x 512 = 0.26 MP: Pillow warns
        bomb = load_image(NIH_PNG)
    message = "Expected explicit VR, but found implicit VR - using implicit VR for reading"
    assert all(message in im.warnings for im in images[0::2])
    assert not any(message in im.warnings for im in images[1::2])
    assert any("decompression bomb" in w for w in bomb.warnings)
    assert escaped == []  # nothing went to the warnings machinery
    err = capfd.readouterr().err
    assert "VR" not in err and "pydicom" not in err  # nor pydicom's log lines to stderr
