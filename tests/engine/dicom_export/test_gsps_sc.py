"""The presentation state and the secondary capture read back: references, graphics, window, marking."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut
from pydicom.uid import GrayscaleSoftcopyPresentationStateStorage, SecondaryCaptureImageStorage

from chestview.engine.io.loader import load_image
from chestview.engine.render import NOT_FOR_CLINICAL_USE

from .conftest import POSITIVE_LABELS, SOURCES

pytestmark = pytest.mark.filterwarnings("ignore:.*person name:UserWarning")


def _displayed(source: pydicom.Dataset, pr: pydicom.Dataset) -> np.ndarray:
    """The source's pixels as a viewer shows them through the presentation state (PS3.4 pipeline):
    modality LUT, the PR's linear VOI window, then its presentation LUT shape; in [0, 1]."""
    modality = apply_modality_lut(source.pixel_array, source).astype(np.float64)
    voi = pr.SoftcopyVOILUTSequence[0]
    c, w = float(voi.WindowCenter), float(voi.WindowWidth)
    shown = np.clip((modality - (c - 0.5)) / (w - 1) + 0.5, 0.0, 1.0)
    return 1.0 - shown if pr.PresentationLUTShape == "INVERSE" else shown


@pytest.mark.parametrize("name", SOURCES)
def test_gsps_identity_and_reference(exported, samples_dir, name):
    src = pydicom.dcmread(samples_dir / name, stop_before_pixels=True)
    pr = pydicom.dcmread(exported[name]["pr"])
    assert pr.SOPClassUID == GrayscaleSoftcopyPresentationStateStorage and pr.Modality == "PR"
    assert pr.PatientID == src.PatientID and pr.StudyInstanceUID == src.StudyInstanceUID
    assert pr.SeriesInstanceUID != src.SeriesInstanceUID
    series = pr.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == src.SeriesInstanceUID
    assert series.ReferencedImageSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    annotation = pr.GraphicAnnotationSequence[0]
    assert annotation.ReferencedImageSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    area = pr.DisplayedAreaSelectionSequence[0]
    assert list(area.DisplayedAreaBottomRightHandCorner) == [src.Columns, src.Rows]


@pytest.mark.parametrize("name", SOURCES)
def test_gsps_draws_the_positive_findings_boxes_in_source_pixels(exported, predicted, samples_dir, name):
    _, results = predicted
    result = results[name]
    src = pydicom.dcmread(samples_dir / name, stop_before_pixels=True)
    annotation = pydicom.dcmread(exported[name]["pr"]).GraphicAnnotationSequence[0]
    boxes = [(f, b) for f in result.findings if f.positive for b in f.boxes]
    assert boxes and {f.label for f, _ in boxes} <= set(POSITIVE_LABELS)
    graphics = annotation.GraphicObjectSequence
    assert len(graphics) == len(boxes)
    for (finding, box), graphic in zip(boxes, graphics):
        assert graphic.GraphicType == "POLYLINE" and graphic.GraphicAnnotationUnits == "PIXEL"
        points = np.asarray(graphic.GraphicData, dtype=float).reshape(-1, 2)
        assert graphic.NumberOfGraphicPoints == 5 and np.allclose(points[0], points[-1])
        np.testing.assert_allclose(points.min(axis=0), [box.x, box.y], atol=1e-3)
        np.testing.assert_allclose(points.max(axis=0), [box.x2, box.y2], atol=1e-3)
    texts = [t.UnformattedTextValue for t in annotation.TextObjectSequence]
    for finding, _ in boxes:
        assert f"{finding.label} {finding.probability:.2f}" in texts
    assert NOT_FOR_CLINICAL_USE in texts
    for t in annotation.TextObjectSequence:  # every label lands on the image
        (x1, y1), (x2, y2) = t.BoundingBoxTopLeftHandCorner, t.BoundingBoxBottomRightHandCorner
        assert 0 <= x1 < x2 <= src.Columns and 0 <= y1 < y2 <= src.Rows


@pytest.mark.parametrize("name", SOURCES)
def test_gsps_window_shows_what_chestview_shows(exported, samples_dir, name):
    """MONOCHROME1 included: the window maps back to the source's units and the polarity is kept."""
    src = pydicom.dcmread(samples_dir / name)
    pr = pydicom.dcmread(exported[name]["pr"])
    expected_shape = "INVERSE" if src.PhotometricInterpretation == "MONOCHROME1" else "IDENTITY"
    assert pr.PresentationLUTShape == expected_shape
    ours = load_image(samples_dir / name).normalised()
    assert np.abs(_displayed(src, pr) - ours).mean() < 0.01


