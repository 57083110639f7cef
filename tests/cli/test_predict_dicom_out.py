"""``chestview predict --dicom-out``: an SR and a presentation state per DICOM input, a note for PNG."""

from __future__ import annotations

import shutil

import highdicom as hd
import pydicom
import pytest

from chestview.cli.main import main

pytestmark = pytest.mark.filterwarnings("ignore:.*person name:UserWarning")


def test_predict_dicom_out_writes_sr_and_pr_per_dicom_input(tiny_zoo, samples_dir, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    dcm = samples_dir / "cr_siim_jpeg_baseline.dcm"
    png = next(samples_dir.glob("*.png"))
    shutil.copy(dcm, src)
    shutil.copy(png, src)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    dicom_dir = tmp_path / "dicom"

    code = main(["predict", str(src), "--out", str(tmp_path / "out"), "--no-images", "--dicom-out", str(dicom_dir)])
    assert code == 0  # a PNG without DICOM identity is a note, not a failure
    printed = capsys.readouterr()
    assert f"{png.name}: not a DICOM file, so no DICOM objects" in printed.err
    assert "Traceback" not in printed.err
    assert sorted(p.name for p in dicom_dir.iterdir()) == ["cr_siim_jpeg_baseline_pr.dcm", "cr_siim_jpeg_baseline_sr.dcm"]
    assert f"wrote 2 DICOM object(s) in {dicom_dir}" in printed.out

    source = pydicom.dcmread(dcm, stop_before_pixels=True)
    sr = hd.sr.srread(dicom_dir / "cr_siim_jpeg_baseline_sr.dcm")
    pr = pydicom.dcmread(dicom_dir / "cr_siim_jpeg_baseline_pr.dcm")
    for ds in (sr, pr):
        assert ds.PatientID == source.PatientID and ds.StudyInstanceUID == source.StudyInstanceUID
    assert pr.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    groups = sr.content.get_image_measurement_groups()
    # One group per label of the 14, and the input check's.
    assert len(groups) == 15 and all(g.source_images[0].referenced_sop_instance_uid == source.SOPInstanceUID for g in groups)
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before  # nothing written next to the sources


def test_predict_dicom_out_without_a_dicom_input_writes_nothing(tiny_zoo, samples_dir, tmp_path, capsys):
    png = next(samples_dir.glob("*.png"))
    code = main(["predict", str(png), "--out", str(tmp_path / "out"), "--no-images", "--dicom-out", str(tmp_path / "d")])
    assert code == 0
    assert not (tmp_path / "d").exists()
    assert "wrote 0 DICOM object(s)" in capsys.readouterr().out
