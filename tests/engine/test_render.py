"""The exported image: legend = the positive findings, warnings burned in, negatives not hot."""

from __future__ import annotations

import numpy as np

from chestview.engine.io.image import XrayImage
from chestview.engine.render import caption_boxes, legend_lines, render_annotated
from chestview.engine.results import Box, Finding, ImageResult


def _image() -> XrayImage:
    return XrayImage("film.png", np.full((256, 256), 128.0, np.float32), (128.0, 256.0))


def _result(**kw) -> ImageResult:
    heat = np.zeros((8, 8), np.uint8)
    heat[2:6, 2:6] = 255
    findings = [Finding("Mass", 0.6, 0.5, True, boxes=(Box(60, 60, 100, 100, 0.9), Box(10, 10, 20, 20, 0.4))),
                Finding("Nodule", 0.45, 0.5, False), Finding("Effusion", 0.02, 0.1, False),
                Finding("Hernia", 0.9, 0.1, True, reliable=False)]
    return ImageResult("film.png", 256, 256, findings=findings, heatmaps={"Mass": heat, "Effusion": heat}, **kw)


def test_legend_lists_the_positive_findings_only():
    lines = legend_lines(_result())
    assert lines[0].startswith("Mass 0.60 +") and len(lines) == 1  # not Nodule (more probable than Effusion)
    empty = ImageResult("x", 1, 1, findings=[Finding("Mass", 0.1, 0.5, False)])
    assert legend_lines(empty) == ["No positive finding"]


def test_one_caption_per_finding_on_its_best_box():
    assert caption_boxes(["Mass", "Nodule"], _result()) == {("Mass", 0)}


def test_warnings_are_burned_in_and_a_negative_map_does_not_tint_the_film():
    image = _image()
    plain = render_annotated(image, _result(), labels=["Effusion"], opacity=1.0)
    warned = render_annotated(image, _result(warnings=["Modality is CT"]), labels=["Effusion"], opacity=1.0)
    centre = (slice(100, 140), slice(100, 140))
    assert np.ptp(plain[centre]) == 0 and plain[centre][0, 0, 0] == 128  # the film itself, untinted
    assert (warned != plain).any()  # the warning line is drawn in
    hot = render_annotated(image, _result(), labels=["Mass"], opacity=1.0)
    assert (hot[centre] != 128).any()  # the positive finding's map shows
