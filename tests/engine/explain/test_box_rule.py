"""The one box path: every box is cut by BoxRule from the stored map, and a diffuse map gets none."""

from __future__ import annotations

import numpy as np
import pytest

from chestview.engine.explain.box_rule import BoxRule, load_box_rule, rebox
from chestview.engine.explain.boxes import MAX_BOX_FRACTION, cut_boxes


def test_a_focal_map_gets_its_box_and_a_spread_one_is_diffuse():
    focal = np.zeros((16, 16), np.uint8)
    focal[4:7, 9:12] = 255
    spread = np.full((16, 16), 200, np.uint8)  # hot everywhere: no *where*
    spread[0, 0] = 0
    big = np.zeros((16, 16), np.uint8)  # one hot region over most of the film
    big[1:15, 1:15] = 240
    big[3:13, 3:13] = 100  # hollow: few hot pixels, yet its box covers the film
    cuts = cut_boxes(np.stack([focal, spread, big]), (1024, 1024), threshold=180, work_size=None)
    assert not cuts[0].diffuse and len(cuts[0].boxes) == 1
    b = cuts[0].boxes[0]
    assert (b.x, b.y, b.width, b.height) == (576, 256, 192, 192)
    assert cuts[1].diffuse and cuts[1].boxes == ()
    assert cuts[2].diffuse and cuts[2].boxes == ()


@pytest.fixture(scope="module")
def bundled():
    from chestview.engine.inference import Predictor
    from chestview.engine.io.loader import load_image
    from chestview.engine.zoo import default_model_id, load_model
    from chestview.engine.paths import samples_dir

    predictor = Predictor(load_model(default_model_id(), lazy=True), device="cpu", boxes="all")
    images = [load_image(p) for p in sorted(samples_dir().glob("*.png"))[:2]] + [
        load_image(samples_dir() / "cr_siim_jpeg_baseline.dcm")]
    return predictor, images


def test_rebox_gives_predicts_boxes_at_any_level(bundled):
    """What the app and the exports draw (rebox at the slider's level) is what predict cuts at it."""
    predictor, images = bundled
    assert predictor.box_rule.fuses  # the bundled default fuses its maps with the box prior
    for level in (predictor.card.box_threshold, 150, 210):
        predictor.box_threshold = level
        for image in images:
            result = predictor.predict_image(image)
            again = rebox(result, predictor.box_rule, level, [f.label for f in result.findings])
            assert [(f.label, f.boxes, f.diffuse) for f in again.findings] == \
                [(f.label, f.boxes, f.diffuse) for f in result.findings]
            assert again.box_threshold == result.box_threshold == level
    predictor.box_threshold = predictor.card.box_threshold


def test_one_labels_boxes_do_not_depend_on_the_others_cut_with_it(bundled):
    predictor, images = bundled
    result = predictor.predict_image(images[0])
    labels = [f.label for f in result.findings]
    size = (result.image_width, result.image_height)
    together = predictor.box_rule.cut(np.stack([result.heatmaps[lbl] for lbl in labels]), labels, size, 180)
    for label, cut in zip(labels, together):
        assert predictor.box_rule.cut_one(result.heatmaps[label], label, size, 180) == cut
        assert rebox(result, predictor.box_rule, 180, [label]).finding(label).boxes == cut.boxes


def test_no_box_covers_more_than_half_the_film(bundled):
    predictor, images = bundled
    for level in (100, 150, 180, 220):
        predictor.box_threshold = level
        for image in images:
            result = predictor.predict_image(image)
            film = result.image_width * result.image_height
            assert all(b.area <= MAX_BOX_FRACTION * film for f in result.findings for b in f.boxes)
            assert all(not f.boxes for f in result.findings if f.diffuse)
    predictor.box_threshold = predictor.card.box_threshold


def test_the_rule_read_from_the_entry_is_the_predictors(bundled):
    from chestview.engine.zoo import find_model

    predictor, images = bundled
    rule = load_box_rule(predictor.card, find_model(predictor.card.id))
    assert rule.exponent == predictor.box_rule.exponent and set(rule.priors) == set(predictor.box_rule.priors)
    result = predictor.predict_image(images[0])
    assert rebox(result, rule, 180) == rebox(result, predictor.box_rule, 180)


def test_the_abnormality_output_has_its_own_map(bundled):
    from chestview.engine.case_call import ABNORMALITY_MAP

    predictor, images = bundled
    result = predictor.predict_image(images[0])
    heat = result.heatmaps[ABNORMALITY_MAP]
    assert heat.shape == result.heatmaps[result.findings[0].label].shape and heat.max() == 255
    assert not any(np.array_equal(heat, result.heatmaps[f.label]) for f in result.findings)


def test_without_a_prior_the_rule_cuts_the_map_itself():
    heat = np.zeros((1, 8, 8), np.uint8)
    heat[0, 2:4, 2:4] = 255
    assert BoxRule().cut(heat, ["Mass"], (800, 800), 180) == cut_boxes(heat, (800, 800), threshold=180)
