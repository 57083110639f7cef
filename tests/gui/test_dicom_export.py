"""The app's "DICOM objects" export: the dialog offers it for DICOM sources, the job writes SR, PR and SC."""

from __future__ import annotations

import highdicom as hd
import pydicom
import pytest

from chestview.gui.export_dialog import DICOM_FORMAT, ExportDialog
from chestview.gui.main_window import MainWindow
from chestview.gui.settings import AppSettings

TIMEOUT = 120_000
pytestmark = pytest.mark.filterwarnings("ignore:.*person name:UserWarning")


def test_dialog_offers_dicom_objects_only_for_dicom_sources(qtbot, samples_dir, tmp_path):
    png = ExportDialog(None, str(samples_dir / "00000661_000.png"), str(tmp_path))
    qtbot.addWidget(png)
    assert not png.format.model().item(png.format.findText(DICOM_FORMAT)).isEnabled()

    dlg = ExportDialog(None, str(samples_dir / "cr_siim_jpeg_baseline.dcm"), str(tmp_path), dicom_source=True)
    qtbot.addWidget(dlg)
    assert not dlg.is_dicom() and not dlg.json.isHidden() and dlg.secondary.isHidden()
    dlg.format.setCurrentText(DICOM_FORMAT)
    assert dlg.is_dicom() and dlg.json.isHidden() and not dlg.secondary.isHidden()
    assert dlg.output_path() == str(tmp_path / "chestview-dicom")
    assert "patient and study identity" in dlg.note.text()
    dlg.secondary.setChecked(True)
    assert dlg.secondary_capture()
    dlg.format.setCurrentText("png")  # back to an image: a file name again
    assert dlg.output_path().endswith("cr_siim_jpeg_baseline_annotated.png")


@pytest.fixture
def window(qtbot, tiny_zoo):
    w = MainWindow(AppSettings(), model=tiny_zoo)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    yield w
    w.workers.wait(30_000)  # even after a failure: no worker may outlive the window into the next test


def test_app_exports_dicom_objects_of_the_current_view(qtbot, window, samples_dir, tmp_path):
    w = window
    source = samples_dir / "cr_siim_jpeg_baseline.dcm"
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths([str(source)])
    out = tmp_path / "dicom"
    worker = w.start_dicom_export(str(out), secondary_capture=True)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cr_siim_jpeg_baseline_pr.dcm", "cr_siim_jpeg_baseline_sc.dcm", "cr_siim_jpeg_baseline_sr.dcm"]
    src = pydicom.dcmread(source, stop_before_pixels=True)
    sr = hd.sr.srread(out / "cr_siim_jpeg_baseline_sr.dcm")
    assert sr.PatientID == src.PatientID and sr.StudyInstanceUID == src.StudyInstanceUID
    # One group per finding, and the input check's.
    assert len(sr.content.get_image_measurement_groups()) == len(w.current_result.findings) + 1
    pr = pydicom.dcmread(out / "cr_siim_jpeg_baseline_pr.dcm")
    voi = pr.SoftcopyVOILUTSequence[0]
    assert (float(voi.WindowCenter), float(voi.WindowWidth)) == pytest.approx(w.viewer.window)  # the window shown
    assert pr.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    exported, _ = w.result_for_export()  # the result as drawn now: its positive findings' boxes
    positives = [f for f in exported.findings if f.positive]
    assert len(pr.GraphicAnnotationSequence[0].get("GraphicObjectSequence", [])) == sum(len(f.boxes) for f in positives)


def test_app_exports_the_readers_measurements(qtbot, window, samples_dir, tmp_path):
    """The rulers drawn on the film go into the presentation state (their own layer) and the SR (mm)."""
    from chestview.engine.annotations import Annotation

    w = window
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths([str(samples_dir / "cr_siim_jpeg_baseline.dcm")])
    w.viewer.measure.add(Annotation("ruler", ((100.0, 100.0), (100.0, 600.0))))
    out = tmp_path / "dicom"
    worker = w.start_dicom_export(str(out))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    pr = pydicom.dcmread(out / "cr_siim_jpeg_baseline_pr.dcm")
    (own,) = [a for a in pr.GraphicAnnotationSequence if a.GraphicLayer == "MEASUREMENTS"]
    assert [t.UnformattedTextValue for t in own.TextObjectSequence] == ["84.0 mm"]
    assert b"Reader measurement 1: ruler" in (out / "cr_siim_jpeg_baseline_sr.dcm").read_bytes()
