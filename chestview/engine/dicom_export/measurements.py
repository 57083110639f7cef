"""The reader's measurements (rulers, angles, arrows, text notes, the cardiothoracic ratio; stored by
:mod:`chestview.engine.annotations`) in the DICOM objects of a film:

- in the presentation state, a layer of their own: each line as a polyline and each value (or note)
  as text beside it, in the source's pixel space;
- in the SR, one measurement group each, without the algorithm's identification (the reader made
  them): lengths in mm where the pixel spacing is known (in pixels otherwise), angles in degrees, the
  CTR as its two diameters and their ratio, each with the lines it was measured on; a text note and an
  arrow's text as the group's tracking identifier (TID 1501 has no free-text item).
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from chestview.engine.annotations import Annotation, angle_between, caption, ctr_spans, segments
from chestview.engine.dicom_export import codes
from chestview.engine.dicom_export.pr_graphics import polyline, text_object
from chestview.engine.dicom_export.sr import plain_text
from chestview.engine.measure import cardiothoracic_ratio, distance

MEASUREMENT_LAYER = "MEASUREMENTS"
Spacing = tuple[float, float] | None


def label_point(a: Annotation) -> tuple[float, float]:
    """Where an annotation's text goes: a note at its point, an arrow's at its tail, a value at the end
    of its last line."""
    if a.kind in ("text", "arrow"):
        return a.points[0]
    lines = segments(a)
    return lines[-1][1] if lines else a.points[0]


def pr_measurements(annotations: Sequence[Annotation], spacing: Spacing, columns: int, rows: int,
                    text_height: float) -> tuple[list[hd.pr.GraphicObject], list[hd.pr.TextObject]]:
    """The graphic objects (one polyline per line) and text objects (one per annotation) of the layer."""
    graphics: list[hd.pr.GraphicObject] = []
    texts: list[hd.pr.TextObject] = []
    for a in annotations:
        graphics += [polyline(line, columns, rows) for line in segments(a)]
        value = caption(a, spacing)
        if value:
            x, y = label_point(a)
            texts.append(text_object(value, x + text_height / 3, y, text_height, columns, rows, anchor=(x, y)))
    return graphics, texts


def _length(name: hd.sr.CodedConcept, p1, p2, spacing: Spacing, image: hd.sr.SourceImageForRegion) -> hd.sr.Measurement:
    d = distance(p1, p2, spacing)
    return hd.sr.Measurement(name=name, value=float(d.value), unit=codes.MILLIMETRE if d.unit == "mm" else codes.PIXELS,
                             referenced_coordinates=[_line(p1, p2, image)])


def _line(p1, p2, image: hd.sr.SourceImageForRegion) -> hd.sr.CoordinatesForMeasurement:
    data = np.array([p1, p2], dtype=np.float32)
    return hd.sr.CoordinatesForMeasurement(hd.sr.GraphicTypeValues.POLYLINE, data, image)


def _measurements(a: Annotation, spacing: Spacing, image: hd.sr.SourceImageForRegion) -> list[hd.sr.Measurement]:
    if a.kind == "ruler":
        return [_length(codes.LENGTH, *a.points, spacing, image)]
    if a.kind == "angle":
        return [hd.sr.Measurement(name=codes.ANGLE, value=float(angle_between(*a.points)), unit=codes.DEGREE,
                                  referenced_coordinates=[_line(*line, image) for line in segments(a)])]
    if a.kind == "ctr":
        (cardiac, thoracic), (c_line, t_line) = ctr_spans(a), segments(a)
        out = [_length(codes.CARDIAC_DIAMETER, *c_line, spacing, image),
               _length(codes.THORACIC_DIAMETER, *t_line, spacing, image)]
        ratio = cardiothoracic_ratio(cardiac, thoracic)
        if ratio is not None:
            out.append(hd.sr.Measurement(name=codes.CARDIOTHORACIC_RATIO, value=float(ratio), unit=codes.NO_UNITS))
        return out
    return []


def group_name(index: int, a: Annotation) -> str:
    """The SR group's tracking identifier: 'Reader note 3: text', 'Reader arrow 2: text', 'Reader
    measurement 1: ruler'."""
    if a.kind == "text":
        return f"Reader note {index}: {a.text}"
    if a.kind == "arrow":
        return f"Reader arrow {index}" + (f": {a.text}" if a.text else "")
    return f"Reader measurement {index}: {a.kind}"


def sr_measurement_groups(annotations: Sequence[Annotation], spacing: Spacing,
                          source: Dataset) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    """One measurement group per annotation, in the order they were drawn."""
    image = hd.sr.SourceImageForMeasurementGroup(source.SOPClassUID, source.SOPInstanceUID)
    region_image = hd.sr.SourceImageForRegion(source.SOPClassUID, source.SOPInstanceUID)
    groups = []
    for i, a in enumerate(annotations, 1):
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=plain_text(group_name(i, a))),
            finding_type=codes.READER_NOTE if a.kind in ("text", "arrow") else None,
            measurements=_measurements(a, spacing, region_image) or None,
            source_images=[image],
        ))
    return groups
