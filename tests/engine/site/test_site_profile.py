"""Site profiles: fitted on a made-up site, stored in the user data folder, applied to predictions."""

import hashlib
import json

import pytest

from chestview.engine.data import open_dataset
from chestview.engine.errors import ChestviewError
from chestview.engine.evaluate.operating import ABNORMALITY_SENSITIVITY, MAX_NORMAL_ANY_POSITIVE
from chestview.engine.inference import Predictor
from chestview.engine.paths import user_data_dir
from chestview.engine.site import SiteProfile, list_profiles, load_profile, save_profile, with_site
from chestview.engine.site.fit import fit_site_profile
from chestview.engine.zoo import load_model


# A model whose input is the film as windowed (not histogram-equalised): a site's processing curve
# moves its scores, which is what a site profile corrects. An equalising model barely moves.
SHIFTED_MODEL = "chexnet-lite0-r3-gw24"


@pytest.fixture(scope="module")
def default_model():
    try:
        return load_model(SHIFTED_MODEL)
    except ChestviewError:
        pytest.skip(f"{SHIFTED_MODEL} is not bundled")


@pytest.fixture(scope="module")
def profile(default_model, site_csv):
    return fit_site_profile(default_model, open_dataset(f"csv:{site_csv}"), "made-up", data="made-up site",
                            device="cpu", batch_size=16, num_workers=0)


def test_recalibration_moves_the_operating_points_back_towards_their_targets(profile):
    before, after = profile.metrics["before"], profile.metrics["after"]
    assert before["normal_films"] == 30 and after["films"] == 60
    # Normals with a positive finding: the finding thresholds' target, measured on held-out halves.
    b, a = before["normals_with_positive_finding"], after["normals_with_positive_finding"]
    assert abs(a - MAX_NORMAL_ANY_POSITIVE) < abs(b - MAX_NORMAL_ANY_POSITIVE) - 0.1, (b, a)
    if "abnormality_sensitivity" in after:
        b, a = before["abnormality_sensitivity"], after["abnormality_sensitivity"]
        assert abs(a - ABNORMALITY_SENSITIVITY) < abs(b - ABNORMALITY_SENSITIVITY), (b, a)
    assert profile.calibration["method"] == "platt" and profile.calibration["params"]
    assert profile.reference["n"] == 60 and len(profile.reference["distance"]) == 101


def test_profile_is_stored_apart_from_the_bundled_entry_and_applied_by_name(default_model, profile, test_data):
    card_file = default_model.path / "card.json"
    digest = hashlib.sha256(card_file.read_bytes()).hexdigest()
    path = save_profile(profile)
    assert path.is_relative_to(user_data_dir()) and not path.is_relative_to(default_model.path)
    assert hashlib.sha256(card_file.read_bytes()).hexdigest() == digest  # the entry is never touched
    assert list_profiles(default_model.card.id) == ["made-up"]
    loaded = load_profile(default_model.card.id, "made-up")
    assert loaded == SiteProfile.from_json(json.loads(path.read_text()))

    site = with_site(default_model, loaded)
    assert default_model.card.calibration.get("site") is None  # the shared model keeps its card
    predictor = Predictor(site, device="cpu", boxes="none")
    film = str(next((test_data / "nih" / "images").glob("*.png")))
    result = next(predictor.predict_paths([film], num_workers=0))
    assert result.site == "made-up" and result.to_json()["site"] == "made-up"
    by = {f.label: f for f in result.findings}
    assert all(by[lbl].threshold == pytest.approx(t, abs=1e-6) for lbl, t in profile.thresholds.items())
    if result.abnormality is not None:
        assert result.abnormality.threshold == pytest.approx(profile.abnormality["threshold"])
    assert predictor.gate is None or predictor.gate.threshold == pytest.approx(profile.gate_threshold)


def test_unknown_profiles_and_other_weights_are_refused(default_model, profile):
    with pytest.raises(ChestviewError, match="no site profile 'elsewhere'"):
        load_profile(default_model.card.id, "elsewhere")
    with pytest.raises(ChestviewError, match="site name"):
        load_profile(default_model.card.id, "../escape")
    other = default_model.card.with_updates(sha256="0" * 64)
    with pytest.raises(ChestviewError, match="was fitted for"):
        profile.apply(other)
