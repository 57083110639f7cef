import numpy as np

from chestview.engine.evaluate.calibration import (
    apply_platt, expected_calibration_error, fit_platt, invert_platt, reliability_curve,
)


def _overconfident(n=4000, seed=0):
    """Scores whose logit is 3x the true log-odds: ranked right, far too confident."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 1.5, n)
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    p = 1 / (1 + np.exp(-3.0 * z))
    return p, y.astype(float)


def test_platt_recovers_the_scale_and_cuts_the_calibration_error():
    p, y = _overconfident()
    a, b = fit_platt(p, y)
    assert abs(a - 1 / 3) < 0.05 and abs(b) < 0.15
    before, after = expected_calibration_error(y, p), expected_calibration_error(y, apply_platt(p, a, b))
    assert after < 0.03 < before


def test_platt_is_monotone_and_invertible():
    p = np.linspace(0.01, 0.99, 50)
    q = apply_platt(p, 0.5, -1.0)
    assert np.all(np.diff(q) > 0)
    assert np.allclose(invert_platt(q, 0.5, -1.0), p, atol=1e-9)


def test_platt_refuses_too_few_positives():
    p = np.linspace(0.1, 0.9, 30)
    y = np.zeros(30)
    y[-2:] = 1
    assert fit_platt(p, y) is None


def test_reliability_curve_bins():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.05, 0.08, 0.95, 0.92, 0.55, 0.45])
    c = reliability_curve(y, p, n_bins=10)
    assert sum(c.counts) == 6 and c.observed[0] == 0.0 and c.observed[-1] == 1.0
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0