def test_gsps_uses_the_window_the_user_chose(predicted, samples_dir, tmp_path):
    from chestview.engine.dicom_export import DicomExporter

    card, results = predicted
    name = "cr_mono1_rg1_jpeg2000.dcm"
    image = load_image(samples_dir / name)
    window = (image.window[0] + 0.1 * image.window[1], 0.5 * image.window[1])  # brighter, narrower
    paths = DicomExporter(tmp_path, card).export(results[name], image=image, window=window)
    pr = pydicom.dcmread(next(p for p in paths if p.stem.endswith("_pr")))
    src = pydicom.dcmread(samples_dir / name)
    assert np.abs(_displayed(src, pr) - image.normalised(window)).mean() < 0.01


@pytest.mark.parametrize("name", SOURCES)
def test_secondary_capture_is_marked_derived_and_not_for_clinical_use(exported, samples_dir, name):
    src = pydicom.dcmread(samples_dir / name, stop_before_pixels=True)
    sc = pydicom.dcmread(exported[name]["sc"])
    assert sc.SOPClassUID == SecondaryCaptureImageStorage
    assert sc.PatientID == src.PatientID and sc.StudyInstanceUID == src.StudyInstanceUID
    assert sc.SeriesInstanceUID != src.SeriesInstanceUID
    assert sc.BurnedInAnnotation == "YES" and list(sc.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert NOT_FOR_CLINICAL_USE in sc.ImageComments
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert (sc.Rows, sc.Columns) == (src.Rows, src.Columns)  # same pixel space as the source
    assert sc.PhotometricInterpretation == "RGB" and sc.pixel_array.shape == (src.Rows, src.Columns, 3)
    if str(src.get("LossyImageCompression", "")) == "01":
        assert sc.LossyImageCompression == "01"


def test_gsps_labels_are_anchored_at_their_boxes(exported, predicted):
    """Each box label carries an anchor at its box's top-left corner, so no two sit at (0, 0)."""
    _, results = predicted
    name = "dx_nih_google_uncompressed.dcm"
    boxes = [(f, b) for f in results[name].findings if f.positive for b in f.boxes]
    annotation = pydicom.dcmread(exported[name]["pr"]).GraphicAnnotationSequence[0]
    anchored = [t for t in annotation.TextObjectSequence if "AnchorPoint" in t]
    assert len(anchored) == len(boxes) > 1
    for t, (_, box) in zip(anchored, boxes):
        np.testing.assert_allclose([float(v) for v in t.AnchorPoint], [box.x, box.y], atol=1e-3)
    corners = {tuple(float(v) for v in t.BoundingBoxTopLeftHandCorner) for t in anchored}
    assert len(corners) == len({(round(b.x), round(b.y)) for _, b in boxes})


def test_flagged_input_gets_the_flag_and_no_findings_in_pr_and_sc(predicted, samples_dir, tmp_path):
    """As in the app: a flagged film's objects carry the flag and its reason, never its positives."""
    from dataclasses import replace

    from chestview.engine.dicom_export import DicomExporter
    from chestview.engine.render import FLAGGED_BANNER
    from chestview.engine.results import Abnormality, InputCheck

    card, results = predicted
    name = "dx_nih_google_uncompressed.dcm"
    result = replace(results[name], input_check=InputCheck(2.0, 1.0, True, "headers say CT"),
                     abnormality=Abnormality(0.85, 0.5, True))
    assert any(f.positive and f.boxes for f in result.findings)
    paths = DicomExporter(tmp_path, card, secondary_capture=True).export(result, labels=["Effusion"])
    pr = pydicom.dcmread(next(p for p in paths if p.stem.endswith("_pr")))
    annotation = pr.GraphicAnnotationSequence[0]
    assert "GraphicObjectSequence" not in annotation
    texts = " | ".join(t.UnformattedTextValue for t in annotation.TextObjectSequence)
    assert FLAGGED_BANNER in texts and "headers say CT" in texts
    assert "abnormality" not in texts.lower() and not any(f.label in texts for f in result.findings if f.positive)
    sc = pydicom.dcmread(next(p for p in paths if p.stem.endswith("_sc"))).pixel_array
    # The SC is the flagged render: the red banner at the top, no finding drawn.
    assert (sc[:10, :, 0] > 120).mean() > 0.5 and (sc[:10, :, 1] < 40).mean() > 0.5
