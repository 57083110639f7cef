"""A Comprehensive SR in the TID 1500 measurement-report style: what the model said about one image.

Observer: the algorithm as a device (model id, architecture, weights SHA-256). Per label, one
measurement group with the probability, the decision threshold and a Present/Absent evaluation;
per box, an image-region group whose SCOORD is a closed POLYLINE rectangle in the source's pixel
space, referencing its SOP Instance UID. The abnormality score and the input check get a group
each when the result has them; the reader's measurements follow (``extra_groups``, made by
:mod:`chestview.engine.dicom_export.measurements`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from chestview.engine.case_call import case_call
from chestview.engine.dicom_export import codes
from chestview.engine.dicom_export.source import Algorithm
from chestview.engine.results import Box, Finding, ImageResult

SR_SERIES_DESCRIPTION = "chestview AI findings (not for clinical use)"


def device_uid(algorithm: Algorithm) -> str:
    """A stable UID per model and weights: the same model is the same observer across reports."""
    return generate_uid(entropy_srcs=["chestview", algorithm.model_id, algorithm.weights_sha256])


def plain_text(text: str) -> str:
    """``text`` in the default DICOM repertoire: the dashes chestview writes become ASCII hyphens."""
    return text.replace("—", "-").replace("–", "-").replace("…", "...").replace("°", " deg")


def rectangle(box: Box, columns: int, rows: int) -> np.ndarray:
    """A closed 5-point (column, row) polyline; DICOM's pixel origin is the top-left pixel's corner,
    the same convention as chestview's boxes, so no half-pixel shift. Clipped to the image."""
    x1, x2 = (float(np.clip(v, 0, columns)) for v in (box.x, box.x2))
    y1, y2 = (float(np.clip(v, 0, rows)) for v in (box.y, box.y2))
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]], dtype=np.float32)


def build_sr(
    source: Dataset,
    result: ImageResult,
    algorithm: Algorithm,
    *,
    series_uid: str,
    series_number: int,
    instance_number: int,
    extra_groups: Sequence[Any] = (),
) -> hd.sr.ComprehensiveSR:
    """``extra_groups``: measurement groups that follow the model's (the reader's measurements)."""
    algorithm_id = hd.sr.AlgorithmIdentification(
        name=algorithm.model_id,
        version=algorithm.software_version,
        parameters=[f"architecture {algorithm.architecture}", f"weights SHA-256 {algorithm.weights_sha256 or 'unknown'}",
                    *([algorithm.warning] if algorithm.warning else []),
                    *([f"site profile {algorithm.site}"] if algorithm.site else [])],
    )
    observer = hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept("121007", "DCM", "Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=device_uid(algorithm),
            name=algorithm.model_id,
            manufacturer_name="chestview",
            model_name=algorithm.architecture,
            # LO holds 64 characters: exactly a SHA-256 in hex, the closest thing a model has to a serial.
            serial_number=algorithm.weights_sha256 or None,
        ),
    )
    image = hd.sr.SourceImageForMeasurementGroup(source.SOPClassUID, source.SOPInstanceUID)
    groups: list[Any] = []
    # A flagged input (not a frontal chest radiograph, by the input gate) carries the flag and no
    # findings, as in the app: its probabilities are not readings of a chest film.
    if not result.flagged:
        for finding in result.findings:
            groups.append(_finding_group(finding, image, algorithm_id))
            for i, box in enumerate(finding.boxes, 1):
                groups.append(_box_group(finding, i, box, source, algorithm_id))
        abnormality = getattr(result, "abnormality", None)
        if abnormality is not None:
            groups.append(_abnormality_group(abnormality, case_call(result), image, algorithm_id))
    check = getattr(result, "input_check", None)
    if check is not None:
        groups.append(_input_check_group(check, image, algorithm_id))
    groups += list(extra_groups)

    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.PLAIN_RADIOGRAPHY,
        imaging_measurements=groups,
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=[source],
        content=report[0],
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer="chestview",
        is_complete=True,
        is_final=False,  # machine output nobody has verified
        is_verified=False,
    )
    sr.SeriesDescription = SR_SERIES_DESCRIPTION
    sr.CodingSchemeIdentificationSequence = codes.coding_scheme_identification()
    sr.SoftwareVersions = algorithm.software_version
    sr.ManufacturerModelName = algorithm.model_id[:64]
    return sr


