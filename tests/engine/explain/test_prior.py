import numpy as np
import pytest

from chestview.engine.errors import ModelError
from chestview.engine.explain.boxes import heatmap_to_boxes
from chestview.engine.explain.prior import (
    fuse_stack, fuse_with_prior, load_priors, prior_factors, prior_maps, save_priors,
)
from chestview.engine.results import Box


def test_prior_maps_count_training_boxes_per_cell():
    train = [([("Cardiomegaly", Box(40, 50, 20, 20))], (100, 100)),
             ([("Cardiomegaly", Box(45, 55, 20, 20)), ("Nodule", Box(0, 0, 10, 10))], (100, 100))]
    priors = prior_maps(train, ["Cardiomegaly", "Nodule", "Mass"], grid=10)
    assert set(priors) == {"Cardiomegaly", "Nodule"}  # no boxes, no prior
    c = priors["Cardiomegaly"]
    assert c.max() == 1.0 and c[6, 5] == 1.0 and c[0, 0] == 0.0
    assert priors["Nodule"][0, 0] == 1.0


def test_fusion_moves_boxes_towards_the_prior():
    heat = np.zeros((8, 8), np.uint8)
    heat[1, 1] = 255  # a hot spot where this label never is
    heat[5:7, 5:7] = 200  # a warm region where it usually is
    prior = np.zeros((8, 8), np.float32)
    prior[4:8, 4:8] = 1.0
    prior[0:3, 0:3] = 0.1
    alone = heatmap_to_boxes(heat, (80, 80), threshold=230, work_size=None)
    fused = heatmap_to_boxes(fuse_with_prior(heat, prior, 1.0), (80, 80), threshold=230, work_size=None)
    assert alone and alone[0].x < 20
    assert fused and fused[0].x >= 40
    assert fuse_with_prior(heat, prior, 0.0) is heat and fuse_with_prior(heat, None, 2.0) is heat


def test_priors_round_trip_and_are_checked(tmp_path):
    priors = {"Effusion": np.eye(4, dtype=np.float32)}
    sha = save_priors(tmp_path / "p.safetensors", priors)
    back = load_priors(tmp_path / "p.safetensors", sha)
    assert np.array_equal(back["Effusion"], priors["Effusion"])
    with pytest.raises(ModelError, match="SHA-256"):
        load_priors(tmp_path / "p.safetensors", "0" * 64)


@pytest.mark.parametrize("exponent", [0.5, 1.0, 2.0])
def test_fusing_every_label_at_once_equals_fusing_each(exponent):
    rng = np.random.default_rng(3)
    labels = [f"L{i}" for i in range(14)]
    priors = {lbl: rng.random((32, 32)).astype(np.float32) for lbl in labels[:8]}
    priors["L3"] = np.zeros((32, 32), np.float32)  # a prior that wipes the map out
    heat = rng.integers(0, 256, (14, 7, 7)).astype(np.uint8)
    heat[5] = 0
    factors = prior_factors(priors, labels, (7, 7), exponent)
    has_prior = np.array([lbl in priors for lbl in labels])
    one_by_one = np.stack([fuse_with_prior(heat[c], priors.get(lbl), exponent) for c, lbl in enumerate(labels)])
    together = fuse_stack(heat, factors, has_prior)
    assert together.dtype == np.uint8 and np.array_equal(together, one_by_one)
    assert not together[3].any() and np.array_equal(together[10], heat[10])
