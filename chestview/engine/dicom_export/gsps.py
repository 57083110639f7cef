"""A Grayscale Softcopy Presentation State: the positive findings drawn on the source image.

A viewer applies it to the source image unchanged: each positive finding's boxes as graphic
polylines with a text label anchored at its box, the case call and findings summary (a flagged
input: the flag and its reason, no findings), the model's quality warning and "not for clinical use" as text, the
reader's measurements on a layer of their own (:mod:`chestview.engine.dicom_export.measurements`), and the VOI
window chestview displayed (mapped back to the source's modality units; MONOCHROME1 sources get
an INVERSE presentation LUT, so they look as they do in chestview).
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from chestview.engine.case_call import case_call
from chestview.engine.dicom_export import codes
from chestview.engine.dicom_export.measurements import MEASUREMENT_LAYER, pr_measurements
from chestview.engine.dicom_export.pr_graphics import text_object
from chestview.engine.dicom_export.source import Algorithm, is_monochrome1
from chestview.engine.dicom_export.sr import rectangle
from chestview.engine.annotations import Annotation
from chestview.engine.results import ImageResult
from chestview.engine.render import FLAGGED_BANNER, NOT_FOR_CLINICAL_USE

PR_SERIES_DESCRIPTION = "chestview AI annotations (not for clinical use)"
CONTENT_LABEL = "CHESTVIEW"


def build_gsps(
    source: Dataset,
    result: ImageResult,
    algorithm: Algorithm,
    window: tuple[float, float],
    *,
    series_uid: str,
    series_number: int,
    instance_number: int,
    measurements: Sequence[Annotation] = (),
    spacing: tuple[float, float] | None = None,
) -> hd.pr.GrayscaleSoftcopyPresentationState:
    """``window``: (centre, width) in the source's modality units (see ``source.source_window``).
    ``measurements``: the reader's, on a layer of their own (values in mm with ``spacing``)."""
    columns, rows = int(source.Columns), int(source.Rows)
    layer = hd.pr.GraphicLayer(layer_name="FINDINGS", order=1, description="chestview positive findings")
    text_height = max(12.0, rows / 45)
    graphics: list[hd.pr.GraphicObject] = []
    texts: list[hd.pr.TextObject] = []
    lines: list[str] = []  # the summary, top left, one text object per line
    if result.flagged:
        # As in the app: a flagged input carries the flag and its reason, never its findings.
        lines += [f"{FLAGGED_BANNER}", f"Reason: {result.input_check.reason}" if result.input_check.reason else ""]
    else:
        positives = [f for f in result.findings if f.positive]
        for finding in positives:
            label = f"{finding.label} {finding.probability:.2f}"
            for box in finding.boxes:
                points = rectangle(box, columns, rows)
                graphics.append(hd.pr.GraphicObject(hd.pr.GraphicTypeValues.POLYLINE, points,
                                                    hd.pr.AnnotationUnitsValues.PIXEL))
                x1, y1 = float(points[0][0]), float(points[0][1])
                # Above the box, or just inside its top edge when the box touches the image's top;
                # anchored at the box's corner, so a viewer places the label by its box.
                top = y1 - text_height if y1 >= text_height else y1
                texts.append(text_object(label, x1, top, text_height, columns, rows, anchor=(x1, y1)))
        call = case_call(result)
        lines.append(f"chestview {algorithm.model_id}: {call.text if call is not None else 'no call'}")
        if call is not None and call.note:
            lines.append(f"Note: {call.note}")
        lines += [f"{f.label} {f.probability:.2f}: diffuse, no box" for f in positives if f.diffuse]
    if algorithm.warning:
        lines.append(algorithm.warning)
    for i, line in enumerate(x for x in lines if x):
        texts.append(text_object(line, 0.0, i * text_height * 1.2, text_height, columns, rows))
    texts.append(text_object(NOT_FOR_CLINICAL_USE, 0.0, rows - text_height, text_height, columns, rows))
    annotation = hd.pr.GraphicAnnotation(
        referenced_images=[source],
        graphic_layer=layer,
        graphic_objects=graphics or None,
        text_objects=texts,
    )
    annotations, layers = [annotation], [layer]
    if measurements:
        own = hd.pr.GraphicLayer(layer_name=MEASUREMENT_LAYER, order=2, description="the reader's measurements")
        drawn, captions = pr_measurements(measurements, spacing, columns, rows, text_height)
        annotations.append(hd.pr.GraphicAnnotation(referenced_images=[source], graphic_layer=own,
                                                   graphic_objects=drawn or None, text_objects=captions or None))
        layers.append(own)
    centre, width = window
    pr = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[source],
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer="chestview",
        manufacturer_model_name=algorithm.model_id[:64],
        software_versions=algorithm.software_version,
        device_serial_number=algorithm.weights_sha256 or "unknown",
        content_label=CONTENT_LABEL,
        content_description=f"chestview {algorithm.model_id} findings"[:64],
        graphic_annotations=annotations,
        graphic_layers=layers,
        voi_lut_transformations=[
            hd.pr.SoftcopyVOILUTTransformation(
                window_center=float(centre), window_width=max(float(width), 1.0), window_explanation="chestview window"
            )
        ],
        presentation_lut_transformation=hd.PresentationLUTTransformation(
            presentation_lut_shape=hd.PresentationLUTShapeValues.INVERSE
            if is_monochrome1(source)
            else hd.PresentationLUTShapeValues.IDENTITY
        ),
    )
    pr.SeriesDescription = PR_SERIES_DESCRIPTION
    # General Series Laterality is Type 2C: the source's value, or empty (a chest is not a paired part).
    pr.Laterality = source.get("Laterality", "")
    pr.CodingSchemeIdentificationSequence = codes.coding_scheme_identification()
    return pr
