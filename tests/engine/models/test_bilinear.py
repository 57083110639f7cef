"""Bilinear fine-grained network (Ge et al. 2018): shapes, exact maps, one MSML training step."""

from __future__ import annotations

import pytest
import torch

from chestview.engine.errors import ModelError
from chestview.engine.models import get_model, list_models, model_info
from chestview.engine.models.registry import ModelOutput


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_registered_shapes_and_maps_average_to_logits() -> None:
    assert "bilinear_msml" in list_models() and "1807.07247" in model_info("bilinear_msml").paper
    model = get_model("bilinear_msml", num_classes=3, trunk="resnet18", in_chans=1, proj_dim=16).eval()
    assert model.trunk.name == "resnet18" and model.head.classifier.in_features == 256
    with torch.no_grad():
        out = model(torch.randn(2, 1, 64, 64))
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (2, 3) and out.maps.shape == (2, 3, 2, 2)
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)), out.logits, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        assert model(torch.randn(1, 1, 96, 128)).maps.shape == (1, 3, 3, 4)


def test_default_trunk_and_bad_proj_dim() -> None:
    model = get_model("bilinear_msml", num_classes=2)
    assert model.trunk.name == "resnet50" and model.head.classifier.in_features == 64 * 64
    with pytest.raises(ModelError, match="proj_dim"):
        get_model("bilinear_msml", num_classes=2, trunk="resnet18", proj_dim=0)


def _train_steps(loss_fn, steps: int = 4) -> list[float]:
    model = get_model("bilinear_msml", num_classes=4, trunk="resnet18", proj_dim=16)
    x = torch.randn(2, 3, 64, 64)
    targets = torch.tensor([[1.0, 0.0, 1.0, float("nan")], [0.0, 1.0, 0.0, 0.0]])
    mask = (~torch.isnan(targets)).float()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for i in range(steps):
        opt.zero_grad()
        out = model(x)
        loss = loss_fn(out.logits, targets, mask)
        loss.backward()
        if i == 0:
            for name, p in model.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), name
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_one_training_step_with_bce() -> None:
    from chestview.engine.train.losses import bce_loss

    losses = _train_steps(bce_loss)
    assert losses[-1] < losses[0]


def test_trains_with_the_msml_loss() -> None:
    losses_mod = pytest.importorskip("chestview.engine.train.losses")
    if "msml" not in losses_mod.list_losses():
        pytest.skip("msml loss not landed yet")
    losses = _train_steps(losses_mod.get_loss("msml"))
    assert losses[-1] < losses[0]
