"""DICOM done right: LUTs, windows, MONOCHROME1, codecs, bit depths, colour, frames, header checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from chestview.engine.errors import ImageLoadError
from chestview.engine.io import chest_header_warnings, load_image, read_dicom_tags

DICOM_DIR = Path(__file__).resolve().parents[2] / "data" / "dicom"
RG1_J2K = DICOM_DIR / "cr_mono1_rg1_jpeg2000.dcm"


@pytest.fixture(scope="module")
def rg1():
    return load_image(RG1_J2K)


def _region(a: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> float:
    h, w = a.shape
    return float(a[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)].mean())


def _lungs_and_mediastinum(a: np.ndarray) -> tuple[float, float]:
    lungs = (_region(a, 0.20, 0.32, 0.25, 0.5) + _region(a, 0.66, 0.78, 0.25, 0.5)) / 2
    return lungs, _region(a, 0.46, 0.54, 0.3, 0.6)


# --- the real files --------------------------------------------------------------------------


def test_monochrome1_is_inverted(rg1) -> None:
    raw = pydicom.dcmread(RG1_J2K).pixel_array.astype(np.float32)
    raw_lungs, raw_mediastinum = _lungs_and_mediastinum(raw)
    assert raw_lungs > raw_mediastinum  # as stored, MONOCHROME1: air is bright
    lungs, mediastinum = _lungs_and_mediastinum(rg1.normalised())
    assert mediastinum > lungs + 0.2  # after loading, larger = brighter: lungs dark
    np.testing.assert_array_equal(rg1.pixels, 32767.0 - raw)  # mirrored in the 15-bit range
    assert rg1.window == (32767.0 - 15000.0, 30000.0)
    assert rg1.metadata["window"] == (15000.0, 30000.0) and rg1.metadata["voi_source"] == "window"
    assert rg1.metadata["photometric"] == "MONOCHROME1"


def test_rg1_headers(rg1) -> None:
    md = rg1.metadata
    assert rg1.size == (1841, 1955)
    assert rg1.pixel_spacing is None  # PixelSpacing 0\0 means unknown
    assert (md["modality"], md["body_part"], md["view_position"]) == ("CR", "CHEST", "PA")
    assert md["transfer_syntax"] == "JPEG 2000 Image Compression" and md["lossy"] is True
    assert md["bits_stored"] == 15 and md["frames"] == 1 and md["patient_id"] == "9RG1"
    assert md["manufacturer"] == "Philips Medical Systems"
    assert rg1.warnings == ()


def test_jpeg2000_matches_uncompressed(rg1, rg1_uncompressed_full: Path) -> None:
    full = load_image(rg1_uncompressed_full)
    assert full.metadata["transfer_syntax"] == "Explicit VR Little Endian"
    np.testing.assert_array_equal(full.pixels, rg1.pixels)
    assert full.window == rg1.window
    # The real uncompressed (JPEG-LS near-lossless) original, 4x4 block-averaged: lossy J2K stays close.
    quarter = load_image(DICOM_DIR / "cr_mono1_rg1_uncompressed_quarter.dcm")
    h, w = quarter.pixels.shape
    blocks = rg1.pixels[: h * 4, : w * 4].reshape(h, 4, w, 4).mean(axis=(1, 3))
    assert np.abs(blocks - quarter.pixels).mean() < 0.002 * quarter.window[1]
    assert np.corrcoef(blocks.ravel(), quarter.pixels.ravel())[0, 1] > 0.999


def test_jpeg_baseline_with_spacing() -> None:
    im = load_image(DICOM_DIR / "cr_siim_jpeg_baseline.dcm")
    assert im.size == (1024, 1024)
    assert im.pixel_spacing == (0.168, 0.168) and im.metadata["spacing_source"] == "PixelSpacing"
    assert im.metadata["transfer_syntax"] == "JPEG Baseline (Process 1)"
    assert im.window == (127.5, 255.0) and im.metadata["voi_source"] == "full range"
    lungs, mediastinum = _lungs_and_mediastinum(im.normalised())
    assert mediastinum > lungs


def test_dicom_matches_png_of_same_pixels(tmp_path: Path) -> None:
    dcm = load_image(DICOM_DIR / "dx_nih_google_uncompressed.dcm")
    png_path = tmp_path / "same.png"
    Image.fromarray(dcm.pixels.astype(np.uint8)).save(png_path)
    png = load_image(png_path)
    np.testing.assert_array_equal(png.normalised(), dcm.normalised())
    assert dcm.warnings == ()  # DX without BodyPartExamined: nothing claims it is not a chest


@pytest.mark.parametrize("n", [1, 2, 3])
def test_udacity_good_headers_have_no_warnings(n: int) -> None:
    im = load_image(DICOM_DIR / f"sc_nih_udacity_test{n}_quarter.dcm")
    assert im.warnings == ()
    assert im.metadata["modality"] == "DX" and im.metadata["body_part"] == "CHEST"


def test_udacity_wrong_headers_warn() -> None:
    ribcage, ct, xx = (load_image(DICOM_DIR / f"sc_nih_udacity_test{n}_quarter.dcm") for n in (4, 5, 6))
    assert len(ct.warnings) == 1 and "CT" in ct.warnings[0] and not ct.warnings[0].startswith("Note:")
    assert len(ribcage.warnings) == 1 and ribcage.warnings[0].startswith("Note:") and "RIBCAGE" in ribcage.warnings[0]
    assert len(xx.warnings) == 1 and xx.warnings[0].startswith("Note:") and "XX" in xx.warnings[0]
    # Same pixels as test1: headers, not content, raise these warnings.
    test1 = load_image(DICOM_DIR / "sc_nih_udacity_test1_quarter.dcm")
    np.testing.assert_array_equal(ct.pixels, test1.pixels)


def test_chest_warning_rule() -> None:
    assert chest_header_warnings("DX", "CHEST") == []
    assert chest_header_warnings("CR", "THORAX", "PA", "HFS") == []
    assert chest_header_warnings("SC", None) == [] and chest_header_warnings(None, None) == []
    assert chest_header_warnings("OT", "LUNG") == []
    assert chest_header_warnings("MR", "CHEST")[0].startswith("Modality is MR")
    assert chest_header_warnings("DX", "KNEE")[0].startswith("BodyPartExamined is KNEE")
    assert chest_header_warnings("DX", "TSPINE")[0].startswith("Note:")
    assert chest_header_warnings("DX", "CHEST", "LL")[0].startswith("Note: ViewPosition")
    assert chest_header_warnings("DX", "CHEST", None, "PA") == []  # view in PatientPosition: common


# --- generated files: LUTs and windows --------------------------------------------------------


def test_12bit_with_rescale_and_first_window(make_dicom: Callable[..., Path]) -> None:
    stored = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 4096).astype(np.uint16)
    path = make_dicom(
        stored, BitsStored=12, RescaleSlope=2, RescaleIntercept=-1024, WindowCenter=[100, 500], WindowWidth=[800, 50]
    )
    im = load_image(path)
    np.testing.assert_array_equal(im.pixels, stored.astype(np.float32) * 2 - 1024)
    assert im.window == (100.0, 800.0)  # several windows: the first
    assert im.metadata["bits_stored"] == 12 and im.metadata["rescale"] == (2.0, -1024.0)


def test_8bit_and_16bit_dicom_equivalent(make_dicom: Callable[..., Path]) -> None:
    rng = np.random.default_rng(0)
    eight = rng.integers(0, 256, size=(32, 48), dtype=np.uint8)
    im8 = load_image(make_dicom(eight, "eight.dcm"))
    im16 = load_image(make_dicom(eight.astype(np.uint16) * 257, "sixteen.dcm", WindowCenter=32767.5, WindowWidth=65535))
    np.testing.assert_allclose(im16.normalised(), im8.normalised(), atol=1e-6)


def test_no_window_uses_percentiles_for_deep_images(make_dicom: Callable[..., Path]) -> None:
    stored = np.full((100, 100), 1000, dtype=np.uint16)
    stored[:50] = 3000
    stored[0, 0] = 4095  # a burned-in label pixel must not stretch the window
    im = load_image(make_dicom(stored, BitsStored=12))
    assert im.metadata["voi_source"] == "percentiles"
    centre, width = im.window
    assert centre - width / 2 == pytest.approx(1000) and centre + width / 2 == pytest.approx(3000)


def test_voi_lut_becomes_equivalent_window(make_dicom: Callable[..., Path]) -> None:
    stored = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    item = Dataset()
    first, n = 1000, 2001  # a linear LUT from 1000 to 3000
    item.LUTDescriptor = [n, first, 16]
    item.LUTData = np.linspace(0, 65535, n).astype(np.uint16).tolist()
    item["LUTData"].VR = "US"
    path = make_dicom(stored, BitsStored=12, VOILUTSequence=Sequence([item]))
    im = load_image(path)
    assert im.metadata["voi_source"] == "voi lut"
    centre, width = im.window
    assert (centre - width / 2, centre + width / 2) == pytest.approx((1000, 3000))


def test_generated_monochrome1_mirrors_window(make_dicom: Callable[..., Path]) -> None:
    stored = np.array([[0, 255], [10, 200]], dtype=np.uint8)
    im = load_image(make_dicom(stored, PhotometricInterpretation="MONOCHROME1", WindowCenter=50, WindowWidth=100))
    np.testing.assert_array_equal(im.pixels, 255.0 - stored)
    assert im.window == (205.0, 100.0)
    assert im.normalised()[0, 0] == 1.0  # stored 0 in MONOCHROME1 is white


def test_imager_pixel_spacing_fallback(make_dicom: Callable[..., Path]) -> None:
    im = load_image(make_dicom(np.zeros((8, 8), np.uint8), ImagerPixelSpacing=[0.15, 0.16]))
    assert im.pixel_spacing == (0.15, 0.16) and im.metadata["spacing_source"] == "ImagerPixelSpacing"


def test_rgb_secondary_capture_to_luminance(make_dicom: Callable[..., Path]) -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    im = load_image(make_dicom(rgb, rgb=True, Modality="OT"))
    np.testing.assert_allclose(im.pixels, 0.299 * 200 + 0.587 * 100 + 0.114 * 50, rtol=1e-5)
    assert im.window == (127.5, 255.0)


def test_multiframe_first_frame_with_warning(make_dicom: Callable[..., Path]) -> None:
    frames = np.stack([np.full((16, 16), v, np.uint8) for v in (10, 20, 30)])
    im = load_image(make_dicom(frames))
    assert im.pixels.shape == (16, 16) and float(im.pixels.mean()) == 10.0
    assert im.metadata["frames"] == 3 and "3 frames" in im.warnings[0]


# --- generated files: codecs and file layouts ---------------------------------------------------


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless], ids=["rle", "j2k", "jpegls"])
def test_lossless_codecs_roundtrip(syntax, build_ds: Callable[..., Dataset], tmp_path: Path) -> None:
    if not pydicom.pixels.get_encoder(syntax).is_available:
        pytest.skip(f"no encoder installed for {syntax.name}")
    stored = (np.arange(128 * 96, dtype=np.uint16).reshape(128, 96) * 7 % 4096).astype(np.uint16)
    ds = build_ds(stored, BitsStored=12)
    ds.compress(syntax)
    path = tmp_path / "compressed.dcm"
    ds.save_as(path)
    im = load_image(path)
    assert im.metadata["transfer_syntax"] == syntax.name
    np.testing.assert_array_equal(im.pixels, stored)


def test_file_without_preamble(build_ds: Callable[..., Dataset], tmp_path: Path) -> None:
    stored = np.arange(64, dtype=np.uint8).reshape(8, 8)
    ds = build_ds(stored)
    del ds.file_meta  # old ACR-NEMA style: no preamble, no "DICM", no file meta
    path = tmp_path / "OLDFILE"
    with open(path, "wb") as fh:
        fp = DicomFileLike(fh)
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_dataset(fp, ds)
    assert path.read_bytes()[128:132] != b"DICM"
    im = load_image(path)
    np.testing.assert_array_equal(im.pixels, stored)
    assert im.metadata["modality"] == "CR"


def _assert_error(path: Path, *words: str) -> None:
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert len(message) < len(str(path)) + 200
    for word in words:
        assert word.lower() in message.lower(), message


def test_dicom_without_pixel_data(build_ds: Callable[..., Dataset], tmp_path: Path) -> None:
    ds = build_ds(np.zeros((4, 4), np.uint8))
    del ds.PixelData
    path = tmp_path / "nopixels.dcm"
    ds.save_as(path)
    _assert_error(path, "no pixel data")
    del ds.Rows, ds.Columns
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    ds.save_as(path)
    _assert_error(path, "no pixel data", "Basic Text SR")


def test_dicom_decompression_bomb(build_ds: Callable[..., Dataset], tmp_path: Path) -> None:
    ds = build_ds(np.zeros((4, 4), np.uint8))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 50
    path = tmp_path / "bomb.dcm"
    ds.save_as(path)
    _assert_error(path, "too large", "60000x60000x50")


def test_unsupported_transfer_syntax(build_ds: Callable[..., Dataset], tmp_path: Path) -> None:
    ds = build_ds(np.zeros((4, 4), np.uint8))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    ds.PixelData = pydicom.encaps.encapsulate([b"\x00" * 16])
    ds["PixelData"].VR = "OB"
    path = tmp_path / "video.dcm"
    ds.save_as(path)
    _assert_error(path, "unsupported transfer syntax", "MPEG2")


@pytest.mark.filterwarnings("ignore:End of file reached")
def test_truncated_dicom(tmp_path: Path) -> None:
    data = (DICOM_DIR / "dx_nih_google_uncompressed.dcm").read_bytes()
    cut_pixels, cut_header = tmp_path / "cut_pixels.dcm", tmp_path / "cut_header.dcm"
    cut_pixels.write_bytes(data[: len(data) // 2])
    cut_header.write_bytes(data[:300])
    _assert_error(cut_pixels, "pixel data is truncated", "of 1,048,576 bytes")
    _assert_error(cut_header, "truncated")
    j2k = RG1_J2K.read_bytes()
    cut_j2k = tmp_path / "cut_j2k.dcm"
    cut_j2k.write_bytes(j2k[: len(j2k) // 2])
    _assert_error(cut_j2k, "truncated")


def test_pixel_data_not_matching_the_header_is_an_error(tmp_path: Path) -> None:
    """Rows/Columns 100x100 over 1024x1024 pixel data: an error, never a 104-frame guess."""
    ds = pydicom.dcmread(DICOM_DIR / "dx_nih_google_uncompressed.dcm")
    ds.Rows = ds.Columns = 100
    small_header = tmp_path / "small_header.dcm"
    ds.save_as(small_header)
    _assert_error(small_header, "does not match the header", "1,048,576 bytes", "100x100", "needs 10,000")
    ds.Rows = ds.Columns = 1100
    big_header = tmp_path / "big_header.dcm"
    ds.save_as(big_header)
    _assert_error(big_header, "truncated", "1,048,576 of 1,210,000 bytes")
    ds.Rows, ds.Columns = 1023, 1025  # 1,048,575 bytes + the pad byte to an even length: fine
    ok = tmp_path / "padded.dcm"
    ds.save_as(ok)
    assert load_image(ok).pixels.shape == (1023, 1025)


def test_read_dicom_tags() -> None:
    tags = read_dicom_tags(RG1_J2K)
    by_keyword = {t.keyword: t for t in tags}
    assert by_keyword["PatientID"].tag == "(0010,0020)" and by_keyword["PatientID"].value == "9RG1"
    assert by_keyword["PatientID"].vr == "LO" and by_keyword["PatientID"].name == "Patient ID"
    assert by_keyword["TransferSyntaxUID"].value.endswith("(JPEG 2000 Image Compression)")
    assert by_keyword["SourceImageSequence"].value == "<sequence of 1 item>"
    assert by_keyword["WindowCenter"].value == "15000"
    assert "(7FE0,0010)" not in {t.tag for t in tags}
    assert all(len(t.value) <= 160 for t in tags)


def test_read_dicom_tags_rejects_non_dicom(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("hello")
    with pytest.raises(ImageLoadError, match="not a DICOM"):
        read_dicom_tags(path)


@pytest.mark.parametrize("scale, bits", [(1, 16), (16, 12), (257, 16)])
def test_an_8bit_film_in_a_deeper_container_reads_as_the_8bit_original(make_dicom: Callable[..., Path], scale, bits) -> None:
    """An 8-bit film saved as 12/16 bits without a window (as is, x16, x257) is windowed as the 8-bit
    file it came from, not stretched by percentiles: a DICOM copy of a PNG shows and scores the same."""
    rng = np.random.default_rng(1)
    eight = rng.integers(20, 200, size=(64, 64), dtype=np.uint8)  # not the full 0..255 range
    im8 = load_image(make_dicom(eight, "eight.dcm"))
    deep = load_image(make_dicom(eight.astype(np.uint16) * scale, "deep.dcm", BitsStored=bits))
    assert deep.metadata["voi_source"] == "8-bit values"
    np.testing.assert_allclose(deep.normalised(), im8.normalised(), atol=1e-6)
    # Real deep data (many values) keeps the percentile window.
    noisy = (eight.astype(np.uint16) * 16 + rng.integers(0, 16, size=eight.shape)).astype(np.uint16)
    assert load_image(make_dicom(noisy, "noisy.dcm", BitsStored=12)).metadata["voi_source"] == "percentiles"
