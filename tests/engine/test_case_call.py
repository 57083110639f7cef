"""The case call never contradicts the findings silently."""

from __future__ import annotations

import numpy as np

from chestview.engine.case_call import ABNORMALITY_MAP, NO_SINGLE_FINDING, case_call
from chestview.engine.results import Abnormality, Finding, ImageResult, InputCheck


def _result(abnormal: float | None, pneumonia: float, *, flagged: bool = False, abnormality_map: bool = True):
    findings = [Finding("Pneumonia", pneumonia, 0.35, pneumonia >= 0.35), Finding("Mass", 0.1, 0.35, False)]
    heat = {"Pneumonia": np.zeros((4, 4), np.uint8), **({ABNORMALITY_MAP: np.ones((4, 4), np.uint8)} if abnormality_map else {})}
    return ImageResult("x.png", 100, 100, findings=findings, heatmaps=heat,
                       abnormality=None if abnormal is None else Abnormality(abnormal, 0.5, abnormal >= 0.5),
                       input_check=InputCheck(None, None, flagged, "a photograph" if flagged else ""))


def test_abnormal_with_no_finding_above_its_point_says_so_and_shows_the_abnormality_map():
    call = case_call(_result(0.99, 0.2))
    assert call.call == "abnormal" and call.text.startswith(NO_SINGLE_FINDING)
    assert call.show_map == ABNORMALITY_MAP and not call.discordant
    assert case_call(_result(0.99, 0.2, abnormality_map=False)).show_map == ""


def test_a_positive_finding_on_a_film_called_normal_is_named_in_a_note():
    call = case_call(_result(0.06, 0.38))
    assert call.call == "normal" and call.discordant
    assert "Pneumonia 0.38" in call.text and "Pneumonia 0.38" in call.note and "called normal" in call.note


def test_concordant_calls_and_the_others():
    assert case_call(_result(0.9, 0.5)).call == "abnormal" and "Pneumonia 0.50" in case_call(_result(0.9, 0.5)).text
    normal = case_call(_result(0.1, 0.1))
    assert normal.call == "normal" and not normal.discordant and not normal.note
    assert case_call(_result(None, 0.5)).call == "abnormal" and case_call(_result(None, 0.1)).call == "normal"
    flagged = case_call(_result(0.9, 0.5, flagged=True))
    assert flagged.call == "not assessed" and "Pneumonia" not in flagged.text
    assert case_call(ImageResult("x.png", error="cannot read")) is None
