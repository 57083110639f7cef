"""Reduced precision as an opt-in that proves itself: refused (f32, with a warning) without a passing
record in the card for these weights; bf16 with one; the check measures real deltas on real images."""

import json

import numpy as np
import pytest
import torch

from chestview.engine.backends.precision import AUROC_LIMIT, LOCALIZATION_LIMIT, cpu_supports, proof_of, refusal
from chestview.engine.backends.select import installed, open_backend
from chestview.engine.errors import ChestviewError
from chestview.engine.inference import Predictor
from chestview.engine.io.loader import load_image
from chestview.engine.zoo import ModelCard, load_model, validate_card

CPU = torch.device("cpu")
needs_bf16 = pytest.mark.skipif(not (installed("openvino") and cpu_supports("bf16")),
                                reason="needs openvino on a CPU with native bf16")


def _with_record(directory, **fields):
    """Give the card in ``directory`` a bf16 record (as check-precision writes one) for its weights."""
    card = ModelCard.load(directory)
    entry = {"passed": True, "weights_sha256": card.sha256, "box_threshold": card.box_threshold,
             "mean_auroc_delta": 0.0005, "localization_delta": 0.0, **fields}
    card.with_updates(reduced_precision={"bf16": entry}).save(directory)


def _inputs(predictor, samples_dir):
    return torch.cat([predictor.prepare_input(load_image(p))[0] for p in sorted(samples_dir.glob("*.png"))[:2]])


@pytest.mark.parametrize("backend", ["auto", "openvino", "torch"])
def test_bf16_without_a_proof_falls_back_to_f32_with_a_warning(tiny_zoo, backend):
    opened = open_backend(load_model(tiny_zoo), CPU, backend, "bf16")
    assert opened.precision == "f32" and opened.warn
    assert "bf16" in opened.note and "using f32" in opened.note
    if backend != "torch" and installed("openvino"):
        assert "not proven" in opened.note and opened.name == "openvino"


def test_a_failed_or_foreign_proof_does_not_unlock_bf16(tiny_zoo):
    _with_record(tiny_zoo, passed=False, mean_auroc_delta=0.004)
    card = ModelCard.load(tiny_zoo)
    assert "failed its check" in refusal(card, "bf16") and "+0.0040" in refusal(card, "bf16")
    _with_record(tiny_zoo, weights_sha256="0" * 64)  # passed, but for other weights
    assert proof_of(ModelCard.load(tiny_zoo), "bf16") is None
    _with_record(tiny_zoo)  # passed, for these weights, but measured with another box threshold
    card = ModelCard.load(tiny_zoo)
    assert proof_of(card, "bf16") is not None
    assert proof_of(card.with_updates(box_threshold=card.box_threshold + 10), "bf16") is None
    assert refusal(card, "f32") is None


def test_the_record_survives_the_card_round_trip_and_is_validated(tiny_zoo):
    _with_record(tiny_zoo)
    data = json.loads((tiny_zoo / "card.json").read_text())
    assert validate_card(data) == [] and data["reduced_precision"]["bf16"]["passed"] is True
    assert ModelCard.from_json(data).reduced_precision == data["reduced_precision"]
    data["reduced_precision"] = {"bf16": {"passed": "yes"}}
    assert any("reduced_precision" in p for p in validate_card(data))
    load_model(tiny_zoo)  # the weights' SHA-256 bookkeeping is untouched by the record


@needs_bf16
def test_a_passing_proof_runs_bf16(tiny_zoo, samples_dir):
    _with_record(tiny_zoo)
    loaded = load_model(tiny_zoo)
    predictor = Predictor(loaded, device="cpu", backend="auto", precision="bf16")
    assert predictor.precision == "bf16" and predictor.backend_name == "openvino-bf16"
    assert predictor.backend_note is None
    exact = Predictor(loaded, device="cpu", backend="openvino")
    assert exact.precision == "f32"
    x = _inputs(exact, samples_dir)
    (p16, m16), (p32, m32) = predictor.forward(x), exact.forward(x)
    d = (p16 - p32).abs().max().item()
    assert 0 < d < 0.2  # really reduced precision (not exact), and still the same model
    assert m16.shape == m32.shape
    # Another backend asked for with bf16 keeps its exact self, and says so.
    other = open_backend(loaded, CPU, "torch", "bf16")
    assert other.name == "torch" and other.precision == "f32" and "OpenVINO only" in other.note


@needs_bf16
def test_the_check_measures_deltas_on_a_split_and_records_them(tiny_zoo, test_data):
    from chestview.engine.precision_proof import check_precision
    from chestview.engine.data import open_dataset

    ds = open_dataset(f"nih:{test_data / 'nih'}")
    split = {"train": [], "val": list(range(len(ds))), "test": []}
    assert any(s.boxes for s in ds.samples)
    proof = check_precision(tiny_zoo, ds, "bf16", split, batch_size=4, num_workers=0)
    assert proof.split == "val" and proof.n_images == len(ds) and proof.n_gt_boxes > 0
    assert set(proof.mean_auroc) == {"f32", "bf16"} and proof.mean_auroc_delta is not None
    assert proof.localization_delta is not None and 0 <= proof.localization["f32"] <= 1
    assert 0 < proof.max_abs_prob_delta < 0.2 and proof.mean_abs_prob_delta <= proof.max_abs_prob_delta
    assert proof.images_per_s["f32"] > 0 and proof.images_per_s["bf16"] > 0 and proof.speed_ratio > 0
    expected = abs(proof.mean_auroc_delta) <= AUROC_LIMIT and abs(proof.localization_delta) <= LOCALIZATION_LIMIT
    assert proof.passed == expected
    entry = ModelCard.load(tiny_zoo).reduced_precision["bf16"]
    assert entry["passed"] == proof.passed and entry["split"] == "val" and entry["openvino"]
    assert entry["limits"]["abs_mean_auroc_delta"] == AUROC_LIMIT
    assert entry["weights_sha256"] == ModelCard.load(tiny_zoo).sha256
    assert np.isclose(entry["mean_auroc_delta"], proof.mean_auroc_delta, atol=1e-6)
    # The record decides: bf16 opens exactly when the measurement passed.
    opened = open_backend(load_model(tiny_zoo), CPU, "auto", "bf16")
    assert opened.precision == ("bf16" if proof.passed else "f32")


def test_the_check_refuses_the_exact_precision(tiny_zoo, test_data):
    from chestview.engine.precision_proof import check_precision
    from chestview.engine.data import open_dataset

    ds = open_dataset(f"nih:{test_data / 'nih'}")
    with pytest.raises(ChestviewError):
        check_precision(tiny_zoo, ds, "f32", {"val": [0]}, write=False)
