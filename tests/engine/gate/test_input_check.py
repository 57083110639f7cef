"""The gate on made-up non-radiographs and on the real chest films in tests/data and resources/samples."""

import numpy as np
import pydicom
import pytest
from PIL import Image

from chestview.engine.gate import input_check
from chestview.engine.gate.pixels import pixel_reasons
from chestview.engine.io.loader import load_image
from chestview.engine.preprocess import model_gray


def _chest_films(test_data, samples_dir):
    return sorted((test_data / "nih" / "images").glob("*.png")) + sorted(samples_dir.glob("*.dcm")) + sorted(
        (test_data / "dicom").glob("sc_nih_udacity_test[1-3]_quarter.dcm"))


def test_pixel_checks_never_fire_on_chest_films(test_data, samples_dir):
    films = _chest_films(test_data, samples_dir)
    assert len(films) >= 15
    for path in films:
        image = load_image(path)
        assert pixel_reasons(image, model_gray(image, 96).numpy()) == [], path.name


def test_pixel_checks_catch_colour_extreme_shapes_and_flat_images(tmp_path):
    rng = np.random.default_rng(0)
    colour = tmp_path / "colour.jpg"
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(colour)
    strip = tmp_path / "strip.png"
    Image.fromarray(rng.integers(0, 255, (50, 400), dtype=np.uint8)).save(strip)
    flat = tmp_path / "flat.png"
    Image.fromarray(np.full((200, 200), 128, np.uint8)).save(flat)
    for path, words in ((colour, "colour"), (strip, "aspect"), (flat, "uniform")):
        image = load_image(path)
        check = input_check(image, None, None)  # no model statistics: the pixel checks alone
        assert check.flagged and words in check.reason, (path.name, check)
        assert check.score is None and check.threshold is None


def test_gray_film_saved_as_rgb_is_not_colour(test_data, tmp_path):
    src = Image.open(next((test_data / "nih" / "images").glob("*.png"))).convert("RGB")
    src.save(tmp_path / "rgb.jpg", quality=85)
    image = load_image(tmp_path / "rgb.jpg")
    assert image.metadata["colourfulness"] < 0.005
    assert not input_check(image, None, None).flagged


@pytest.mark.parametrize("tag, value", [("Modality", "CT"), ("Modality", "MR"), ("BodyPartExamined", "KNEE")])
def test_dicom_headers_that_say_not_a_chest_film_flag_it(samples_dir, tmp_path, tag, value):
    ds = pydicom.dcmread(samples_dir / "dx_nih_google_uncompressed.dcm")
    setattr(ds, tag, value)
    path = tmp_path / "changed.dcm"
    ds.save_as(path)
    original = input_check(load_image(samples_dir / "dx_nih_google_uncompressed.dcm"), None, None)
    changed = input_check(load_image(path), None, None)
    assert not original.flagged
    assert changed.flagged and value in changed.reason


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_bundled_default_model_flags_non_radiographs_and_passes_chest_films(test_data, samples_dir, non_radiographs, backend):
    """The real gate: the bundled default model's statistics (fitted by `chestview models fit-gate`),
    on the CPU's default backend (an exported graph when one is installed) and on torch."""
    from chestview.engine.inference import Predictor
    from chestview.engine.zoo import default_model_id, load_model

    model_id = default_model_id()
    if model_id is None:
        pytest.skip("no bundled model")
    predictor = Predictor(load_model(model_id), device="cpu", boxes="none", backend=backend)
    assert predictor.backend_note is None, predictor.backend_note
    if predictor.gate is None:
        pytest.skip(f"{model_id} has no input gate yet (chestview models fit-gate)")
    films = [str(p) for p in _chest_films(test_data, samples_dir)]
    results = {r.path: r for r in predictor.predict_paths(films + [str(p) for p in non_radiographs], batch_size=8)}
    film_flags = [p for p in films if results[p].flagged]
    assert not film_flags, [results[p].input_check for p in film_flags]
    for p in non_radiographs:
        r = results[str(p)]
        assert r.flagged, (p.name, r.input_check)
        assert r.findings  # a flagged image keeps its findings in the JSON
    # The model's own evidence -- the kind classifier or the feature distance -- flags every one of
    # them, not only the colour and header checks.
    gate = predictor.gate
    for p in non_radiographs:
        c = results[str(p)].input_check
        by_kind = gate.kind is not None and c.chest_probability < gate.kind.cutoff
        assert by_kind or c.score > gate.threshold, (p.name, c)


def test_the_non_radiograph_set_is_the_one_the_readme_counts(non_radiographs):
    assert len(non_radiographs) == 57
