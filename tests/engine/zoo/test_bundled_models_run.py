"""Every bundled model loads, predicts a bundled sample film and still gives the outputs it shipped.

The shipped check outputs are torch's (logits, maps[, features]) on the fixed check input, written
when the entry was published (the graph's reference, or ``check_outputs`` for a model that keeps
torch): recomputing them from the weights proves the weights, the architecture code and the card
still agree.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from chestview.engine.backends.base import check_input
from chestview.engine.backends.export import torch_reference
from chestview.engine.backends.packaged import shipped_check_outputs
from chestview.engine.io.loader import load_image
from chestview.engine.inference import Predictor
from chestview.engine.zoo import list_zoo
from chestview.engine.zoo.store import load_model

SAMPLE = Path(__file__).resolve().parents[3] / "resources" / "samples" / "00005140_001.png"
BUNDLED = [e for e in list_zoo() if e.bundled]


def test_the_zoo_bundles_the_research_architectures():
    """The research systems the project is built on, each a bundled model with calibration, an input
    gate and test metrics (the seeds: CheXNet, ChestX-ray8, ALSTM-MLC, CTransCNN, MSML, and one of
    the attention / ResNet-34 baseline family)."""
    archs = {e.card.architecture for e in BUNDLED}
    assert {"chexnet", "chestxray8", "alstm_mlc", "ctranscnn", "bilinear_msml"} <= archs
    assert archs & {"space_attention", "attention_gated", "resnet34_baseline"}
    assert any(e.card.architecture == "chexnet" and e.card.arch_kwargs.get("trunk") == "densenet121" for e in BUNDLED)
    for entry in BUNDLED:
        card = entry.card
        assert card.calibration and card.input_gate and card.metrics["test"]["mean_auroc"] > 0.5, card.id


@pytest.mark.parametrize("entry", BUNDLED, ids=[e.card.id for e in BUNDLED])
def test_bundled_model_matches_its_shipped_check_outputs_and_predicts(entry):
    loaded = load_model(entry.path)
    shipped = shipped_check_outputs(loaded)
    assert shipped is not None, f"{entry.card.id} ships no check outputs"
    pre = loaded.card.preprocessing
    now = torch_reference(loaded, check_input(pre.channels, pre.size))
    assert len(now) == len(shipped)
    for name, a, b in zip(("logits", "maps", "features"), now, shipped):
        assert a.shape == b.shape, name
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4, msg=f"{entry.card.id}: {name} moved")

    result = Predictor(loaded, device="cpu", backend="torch").predict_image(load_image(SAMPLE))
    assert result.error is None
    assert [f.label for f in sorted(result.findings, key=lambda f: f.label)] == sorted(loaded.card.labels)
    probs = np.array([f.probability for f in result.findings])
    assert np.all((probs >= 0) & (probs <= 1)) and probs.std() > 0  # a real opinion, not a constant
    if loaded.card.has_abnormality:
        assert 0 <= result.abnormality.probability <= 1
