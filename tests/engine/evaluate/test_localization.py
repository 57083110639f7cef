"""IoU / IoBB and the Wang et al. accuracy, with the prior and swap controls, on hand-made boxes."""

from __future__ import annotations

import numpy as np
import pytest

from chestview.engine.evaluate import (
    PRIOR_BOXES, greedy_prior, iobb, iou, localization_accuracy, localization_table, localization_with_controls,
    mean_prior_boxes, prior_boxes, prior_predictions, swap_predictions,
)
from chestview.engine.results import Box


def test_iou_and_iobb_exact() -> None:
    gt = Box(0, 0, 10, 10)
    gen = Box(5, 0, 10, 10)  # overlap 5x10 = 50
    assert iou(gt, gen) == pytest.approx(50 / 150)
    assert iobb(gt, gen) == pytest.approx(50 / 100)
    small = Box(2, 2, 2, 2)  # inside the ground truth: IoBB 1, IoU 4/100
    assert iobb(gt, small) == 1.0 and iou(gt, small) == pytest.approx(0.04)
    assert iou(gt, Box(20, 20, 5, 5)) == 0.0 and iobb(gt, Box(1, 1, 0, 0)) == 0.0


def test_accuracy_counts_and_false_positives() -> None:
    gt = [
        [("Mass", Box(0, 0, 10, 10)), ("Mass", Box(50, 50, 10, 10))],
        [("Effusion", Box(0, 0, 20, 20))],
    ]
    pred = [
        {"Mass": [Box(5, 0, 10, 10), Box(80, 80, 5, 5)], "Effusion": [Box(0, 0, 20, 20)]},
        {"Effusion": [Box(0, 0, 10, 10)], "Mass": []},
    ]
    res = localization_accuracy(gt, pred, iou_thresholds=(0.1, 0.3, 0.5), iobb_thresholds=(0.1, 0.5, 0.9))
    assert res.labels == ("Effusion", "Mass") and res.n_gt_boxes == {"Effusion": 1, "Mass": 2}
    # Mass: first box IoU 1/3 (found at 0.1 and 0.3, not 0.5), second never found
    assert res.iou.accuracy["Mass"] == (0.5, 0.5, 0.0)
    # Effusion: IoU 0.25 -> found at 0.1 only; IoBB 1.0 -> found at every IoBB threshold
    assert res.iou.accuracy["Effusion"] == (1.0, 0.0, 0.0)
    assert res.iobb.accuracy["Effusion"] == (1.0, 1.0, 1.0)
    assert res.iobb.accuracy["Mass"] == (0.5, 0.0, 0.0)  # IoBB exactly 0.5 is not > 0.5
    assert res.iou.mean_accuracy == pytest.approx((0.75, 0.25, 0.0))
    # FP at IoU 0.1: Mass box (80,80) on image 0; Effusion box on image 0 (no Effusion there) -> per 2 images
    assert res.iou.afp["Mass"][0] == 0.5 and res.iou.afp["Effusion"][0] == 0.5
    assert res.iou.afp["Effusion"][1] == 1.0  # at 0.3 the 0.25-IoU box on image 1 is a FP too


def test_mean_prior_from_training_and_drawn_on_every_image() -> None:
    train = [[("Mass", Box(10, 20, 30, 40))], [("Mass", Box(30, 40, 50, 60))]]
    prior = mean_prior_boxes(train, [(100, 100), (200, 200)])
    (m,) = prior["Mass"]
    assert (m.x, m.y, m.width, m.height) == pytest.approx((0.125, 0.2, 0.275, 0.35))
    (drawn,) = prior_predictions(prior, [(400, 200)])
    (b,) = drawn["Mass"]
    assert (b.x, b.y, b.width, b.height) == pytest.approx((50.0, 40.0, 110.0, 70.0))


# Effusion in 100 px training images: two boxes over the left lung (A), one near it (C), one right (B).
A, C, B = Box(10, 30, 30, 40), Box(12, 32, 30, 40), Box(60, 30, 30, 40)  # IoU(A, C) = 0.796, IoU(A, B) = 0
TRAIN = [[("Effusion", A)], [("Effusion", B)], [("Effusion", C)], [("Effusion", A)]]
SIZES = [(100, 100)] * 4


