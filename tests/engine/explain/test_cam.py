import numpy as np

from chestview.engine.explain.cam import normalise_map, normalise_maps, upsample_map


def test_normalise_map_spans_0_255():
    m = np.array([[-2.0, 0.0], [1.0, 2.0]])
    out = normalise_map(m)
    assert out.dtype == np.uint8
    assert out.min() == 0 and out.max() == 255
    assert out[0, 1] == round(2 / 4 * 255)


def test_flat_map_has_no_location():
    assert normalise_map(np.full((3, 3), 5.0)).max() == 0


def test_normalise_maps_per_class_matches_single():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(4, 7, 7)).astype(np.float32) * np.array([1, 10, 100, 0])[:, None, None]
    out = normalise_maps(maps)
    for c in range(4):
        np.testing.assert_array_equal(out[c], normalise_map(maps[c]))


def test_upsample_map_shape_and_range():
    heat = np.array([[0, 255], [255, 0]], np.uint8)
    up = upsample_map(heat, (64, 32))
    assert up.shape == (64, 32) and up.dtype == np.uint8
    assert up[0, -1] > 200 and up[0, 0] < 50
