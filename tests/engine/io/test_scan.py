"""scan_paths / iter_image_files: walking, grouping by UIDs from headers only, errors, speed."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import write_dataset

from chestview.engine.io import ScanProgress, iter_image_files, scan_paths

DATA = Path(__file__).resolve().parents[2] / "data"
DICOM_DIR = DATA / "dicom"
NIH_DIR = DATA / "nih" / "images"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder as users have them: nested, extension-less DICOMs, hidden files, non-images."""
    root = tmp_path / "incoming"
    (root / "patient_a" / "series1").mkdir(parents=True)
    (root / ".cache").mkdir()
    (root / "pngs").mkdir()
    shutil.copy(DICOM_DIR / "cr_mono1_rg1_jpeg2000.dcm", root / "patient_a" / "series1" / "IM0003")
    shutil.copy(DICOM_DIR / "cr_mono1_rg1_uncompressed_quarter.dcm", root / "patient_a" / "series1" / "IM0007")
    for n in (1, 4, 5, 6):
        shutil.copy(DICOM_DIR / f"sc_nih_udacity_test{n}_quarter.dcm", root / f"udacity{n}.dcm")
    shutil.copy(NIH_DIR / "00000001_000.png", root / "pngs")
    shutil.copy(NIH_DIR / "00000002_000.png", root / "pngs")
    shutil.copy(NIH_DIR / "00000003_000.png", root / ".cache" / "hidden.png")
    shutil.copy(NIH_DIR / "00000003_000.png", root / ".hidden.png")
    (root / "report.txt").write_text("Impression: no acute findings.")
    (root / "empty.dcm").write_bytes(b"")
    (root / "x.png").mkdir()  # a folder named like an image
    return root


def test_walk_finds_images_by_content(tree: Path) -> None:
    found = [p.relative_to(tree).as_posix() for p in iter_image_files(tree)]
    assert found == [
        "empty.dcm",  # named like an image: yielded so that loading it says why it is not one
        "udacity1.dcm",
        "udacity4.dcm",
        "udacity5.dcm",
        "udacity6.dcm",
        "patient_a/series1/IM0003",
        "patient_a/series1/IM0007",
        "pngs/00000001_000.png",
        "pngs/00000002_000.png",
        "x.png",  # a folder named like an image, without images: reported after the walk
    ]


def test_scan_groups_patient_study_series(tree: Path) -> None:
    result = scan_paths([tree])
    assert [(Path(p).name, why) for p, why in result.errors] == [
        ("empty.dcm", "file is empty"),
        ("x.png", "is a folder named like an image, holding no PNG, JPEG or DICOM image"),
    ]
    assert not result.cancelled
    assert [p.id for p in result.patients] == ["2", "9RG1", None]
    rg1 = result.patients[1]
    assert rg1.name == "CompressedSamples^RG1"
    (study,) = rg1.studies
    assert (study.description, study.date, study.patient_id) == ("THORAX", "20040826", "9RG1")
    (series,) = study.series
    assert (series.modality, series.number) == ("CR", 1)
    assert [(im.path.name, im.instance_number, im.kind) for im in series.images] == [
        ("IM0003", 3, "dicom"),
        ("IM0007", 7, "dicom"),
    ]
    udacity = result.patients[0].studies[0].series[0]
    assert [im.path.name for im in udacity.images] == ["udacity1.dcm", "udacity4.dcm", "udacity5.dcm", "udacity6.dcm"]
    # PNG files: one study each, no patient identity.
    rasters = result.patients[2].studies
    assert [s.series[0].images[0].path.name for s in rasters] == ["00000001_000.png", "00000002_000.png"]
    assert all(s.series[0].images[0].kind == "raster" for s in rasters)
    assert len(result.studies) == 4 and len(result.images) == 8


def test_explicit_non_images_are_errors(tree: Path) -> None:
    named = [tree / "report.txt", tree / "empty.dcm", tree / "missing.png", tree / "pngs" / "00000001_000.png"]
    result = scan_paths(named)
    assert [(Path(p).name, msg) for p, msg in result.errors] == [
        ("report.txt", "not a PNG, JPEG or DICOM image"),
        ("empty.dcm", "file is empty"),
        ("missing.png", "file not found"),
    ]
    assert len(result.images) == 1
    # iter_image_files passes named paths through, so that loading them says what is wrong.
    assert [p.name for p in iter_image_files(named)] == ["report.txt", "empty.dcm", "missing.png", "00000001_000.png"]


