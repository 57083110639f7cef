"""Files on disk: dciodvfy finds no errors; reruns never clobber; PNG gets nothing; odd headers still work."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

from chestview.engine.dicom_export import DicomExporter, NotDicomSource
from chestview.engine.errors import ChestviewError

from .conftest import SOURCES, require_tool

pytestmark = pytest.mark.filterwarnings("ignore:.*person name:UserWarning")


@pytest.mark.parametrize("kind", ["sr", "pr", "sc"])
@pytest.mark.parametrize("name", SOURCES)
def test_dciodvfy_finds_no_errors(exported, name, kind):
    exe = require_tool("dciodvfy", "dicom3tools")
    path = exported[name][kind]
    run = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=120)
    report = (run.stdout + run.stderr).splitlines()
    errors = [line for line in report if line.startswith("Error")]
    assert not errors, f"{path.name}: " + "; ".join(errors)
    # dciodvfy names the IOD it checked against: the right one, not a fallback.
    expected = {"sr": "ComprehensiveSR", "pr": "GrayscaleSoftcopyPresentationState", "sc": "SCImage"}[kind]
    assert any(line.strip() == expected for line in report), report[:5]


def test_rerun_adds_files_and_keeps_the_earlier_ones(predicted, tmp_path):
    card, results = predicted
    result = results["cr_siim_jpeg_baseline.dcm"]
    first = DicomExporter(tmp_path, card).export(result)
    before = {p: p.read_bytes() for p in first}
    second = DicomExporter(tmp_path, card).export(result)
    assert [p.name for p in first] == ["cr_siim_jpeg_baseline_sr.dcm", "cr_siim_jpeg_baseline_pr.dcm"]
    assert [p.name for p in second] == ["cr_siim_jpeg_baseline_sr_2.dcm", "cr_siim_jpeg_baseline_pr_2.dcm"]
    assert {p: p.read_bytes() for p in first} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_one_exporter_puts_a_study_kind_in_one_series(predicted, tmp_path):
    card, results = predicted
    exporter = DicomExporter(tmp_path, card)
    result = results["dx_nih_google_uncompressed.dcm"]
    a = [pydicom.dcmread(p) for p in exporter.export(result)]
    b = [pydicom.dcmread(p) for p in exporter.export(result)]
    for x, y in zip(a, b):
        assert x.SeriesInstanceUID == y.SeriesInstanceUID and x.SOPInstanceUID != y.SOPInstanceUID
        assert (x.InstanceNumber, y.InstanceNumber) == (1, 2)
    assert a[0].SeriesInstanceUID != a[1].SeriesInstanceUID  # SR and PR are separate series


def test_png_input_gets_no_dicom_objects(predicted, samples_dir, tmp_path):
    from chestview.engine.results import ImageResult

    card, _ = predicted
    png = next(samples_dir.glob("*.png"))
    with pytest.raises(NotDicomSource, match="not a DICOM file"):
        DicomExporter(tmp_path / "out", card).export(ImageResult(path=str(png), image_width=1024, image_height=1024))
    assert not (tmp_path / "out").exists()


def test_source_without_patient_attributes_still_gives_valid_objects(predicted, samples_dir, tmp_path):
    card, results = predicted
    name = "dx_nih_google_uncompressed.dcm"
    ds = pydicom.dcmread(samples_dir / name)
    for keyword in ("PatientID", "PatientName", "PatientSex", "StudyDate", "AccessionNumber"):
        if keyword in ds:
            delattr(ds, keyword)
    bare = tmp_path / name
    ds.save_as(bare)
    result = results[name]
    result = type(result)(**{**result.__dict__, "path": str(bare)})
    paths = DicomExporter(tmp_path / "out", card).export(result)
    for path in paths:
        out = pydicom.dcmread(path)
        assert out.PatientID == "" and out.StudyInstanceUID == ds.StudyInstanceUID
    if shutil.which("dciodvfy"):
        for path in paths:
            report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True).stderr
            assert not [line for line in report.splitlines() if line.startswith("Error")], report


def test_size_mismatch_is_one_clear_error(predicted, samples_dir, tmp_path):
    from dataclasses import replace

    card, results = predicted
    result = replace(results["cr_siim_jpeg_baseline.dcm"], image_width=512, image_height=512)
    with pytest.raises(ChestviewError, match="512x512 image but the DICOM file is 1024x1024"):
        DicomExporter(tmp_path, card).export(result)
    assert not list(Path(tmp_path).iterdir())


def test_writer_without_hard_links_still_never_clobbers(tmp_path, monkeypatch):
    """Some file systems (FAT, SMB) refuse hard links: the name is then claimed exclusively first."""
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    from chestview.engine.dicom_export.writer import write_new

    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    (tmp_path / "x_sr.dcm").write_bytes(b"earlier result")
    path = write_new(tmp_path, "x_sr", ds)
    assert path.name == "x_sr_2.dcm" and pydicom.dcmread(path).SOPInstanceUID == ds.SOPInstanceUID
    assert (tmp_path / "x_sr.dcm").read_bytes() == b"earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x_sr.dcm", "x_sr_2.dcm"]
