import numpy as np
import pytest

from chestview.engine.data import open_dataset
from chestview.engine.gate import GATE_FILE, load_gate
from chestview.engine.gate.fit import fit_input_gate
from chestview.engine.inference import Predictor
from chestview.engine.zoo import ModelCard, load_model


def test_fit_writes_checked_statistics_and_inference_uses_them(tiny_zoo, test_data):
    ds = open_dataset(f"nih:{test_data / 'nih'}")
    split = {"train": list(range(8)), "val": list(range(8, len(ds)))}
    fit = fit_input_gate(tiny_zoo, ds, split, batch_size=4, num_workers=0, kinds=False)
    assert fit.train_images == 8 and fit.val_images == len(ds) - 8
    assert fit.val_flagged == 0  # at most 2% of 5 films: none
    card = ModelCard.load(tiny_zoo)
    assert card.input_gate["file"] == GATE_FILE and card.input_gate["val_images"] == fit.val_images
    stats = load_gate(tiny_zoo, card)
    assert stats is not None and np.isfinite(stats.threshold) and stats.threshold == pytest.approx(fit.stats.threshold, rel=1e-6)  # stored as float32

    pred = Predictor(load_model(tiny_zoo), device="cpu")  # the CPU default: an exported graph where installed
    val_paths = [ds.samples[i].path for i in split["val"]]
    checks = [r.input_check for r in pred.predict_paths(val_paths, num_workers=0)]
    assert all(c.score is not None and c.threshold == stats.threshold for c in checks)
    assert not any(c.flagged for c in checks)

    # Statistics that do not match the card's SHA-256 are not used.
    path = tiny_zoo / GATE_FILE
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\0")
    assert load_gate(tiny_zoo, card) is None


@pytest.mark.slow  # some 300 example images written and read: a minute on an idle laptop
def test_fit_with_kinds_stores_the_classifier_the_reference_and_held_out_rates(tiny_zoo, test_data):
    """The whole recipe on the tiny untrained model (its numbers mean nothing; the plumbing does)."""
    ds = open_dataset(f"nih:{test_data / 'nih'}")
    split = {"train": list(range(8)), "val": list(range(8, len(ds)))}
    fit = fit_input_gate(tiny_zoo, ds, split, batch_size=16, num_workers=0, kind_films=3, kind_val_films=2)
    card = ModelCard.load(tiny_zoo)
    stats = load_gate(tiny_zoo, card)
    assert stats.kind is not None and stats.kind.dim == stats.dim
    np.testing.assert_allclose(stats.kind.weights, fit.stats.kind.weights, rtol=1e-5)  # float32 on disk
    held = card.input_gate["kind"]["held_out"]
    assert held["chest_variants"] == 2 * 14 and held["non_radiographs"] > 10
    assert {"crop", "rotated90", "photo (gray)"} <= set(held["by_kind"])  # the 2 validation films' near-misses
    ref = card.input_gate["reference"]
    assert ref["n"] == len(split["val"]) and len(ref["distance"]) == 101 and "abnormality" not in ref
    check = Predictor(load_model(tiny_zoo), device="cpu", backend="torch").predict_image(
        __import__("chestview.engine.io.loader", fromlist=["load_image"]).load_image(ds.samples[0].path)).input_check
    assert check.chest_probability is not None and 0.0 <= check.chest_probability <= 1.0
