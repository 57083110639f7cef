"""Choosing a box threshold on validation heatmaps with known ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from chestview.engine.evaluate.box_threshold import CANDIDATES, choose_box_threshold, describe_choice, localization_score
from chestview.engine.results import Box


def _core_and_halo() -> np.ndarray:
    """A 64x64 map: a warm halo (level 150) over rows/cols 8..56 around a hot core (250) at 24..40."""
    heat = np.zeros((64, 64), dtype=np.uint8)
    heat[8:56, 8:56] = 150
    heat[24:40, 24:40] = 250
    return heat


def test_the_threshold_that_isolates_the_true_region_wins():
    # Image 640x640: the core is pixels 240..400, the halo 80..560. Ground truth = the core.
    gt = [[("Mass", Box(240, 240, 160, 160))]] * 3
    maps = [{"Mass": _core_and_halo()}] * 3
    choice = choose_box_threshold(maps, gt, [(640, 640)] * 3, ["Mass"])
    assert choice.n_images == 3 and choice.n_gt_boxes == 3
    assert set(choice.scores) == set(CANDIDATES)
    # Below 150 the box is the halo (IoU 0.11): above it, the core exactly (IoU 1), up to 250.
    assert choice.scores[140] < choice.scores[160] == pytest.approx(1.0)
    assert choice.scores[240] == pytest.approx(1.0)
    assert choice.threshold == 180  # of the tied best, the one closest to Wang et al.'s 180
    assert choice.to_json()["threshold"] == 180


def test_ground_truth_on_the_halo_prefers_a_low_threshold():
    gt = [[("Mass", Box(80, 80, 480, 480))]]
    choice = choose_box_threshold([{"Mass": _core_and_halo()}], gt, [(640, 640)], ["Mass"])
    assert choice.threshold <= 150 and choice.scores[choice.threshold] == pytest.approx(1.0)


def test_no_ground_truth_keeps_wang_180_and_lengths_must_match():
    assert choose_box_threshold([{"Mass": _core_and_halo()}], [[]], [(64, 64)], ["Mass"]).threshold == 180
    with pytest.raises(ValueError, match="same images"):
        choose_box_threshold([{"Mass": _core_and_halo()}], [[], []], [(64, 64)], ["Mass"])


def test_localization_score_is_the_mean_over_the_card_thresholds():
    gt = [[("Mass", Box(0, 0, 10, 10))]]
    assert localization_score(gt, [{"Mass": [Box(0, 0, 10, 10)]}], ["Mass"]) == 1.0
    assert localization_score(gt, [{"Mass": [Box(50, 50, 10, 10)]}], ["Mass"]) == 0.0


def test_a_threshold_no_candidate_could_score_is_said_to_be_the_default_not_chosen():
    # The hot region is far from the only ground-truth box: every candidate scores 0.
    gt = [[("Mass", Box(560, 560, 40, 40))]]
    missed = choose_box_threshold([{"Mass": _core_and_halo()}], gt, [(640, 640)], ["Mass"])
    assert all(v == 0 for v in missed.scores.values()) and missed.fell_back and missed.threshold == 180
    text = describe_choice(missed.to_json())
    assert "default" in text and "not chosen" in text and "any of the 1 validation boxes" in text
    found = choose_box_threshold([{"Mass": _core_and_halo()}], [[("Mass", Box(240, 240, 160, 160))]], [(640, 640)],
                                 ["Mass"])
    assert not found.fell_back and describe_choice(found.to_json()) == (
        "box threshold 180 chosen on the validation split's boxes")
