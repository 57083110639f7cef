"""IoU / IoBB and the Wang et al. accuracy, with the prior and swap controls, on hand-made boxes."""

from __future__ import annotations

import pytest

from chestview.engine.evaluate import (
    iobb, iou, localization_accuracy, localization_table, localization_with_controls, prior_boxes,
    prior_predictions, swap_predictions,
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


def test_prior_boxes_from_training_and_drawn_on_every_image() -> None:
    train = [[("Mass", Box(10, 20, 30, 40))], [("Mass", Box(30, 40, 50, 60))]]
    prior = prior_boxes(train, [(100, 100), (200, 200)])
    m = prior["Mass"]
    assert (m.x, m.y, m.width, m.height) == pytest.approx((0.125, 0.2, 0.275, 0.35))
    (drawn,) = prior_predictions(prior, [(400, 200)])
    b = drawn["Mass"][0]
    assert (b.x, b.y, b.width, b.height) == pytest.approx((50.0, 40.0, 110.0, 70.0))


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
    assert set(res) == {"model", "prior", "swap"}
    assert res["model"].iou.accuracy["Mass"] == (1.0,) and res["prior"].iou.accuracy["Mass"] == (0.5,)
    sized = localization_with_controls(gt, pred, prior_source=train, image_sizes=[(100, 100)] * 2,
                                       prior_image_sizes=[(200, 200)], iou_thresholds=(0.5,), iobb_thresholds=(0.5,))
    assert sized["prior"].iou.accuracy["Mass"] == (0.0,)  # (50,50,10,10) of 200 px = (25,25,5,5) at 100 px