def test_greedy_prior_picks_training_boxes_by_training_accuracy() -> None:
    prior = prior_boxes(TRAIN, SIZES, k=3, iou_thresholds=(0.3,), iobb_thresholds=(0.1,))
    # A and C each find A, A, C (gain 3 + 3), B finds B (1 + 1): A wins the tie (first in sorted order);
    # then only B adds anything; then nothing does, so 2 boxes although k = 3.
    # pytest.approx compares flat sequences and numpy arrays, not lists of tuples (pytest >= 9 refuses them)
    assert np.array([(b.x, b.y, b.width, b.height) for b in prior["Effusion"]]) == pytest.approx(
        np.array([(0.1, 0.3, 0.3, 0.4), (0.6, 0.3, 0.3, 0.4)]))
    one = prior_boxes(TRAIN, SIZES, k=1, iou_thresholds=(0.3,), iobb_thresholds=(0.1,))
    assert np.array([(b.x, b.y) for b in one["Effusion"]]) == pytest.approx(np.array([(0.1, 0.3)]))
    # deterministic whatever the order of the training images
    assert prior_boxes(TRAIN[::-1], SIZES, iou_thresholds=(0.3,), iobb_thresholds=(0.1,)) == prior
    drawn = prior_predictions(prior, [(200, 100)])[0]["Effusion"]
    assert np.array([(b.x, b.y, b.width, b.height) for b in drawn]) == pytest.approx(
        np.array([(20, 30, 60, 40), (120, 30, 60, 40)]))
    # candidates thinned evenly in sorted order (A, C, B -> A, B)
    thinned = greedy_prior(np.array([[0.1, 0.3, 0.3, 0.4], [0.12, 0.32, 0.3, 0.4], [0.6, 0.3, 0.3, 0.4]]),
                           k=3, max_candidates=2)
    assert thinned == pytest.approx(np.array([[0.1, 0.3, 0.3, 0.4], [0.6, 0.3, 0.3, 0.4]]))
    assert greedy_prior(np.zeros((0, 4))).shape == (0, 4)
    with pytest.raises(ValueError):
        greedy_prior(np.ones((1, 4)), k=0)


def test_greedy_prior_beats_the_mean_box_on_two_sided_findings() -> None:
    # test images: one right-sided, one left-sided effusion; the mean box (0.23, 0.305) sits in between
    gt = [[("Effusion", Box(60, 30, 30, 40))], [("Effusion", Box(10, 30, 30, 40))]]
    pred = [{"Effusion": []}, {"Effusion": []}]
    res = localization_with_controls(gt, pred, prior_source=TRAIN, image_sizes=[(100, 100)] * 2,
                                     prior_image_sizes=SIZES, iou_thresholds=(0.3,), iobb_thresholds=(0.1,))
    assert list(res) == ["model", "prior", "swap", "prior_mean"]
    assert res["prior"].iou.accuracy["Effusion"] == (1.0,)
    assert res["prior_mean"].iou.accuracy["Effusion"] == (0.5,)  # IoU 0.388 with the left box, 0 with the right
    assert res["prior"].iou.afp["Effusion"] == (1.0,)  # on each image one of the two prior boxes is a false positive
    assert res["prior_mean"].iou.afp["Effusion"] == (0.5,)  # its one box misses the right-sided effusion


def test_prior_budget_is_the_predictors() -> None:
    import inspect

    from chestview.engine.inference import Predictor

    assert PRIOR_BOXES == inspect.signature(Predictor).parameters["max_boxes"].default == 3


def test_swap_is_a_derangement_among_images_with_the_label() -> None:
    gt = [[("Mass", Box(0, 0, 10, 10))], [("Mass", Box(50, 50, 10, 10))], [("Effusion", Box(0, 0, 5, 5))],
          [("Mass", Box(20, 20, 10, 10))]]
    pred = [{"Mass": [Box(0, 0, 10, 10)]}, {"Mass": [Box(50, 50, 10, 10)]}, {"Effusion": [Box(0, 0, 5, 5)]},
            {"Mass": [Box(20, 20, 10, 10)]}]
    sw = swap_predictions(pred, gt)
    assert sw[0]["Mass"] == pred[1]["Mass"] and sw[1]["Mass"] == pred[3]["Mass"] and sw[3]["Mass"] == pred[0]["Mass"]
    assert sw[2] == {}  # alone with its label: no box
    table = localization_table(pred, gt, {"Mass": Box(0.4, 0.4, 0.2, 0.2)}, image_sizes=[(100, 100)] * 4,
                               iou_thresholds=(0.1,), iobb_thresholds=(0.1,))
    assert table["model"].iou.accuracy["Mass"] == (1.0,)
    assert table["swap"].iou.accuracy["Mass"] == (0.0,)
    assert table["prior"].iou.accuracy["Mass"] == pytest.approx((1 / 3,))  # only the (50,50) box overlaps
    assert table["prior"].iou.accuracy["Effusion"] == (0.0,)


def test_localization_with_controls_builds_prior_from_training_boxes() -> None:
    gt = [[("Mass", Box(0, 0, 10, 10))], [("Mass", Box(50, 50, 10, 10))]]
    pred = [{"Mass": [Box(0, 0, 10, 10)]}, {"Mass": [Box(50, 50, 10, 10)]}]
    train = [[("Mass", Box(50, 50, 10, 10))]]
    res = localization_with_controls(gt, pred, prior_source=train, iou_thresholds=(0.5,), iobb_thresholds=(0.5,))
    assert set(res) == {"model", "prior", "swap", "prior_mean"}
    assert res["model"].iou.accuracy["Mass"] == (1.0,) and res["prior"].iou.accuracy["Mass"] == (0.5,)
    sized = localization_with_controls(gt, pred, prior_source=train, image_sizes=[(100, 100)] * 2,
                                       prior_image_sizes=[(200, 200)], iou_thresholds=(0.5,), iobb_thresholds=(0.5,))
    assert sized["prior"].iou.accuracy["Mass"] == (0.0,)  # (50,50,10,10) of 200 px = (25,25,5,5) at 100 px
