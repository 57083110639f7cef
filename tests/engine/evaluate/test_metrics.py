"""AUROC, bootstrap intervals, Youden thresholds, sensitivity / specificity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from chestview.engine.evaluate import per_label_auroc, sensitivity_specificity, youden_threshold, youden_thresholds
from chestview.engine.evaluate.metrics import fast_auroc_weighted


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 3)) < [0.3, 0.1, 0.01]).astype(np.float64)
    p = np.round(rng.random((n, 3)) + 0.5 * y, 2)  # rounded: ties exercised
    return y, p


def test_auroc_equals_sklearn_and_fast_path_agrees() -> None:
    y, p = _data()
    rep = per_label_auroc(y, p, labels=["a", "b", "c"], n_boot=50)
    for c in range(3):
        expected = roc_auc_score(y[:, c], p[:, c])
        assert rep.per_label[c].auroc == pytest.approx(expected, abs=1e-12)
        assert fast_auroc_weighted(y[:, c], p[:, c], np.ones((1, len(y))))[0] == pytest.approx(expected, abs=1e-12)
    assert rep.mean_auroc == pytest.approx(np.mean([r.auroc for r in rep.per_label]))
    assert rep["c"].n_pos < 5 and not rep["c"].reliable and rep.unreliable_labels == ("c",)
    assert rep.mean_auroc_reliable == pytest.approx((rep["a"].auroc + rep["b"].auroc) / 2)


def test_mask_and_nan_targets_are_ignored() -> None:
    y, p = _data()
    keep = np.arange(len(y)) % 3 != 0
    y_nan = y.copy()
    y_nan[~keep, 0] = np.nan
    mask = np.ones_like(y)
    mask[~keep, 1] = 0
    rep = per_label_auroc(y_nan, p, mask, n_boot=0)
    assert rep.per_label[0].auroc == pytest.approx(roc_auc_score(y[keep, 0], p[keep, 0]))
    assert rep.per_label[1].auroc == pytest.approx(roc_auc_score(y[keep, 1], p[keep, 1]))
    assert rep.per_label[0].n_pos + rep.per_label[0].n_neg == keep.sum()


def test_label_without_both_classes_is_not_scored() -> None:
    y = np.array([[1, 0], [1, 1], [1, 0]], float)
    p = np.array([[0.2, 0.1], [0.4, 0.9], [0.6, 0.3]])
    rep = per_label_auroc(y, p, labels=["all_pos", "ok"], n_boot=20)
    assert math.isnan(rep["all_pos"].auroc) and not rep["all_pos"].scored
    assert rep.mean_auroc == rep["ok"].auroc == 1.0
    assert rep.to_json()["per_label"][0]["auroc"] is None


def test_bootstrap_ci_contains_estimate_and_is_seeded() -> None:
    y, p = _data(400)
    a = per_label_auroc(y, p, n_boot=300, seed=7)
    b = per_label_auroc(y, p, n_boot=300, seed=7)
    c = per_label_auroc(y, p, n_boot=300, seed=8)
    for ra, rb in zip(a.per_label[:2], b.per_label[:2]):
        assert ra.ci_low < ra.auroc < ra.ci_high
        assert (ra.ci_low, ra.ci_high) == (rb.ci_low, rb.ci_high)
    assert a.per_label[0].ci_low != c.per_label[0].ci_low
    assert a.per_label[0].n_boot_valid == 300


def test_roc_points_downsampled() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(5000) < 0.5).astype(float)
    p = rng.random(5000) + 0.3 * y
    r = per_label_auroc(y, p, n_boot=0).per_label[0]
    assert 2 < len(r.fpr) <= 200 and r.fpr[0] == 0.0 and r.fpr[-1] == 1.0 and r.tpr[-1] == 1.0


def test_youden_threshold_exact() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.65, 0.6, 0.7, 0.9])
    # thresholds: 0.9 J=1/3, 0.7 J=2/3, 0.65 J=5/12, 0.6 J=3/4 (best), 0.3 J=1/2
    assert youden_threshold(y, p) == 0.6
    op = sensitivity_specificity(y, p, 0.6)
    assert (op.sensitivity, op.specificity) == (1.0, 0.75)
    both = youden_thresholds(np.stack([y, y], 1).astype(float), np.stack([p, p], 1), labels=["a", "b"])
    assert both == {"a": 0.6, "b": 0.6}
    assert youden_threshold(np.ones(3), np.array([0.1, 0.2, 0.3]), default=0.42) == 0.42


def test_operating_thresholds_fall_back_to_prevalence_with_few_positives() -> None:
    from chestview.engine.evaluate.metrics import operating_thresholds, prevalence_threshold

    rng = np.random.default_rng(0)
    p = rng.random((40, 3))
    y = np.zeros((40, 3))
    y[:8, 0] = 1  # 8 positives: Youden
    y[0, 1] = 1  # one positive: Youden would be that image's score
    p[:8, 0] += 1.0  # positives of label 0 score 1..2
    thresholds, rules = operating_thresholds(y, p, ["many", "one", "none"], train_prevalence={"one": 0.1})
    assert thresholds["many"] == pytest.approx(p[:8, 0].min()) and rules["many"].startswith("youden (8")
    # label "one": 10 % of the 40 validation images called positive, whatever the one positive scored
    assert (p[:, 1] >= thresholds["one"]).sum() == 4 and rules["one"].startswith("prevalence 0.100")
    assert thresholds["none"] == 0.5 and rules["none"].startswith("default")
    assert prevalence_threshold(np.array([0.1, 0.2, 0.3, 0.4]), 0.25) == 0.4
    assert prevalence_threshold(np.array([]), 0.25, default=0.3) == 0.3
