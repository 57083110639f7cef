"""Heatmaps on an absolute, per-label scale: negatives never look hot, the screen and export agree."""

from __future__ import annotations

import numpy as np
import pytest

from chestview.engine.explain.display import (
    combined_heatmap,
    display_level,
    heat_alpha,
    probability_at_level,
    scaled_heatmap,
)
from chestview.engine.results import Finding, ImageResult


def test_level_is_half_at_the_operating_point_and_monotone():
    assert display_level(0.1, 0.1) == pytest.approx(0.5)
    levels = [display_level(p, 0.1) for p in (0.01, 0.05, 0.09, 0.11, 0.3, 0.9)]
    assert levels == sorted(levels)
    assert all(lv < 0.5 for lv in levels[:3]) and all(lv > 0.5 for lv in levels[3:])
    for lv in (0.1, 0.3, 0.5, 0.8):
        assert display_level(probability_at_level(lv, 0.07), 0.07) == pytest.approx(lv)


def test_a_negative_map_is_cooler_than_a_positive_one_though_both_peak_at_255():
    heat = np.zeros((8, 8), np.uint8)
    heat[2:5, 2:5] = 255  # image-relative: every stored map peaks at 255
    negative = scaled_heatmap(heat, 0.02, 0.097)  # a clear negative
    positive = scaled_heatmap(heat, 0.30, 0.097)
    assert negative.max() < 0.25 < 0.75 < positive.max()
    # Below the transparency ramp: a clear negative's map does not tint the film at all.
    assert heat_alpha(negative).max() == 0.0 and heat_alpha(positive).max() > 0.5
    r = ImageResult("x", 8, 8, findings=[Finding("A", 0.02, 0.097, False), Finding("B", 0.3, 0.097, True)],
                    heatmaps={"A": heat, "B": heat})
    assert np.allclose(combined_heatmap(r, ["A", "B"]), positive)
    assert combined_heatmap(r, []) is None
