"""The Comprehensive SR read back with pydicom and highdicom: identity, references, codes, coordinates."""

from __future__ import annotations

import io
from dataclasses import replace

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import ComprehensiveSRStorage

from chestview.engine.dicom_export import codes
from chestview.engine.dicom_export.source import Algorithm, read_source_header
from chestview.engine.dicom_export.sr import build_sr
from chestview.engine.dicom_export.writer import dicom_bytes
from chestview.engine.results import Abnormality, InputCheck

from .conftest import SOURCES

pytestmark = pytest.mark.filterwarnings("ignore:.*person name:UserWarning")  # source names copied as they are
PROBABILITY = hd.sr.CodedConcept("122157", "DCM", "Probability")


def _source(samples_dir, name):
    return pydicom.dcmread(samples_dir / name, stop_before_pixels=True)


@pytest.mark.parametrize("name", SOURCES)
def test_sr_carries_the_source_identity_and_references_it(exported, samples_dir, name):
    src = _source(samples_dir, name)
    ds = pydicom.dcmread(exported[name]["sr"])
    assert ds.SOPClassUID == ComprehensiveSRStorage and ds.Modality == "SR"
    assert ds.PatientID == src.PatientID and str(ds.PatientName) == str(src.PatientName)
    assert ds.StudyInstanceUID == src.StudyInstanceUID
    assert ds.SeriesInstanceUID not in (src.SeriesInstanceUID, "")
    assert ds.SOPInstanceUID != src.SOPInstanceUID
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == src.StudyInstanceUID
    ref = evidence.ReferencedSeriesSequence[0]
    assert ref.SeriesInstanceUID == src.SeriesInstanceUID
    assert ref.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert ref.ReferencedSOPSequence[0].ReferencedSOPClassUID == src.SOPClassUID
    assert ds.VerificationFlag == "UNVERIFIED" and "not for clinical use" in ds.SeriesDescription


@pytest.mark.parametrize("name", SOURCES)
def test_sr_observer_is_the_algorithm(sr_docs, exported, predicted, name):
    card, _ = predicted
    sr = sr_docs[name]
    (observer,) = sr.content.get_observer_contexts()
    assert observer.observer_type.value == "121007"  # DCM Device
    device = observer.observer_identifying_attributes
    assert device.name == card.id and device.manufacturer_name == "chestview"
    assert device.serial_number == card.sha256 and len(card.sha256) == 64
    assert device.model_name == card.architecture


@pytest.mark.parametrize("name", SOURCES)
def test_sr_has_one_finding_per_label_with_probability_and_evaluation(sr_docs, exported, predicted, samples_dir, name):
    card, results = predicted
    result = results[name]
    src = _source(samples_dir, name)
    sr = sr_docs[name]
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    assert set(groups) == {*card.labels, "Input check"}  # every result has an input check
    for finding in result.findings:
        group = groups[finding.label]
        assert group.finding_type == codes.label_code(finding.label)
        (prob,) = group.get_measurements(name=PROBABILITY)
        assert prob.value == pytest.approx(finding.probability, abs=1e-6)
        (threshold,) = group.get_measurements(name=codes.THRESHOLD)
        assert threshold.value == pytest.approx(finding.threshold, abs=1e-6)
        evaluation = group.get_qualitative_evaluations(name=codes.label_code(finding.label))[0]
        assert evaluation.value == (codes.PRESENT if finding.positive else codes.ABSENT)
        assert group.source_images[0].referenced_sop_instance_uid == src.SOPInstanceUID
    unreliable = groups["Hernia"].get_qualitative_evaluations(name=codes.UNRELIABLE)
    assert unreliable and unreliable[0].value == codes.PRESENT
    # Standard codes for the labels that have one; the private scheme is declared.
    assert groups["Effusion"].finding_type.value == "60046008"
    assert groups["Pneumothorax"].finding_type.value == "36118008"
    assert groups["Hernia"].finding_type.scheme_designator == codes.PRIVATE_SCHEME
    ds = pydicom.dcmread(exported[name]["sr"])
    assert ds.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == codes.PRIVATE_SCHEME


