"""Distances (mm with pixel spacing, px without) and the cardiothoracic ratio."""

from __future__ import annotations

import pytest

from chestview.engine.measure import Span, cardiothoracic_ratio, ctr_json, distance


def test_distance_in_mm_uses_row_and_column_spacing_and_px_without():
    d = distance((0, 0), (30, 40), (0.5, 0.1))  # (row, column) mm: dx 3 mm, dy 20 mm
    assert d.unit == "mm" and d.value == pytest.approx((3**2 + 20**2) ** 0.5) and d.text.endswith("mm")
    d = distance((0, 0), (30, 40), None)
    assert d.unit == "px" and d.value == pytest.approx(50.0) and d.text == "50 px"


def test_cardiothoracic_ratio_from_two_horizontal_spans():
    heart = Span.from_drag((620, 700), (380, 720))  # dragged right to left, slightly slanted
    chest = Span.from_drag((150, 600), (850, 600))
    assert (heart.x1, heart.x2, heart.y) == (380, 620, 700)
    assert cardiothoracic_ratio(heart, chest) == pytest.approx(240 / 700)
    doc = ctr_json(heart, chest, (0.14, 0.14))
    assert doc["ratio"] == pytest.approx(0.3429, abs=1e-4) and doc["column_spacing_mm"] == 0.14
    assert ctr_json(heart, None, None)["ratio"] is None and ctr_json(None, None, None) is None