def _probability(value: float) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=codes.PROBABILITY, value=float(value), unit=codes.NO_UNITS)


def _threshold(value: float) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=codes.THRESHOLD, value=float(value), unit=codes.NO_UNITS)


def _presence(finding_type: hd.sr.CodedConcept, positive: bool) -> hd.sr.QualitativeEvaluation:
    return hd.sr.QualitativeEvaluation(name=finding_type, value=codes.PRESENT if positive else codes.ABSENT)


def _finding_group(finding: Finding, image, algorithm_id) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    code = codes.label_code(finding.label)
    evaluations = [_presence(code, finding.positive)]
    if not finding.reliable:
        evaluations.append(hd.sr.QualitativeEvaluation(name=codes.UNRELIABLE, value=codes.PRESENT))
    if finding.diffuse:  # "diffuse, no box": the map has no focal region
        evaluations.append(hd.sr.QualitativeEvaluation(name=codes.DIFFUSE, value=codes.PRESENT))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=finding.label),
        finding_type=code,
        algorithm_id=algorithm_id,
        measurements=[_probability(finding.probability), _threshold(finding.threshold)],
        qualitative_evaluations=evaluations,
        source_images=[image],
    )


def _box_group(finding: Finding, index: int, box: Box, source: Dataset, algorithm_id):
    code = codes.label_code(finding.label)
    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=rectangle(box, int(source.Columns), int(source.Rows)),
        source_image=hd.sr.SourceImageForRegion(source.SOPClassUID, source.SOPInstanceUID),
    )
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=f"{finding.label} region {index}"),
        referenced_region=region,
        finding_type=code,
        algorithm_id=algorithm_id,
        measurements=[_probability(finding.probability)],
        qualitative_evaluations=[_presence(code, finding.positive)],
    )


def _abnormality_group(abnormality: Any, call, image, algorithm_id):
    # The case call (engine.case_call) travels in the identifier, as the input check's reason does.
    identifier = plain_text("Abnormality" + (f": {call.text}" if call is not None else "") + (
        f". Note: {call.note}" if call is not None and call.note else ""))
    evaluations = [_presence(codes.ABNORMAL, bool(_field(abnormality, "positive")))]
    if call is not None and call.discordant:
        evaluations.append(hd.sr.QualitativeEvaluation(name=codes.DISCORDANT, value=codes.PRESENT))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=identifier),
        finding_type=codes.ABNORMAL,
        algorithm_id=algorithm_id,
        measurements=[_probability(_field(abnormality, "probability")), _threshold(_field(abnormality, "threshold"))],
        qualitative_evaluations=evaluations,
        source_images=[image],
    )


def _input_check_group(check: Any, image, algorithm_id):
    flagged = bool(_field(check, "flagged"))
    reason = str(_field(check, "reason", "") or "").strip()
    # TID 1501 has no free-text item: the reason travels in the group's tracking identifier.
    identifier = "Input check" + (f": {reason}" if flagged and reason else "")
    # score and threshold are None for a model without gate statistics, or on a backend without
    # trunk features (pixel and header checks only): the group then has the flag alone.
    measurements = []
    if _field(check, "score", None) is not None:
        measurements.append(hd.sr.Measurement(name=codes.SCORE, value=float(_field(check, "score")),
                                              unit=codes.NO_UNITS))
    if _field(check, "threshold", None) is not None:
        measurements.append(_threshold(_field(check, "threshold")))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=identifier),
        finding_type=codes.INPUT_CHECK,
        algorithm_id=algorithm_id,
        measurements=measurements,
        qualitative_evaluations=[_presence(codes.INPUT_FLAGGED, flagged)],
        source_images=[image],
    )


def _field(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or mapping key: results from before and after the shared dataclasses land."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)