@pytest.mark.parametrize("name", SOURCES)
def test_sr_boxes_are_image_regions_in_the_source_pixel_space(sr_docs, exported, predicted, samples_dir, name):
    _, results = predicted
    result = results[name]
    src = _source(samples_dir, name)
    assert (result.image_width, result.image_height) == (src.Columns, src.Rows)
    sr = sr_docs[name]
    regions = sr.content.get_planar_roi_measurement_groups()
    expected = {
        f"{f.label} region {i}": (f, box) for f in result.findings for i, box in enumerate(f.boxes, 1)
    }
    assert expected and {g.tracking_identifier for g in regions} == set(expected)
    for group in regions:
        finding, box = expected[group.tracking_identifier]
        assert group.finding_type == codes.label_code(finding.label)
        roi = group.roi
        assert roi.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
        points = roi.value
        np.testing.assert_allclose(points[0], points[-1])  # closed
        np.testing.assert_allclose(points.min(axis=0), [box.x, box.y], atol=1e-3)
        np.testing.assert_allclose(points.max(axis=0), [box.x2, box.y2], atol=1e-3)
        assert points[:, 0].max() <= src.Columns and points[:, 1].max() <= src.Rows
        ref = roi.ContentSequence[0].ReferencedSOPSequence[0]
        assert ref.ReferencedSOPInstanceUID == src.SOPInstanceUID
        (prob,) = group.get_measurements(name=PROBABILITY)
        assert prob.value == pytest.approx(finding.probability, abs=1e-6)


def _built_sr(card, result, samples_dir):
    source = read_source_header(samples_dir / "dx_nih_google_uncompressed.dcm")
    built = build_sr(source, result, Algorithm.from_card(card), series_uid="1.2.3", series_number=1, instance_number=1)
    sr = hd.sr.ComprehensiveSR.from_dataset(pydicom.dcmread(io.BytesIO(dicom_bytes(built))))
    return {g.finding_type.value: g for g in sr.content.get_image_measurement_groups()}


def test_sr_reports_abnormality_and_input_check_when_the_result_has_them(predicted, samples_dir):
    card, results = predicted
    # No boxes: this test is about the two extra groups, and every region costs parsing time.
    dx = results["dx_nih_google_uncompressed.dcm"]
    result = replace(
        dx, findings=[replace(f, boxes=(), positive=False) for f in dx.findings], abnormality=Abnormality(0.83, 0.4, True)
    )
    # The input check as results.json carries it.
    result.input_check = InputCheck.from_json({"score": 0.5, "threshold": 1.0, "flagged": False, "reason": ""})
    groups = _built_sr(card, result, samples_dir)
    abnormal = groups[codes.ABNORMAL.value]
    assert abnormal.get_measurements(name=PROBABILITY)[0].value == pytest.approx(0.83)
    assert abnormal.get_qualitative_evaluations()[0].value == codes.PRESENT
    # The case call travels with it: abnormal, and no finding above its point.
    assert "no single finding above its operating point" in abnormal.tracking_identifier
    check = groups[codes.INPUT_CHECK.value]
    assert check.get_measurements(name=codes.SCORE)[0].value == pytest.approx(0.5)
    assert check.get_qualitative_evaluations(name=codes.INPUT_FLAGGED)[0].value == codes.ABSENT


def test_sr_of_a_flagged_input_carries_the_flag_and_no_findings(predicted, samples_dir):
    """As in the app: a film the input gate flags has its findings withheld, in the SR too."""
    card, results = predicted
    dx = results["dx_nih_google_uncompressed.dcm"]
    assert any(f.positive for f in dx.findings)
    result = replace(dx, findings=[replace(f, boxes=()) for f in dx.findings], abnormality=Abnormality(0.83, 0.4, True))
    result.input_check = InputCheck.from_json({"score": 2.5, "threshold": 1.0, "flagged": True,
                                               "reason": "colour photograph"})
    groups = _built_sr(card, result, samples_dir)
    assert set(groups) == {codes.INPUT_CHECK.value}
    check = groups[codes.INPUT_CHECK.value]
    assert check.get_measurements(name=codes.SCORE)[0].value == pytest.approx(2.5)
    assert check.get_qualitative_evaluations(name=codes.INPUT_FLAGGED)[0].value == codes.PRESENT
    assert "colour photograph" in check.tracking_identifier


def test_sr_without_abnormality_has_none_and_an_ungated_input_check_has_no_score(sr_docs, exported):
    sr = sr_docs["cr_siim_jpeg_baseline.dcm"]
    groups = {g.finding_type.value: g for g in sr.content.get_image_measurement_groups()}
    assert codes.ABNORMAL.value not in groups
    # The tiny model has no gate statistics: the check's flag only, no score or threshold.
    check = groups[codes.INPUT_CHECK.value]
    assert not check.get_measurements(name=codes.SCORE) and not check.get_measurements(name=codes.THRESHOLD)
    assert check.get_qualitative_evaluations(name=codes.INPUT_FLAGGED)[0].value == codes.ABSENT
