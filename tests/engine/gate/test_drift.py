"""The drift rule on made-up distributions, and through folder_drift on results."""

import numpy as np
import pytest

from chestview.engine.gate.drift import MIN_FILMS, drift_check, folder_drift, reference_quantiles
from chestview.engine.results import Abnormality, ImageResult, InputCheck


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(0)
    return reference_quantiles(rng.normal(1.0, 0.1, 200), rng.beta(2, 2, 200))


def test_films_like_the_reference_raise_no_warning(reference):
    rng = np.random.default_rng(1)
    report = drift_check(reference, rng.normal(1.0, 0.1, 60), rng.beta(2, 2, 60))
    assert report is not None and not report.warn and report.message == ""
    assert report.ks_p > 0.001 and report.n == 60


def test_a_shifted_folder_warns_with_its_reasons(reference):
    rng = np.random.default_rng(2)
    report = drift_check(reference, rng.normal(1.3, 0.1, 40), rng.beta(2, 2, 40))
    assert report.warn
    assert any("median gate distance" in r for r in report.reasons)
    assert any("KS" in r for r in report.reasons)
    assert "recalibrate" in report.message and "unlike the model's training films" in report.message
    j = report.to_json()
    assert j["warning"] is True and j["median_distance"] > j["reference_p90_distance"] and "rule" in j


def test_everything_called_abnormal_warns_and_a_folder_of_normals_does_not(reference):
    rng = np.random.default_rng(3)
    same = rng.normal(1.0, 0.1, 40)
    sick = drift_check(reference, same, np.full(40, 0.98))
    assert sick.warn and any("abnormality" in r for r in sick.reasons)
    normals = drift_check(reference, same, np.full(40, 0.05))  # case mix: lower scores are no drift
    assert not normals.warn


def test_too_few_films_never_warn_and_no_reference_means_no_report(reference):
    far = np.full(MIN_FILMS - 1, 5.0)
    assert not drift_check(reference, far, far).warn
    assert drift_check(None, far) is None and drift_check({}, far) is None


def test_folder_drift_leaves_out_failures_and_what_is_not_a_chest_film(reference):
    class Card:
        input_gate = {"reference": reference, "kind": {"cutoff": 0.5}}

    def result(score, chest, p):
        return ImageResult(path="x.png", input_check=InputCheck(score, 1.5, False, "", chest),
                           abnormality=Abnormality(p, 0.5, p >= 0.5))

    films = [result(float(d), 0.99, 0.5) for d in np.random.default_rng(4).normal(1.0, 0.1, 30)]
    photos = [result(9.0, 0.01, 0.99) for _ in range(30)]  # flagged one by one, not the site's drift
    failed = [ImageResult(path="bad.png", error="bad.png: cannot read")]
    report = folder_drift(Card(), films + photos + failed)
    assert report.n == 30 and not report.warn
