import numpy as np

from chestview.engine.gate.stats import GateStats, choose_threshold, fit_ppca


def _films(n, rng, dim=64):
    # Correlated features with a few strong directions (the same for every call), like pooled CNN features.
    basis = np.random.default_rng(42).normal(size=(4, dim))
    return rng.normal(size=(n, 4)) @ basis * 3 + rng.normal(size=(n, dim)) + 5


def test_training_like_features_score_about_one_and_outliers_far_more():
    rng = np.random.default_rng(0)
    train, val = _films(400, rng), _films(100, rng)
    stats = fit_ppca(train, components=8)
    assert 0.8 < np.median(stats.score(val)) < 1.2
    off_subspace = val + rng.normal(size=val.shape) * 4  # off the films' directions
    assert np.min(stats.score(off_subspace)) > np.max(stats.score(val))


def test_threshold_flags_at_most_the_allowed_share_of_validation():
    rng = np.random.default_rng(1)
    scores = rng.gamma(4.0, 0.25, size=200)
    t = choose_threshold(scores, max_flag_rate=0.02, margin=1.0)
    assert np.sum(scores > t) <= 4
    assert choose_threshold(scores, max_flag_rate=0.0, margin=1.0) == scores.max()
    assert choose_threshold(scores, 0.02, margin=1.1) == t * 1.1


def test_statistics_round_trip_through_tensors():
    rng = np.random.default_rng(2)
    stats = fit_ppca(_films(50, rng, dim=16), components=4)
    again = GateStats.from_tensors(stats.to_tensors())
    x = _films(5, rng, dim=16)
    np.testing.assert_allclose(again.score(x), stats.score(x), rtol=1e-4)