def test_unreadable_and_non_image_dicoms(tree: Path, build_ds: Callable[..., Dataset]) -> None:
    (tree / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff" + b"1.2" * 10)
    ds = build_ds(np.zeros((4, 4), np.uint8))
    del ds.PixelData, ds.Rows, ds.Columns  # e.g. a structured report next to the images
    ds.save_as(tree / "report.dcm")
    result = scan_paths(tree)
    assert [Path(p).name for p, _ in result.errors] == ["broken.dcm", "empty.dcm", "x.png"]
    assert "\n" not in result.errors[0][1]
    assert len(result.images) == 8  # the report is skipped silently while walking
    named = scan_paths([tree / "report.dcm"])
    assert named.errors == [(str(tree / "report.dcm"), "DICOM file holds no image")]


def test_headers_only(tmp_path: Path, build_ds: Callable[..., Dataset]) -> None:
    ds = build_ds(np.zeros((64, 64), np.uint8))
    ds.PixelData = b"\x01" * 10  # pixel data far too short: fine for listing, fails only on loading
    ds.save_as(tmp_path / "short.dcm")
    # and an old file without preamble or file meta, found by content
    raw = build_ds(np.zeros((4, 4), np.uint8), SOPInstanceUID="1.2.3.4.99", InstanceNumber=2)
    del raw.file_meta
    with open(tmp_path / "OLDFILE", "wb") as fh:
        fp = DicomFileLike(fh)
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_dataset(fp, raw)
    result = scan_paths(tmp_path)
    assert result.errors == []
    assert [(im.path.name, im.sop_uid) for im in result.images] == [("short.dcm", ds.SOPInstanceUID), ("OLDFILE", "1.2.3.4.99")]


def test_series_and_instance_ordering(tmp_path: Path, build_ds: Callable[..., Dataset]) -> None:
    pixels = np.zeros((4, 4), np.uint8)
    specs = [("s2_i2", 2, 2), ("s2_i1", 2, 1), ("s1_none", 1, None), ("s1_i10", 1, 10), ("s1_i9", 1, 9)]
    for name, series, instance in specs:
        build_ds(
            pixels, SeriesInstanceUID=f"1.2.3.4.{series}", SeriesNumber=series, InstanceNumber=instance
        ).save_as(tmp_path / f"{name}.dcm")
    (study,) = scan_paths(tmp_path).studies
    assert [s.number for s in study.series] == [1, 2]
    assert [[im.path.stem for im in s.images] for s in study.series] == [
        ["s1_i9", "s1_i10", "s1_none"],
        ["s2_i1", "s2_i2"],
    ]


def test_thousand_files_list_fast(tmp_path: Path, build_ds: Callable[..., Dataset]) -> None:
    ds = build_ds(np.zeros((8, 8), np.uint8))
    for i in range(1000):
        ds.SeriesInstanceUID = f"1.2.3.4.{i % 10}"
        ds.SeriesNumber = i % 10
        ds.InstanceNumber = i
        ds.save_as(tmp_path / f"{i:04d}.dcm")
    events: list[ScanProgress] = []
    start = time.perf_counter()
    result = scan_paths(tmp_path, on_event=events.append)
    assert time.perf_counter() - start < 5.0  # typically well under a second
    assert len(result.images) == 1000 and len(result.studies[0].series) == 10
    assert events[-1].files_done == 1000


def test_cancel(tree: Path) -> None:
    seen: list[ScanProgress] = []
    result = scan_paths(tree, on_event=seen.append, should_stop=lambda: len(seen) >= 3)
    # empty.dcm (reported), then two images
    assert result.cancelled and len(seen) == 3 and len(result.images) == 2 and len(result.errors) == 1


def test_a_named_folder_without_images_is_reported(tmp_path: Path) -> None:
    (tmp_path / "empty_study").mkdir()
    (tmp_path / "empty_study" / "notes.txt").write_text("nothing here")
    result = scan_paths([tmp_path / "empty_study"])
    assert result.errors == [(str(tmp_path / "empty_study"), "folder holds no PNG, JPEG or DICOM image")]


def test_entries_named_like_images_that_are_no_regular_files_are_reported(tmp_path: Path) -> None:
    """A FIFO, a symlink loop, a broken link and a folder named x.png: reported, never opened."""
    import os

    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(NIH_DIR / "00000001_000.png", root / "good.png")
    os.mkfifo(root / "pipe.png")  # opening it would block the scan forever
    os.symlink(root / "loop.png", root / "loop.png")
    os.symlink(root / "gone.png", root / "dangling.dcm")
    (root / "x.png").mkdir()
    os.mkfifo(root / "pipe.txt")  # not named like an image: skipped, as any non-image
    result = scan_paths(root)
    assert [im.path.name for im in result.images] == ["good.png"]
    assert sorted((Path(p).name, why) for p, why in result.errors) == [
        ("dangling.dcm", "broken symbolic link"),
        ("loop.png", "symbolic link loop"),
        ("pipe.png", "is a named pipe (FIFO), not a regular file"),
        ("x.png", "is a folder named like an image, holding no PNG, JPEG or DICOM image"),
    ]
    assert sorted(p.name for p in iter_image_files(root)) == ["dangling.dcm", "good.png", "loop.png", "pipe.png", "x.png"]
