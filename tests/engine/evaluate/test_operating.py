import numpy as np

from chestview.engine.evaluate.operating import (
    finding_thresholds, sensitivity_threshold, share_with_any_positive, specificity_threshold,
)


def test_specificity_threshold_keeps_at_most_the_allowed_share_positive():
    scores = np.arange(100) / 100.0
    t = specificity_threshold(scores, 0.95)
    assert np.mean(scores >= t) <= 0.05 and np.mean(scores >= t) >= 0.04


def test_sensitivity_threshold_keeps_the_share_above():
    scores = np.random.default_rng(0).random(200)
    t = sensitivity_threshold(scores, 0.9)
    assert np.mean(scores >= t) >= 0.9
    assert np.mean(scores >= np.nextafter(t, 1)) < 0.9 + 1e-9


def test_one_threshold_for_every_finding_bounds_the_normals_with_any_positive():
    rng = np.random.default_rng(1)
    normals = rng.random((120, 14)) ** np.linspace(1, 6, 14)  # labels of very different prevalence
    ft = finding_thresholds(normals, [f"L{i}" for i in range(14)], max_normal_any_positive=0.3)
    assert set(ft.thresholds.values()) == {ft.threshold}  # one cut on the one scale
    share = share_with_any_positive(normals, list(ft.thresholds.values()))
    assert share <= 0.3 and share == ft.normal_any_positive
    # the lowest such cut: just below it, more normals would show a positive
    assert share_with_any_positive(normals, [np.nextafter(ft.threshold, 0)] * 14) > 0.3 - 1 / 120
    assert "one threshold for every finding" in ft.rule


def test_labels_left_out_of_the_count_do_not_drive_the_target():
    rng = np.random.default_rng(2)
    normals = rng.random((100, 3))
    normals[:, 1:] *= 0.5  # the counted label A is the most probable one
    few = finding_thresholds(normals, ["A", "B", "C"], counted=["B"], max_normal_any_positive=0.2)
    allc = finding_thresholds(normals, ["A", "B", "C"], max_normal_any_positive=0.2)
    assert few.threshold < allc.threshold
