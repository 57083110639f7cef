"""Grad-CAM: the CAM identity on a GAP + linear model, plain classifiers, frozen models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models import get_model, gradcam


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_gradcam_equals_cam_on_gap_linear_model() -> None:
    model = get_model("chexnet", num_classes=3).eval()  # DenseNet-121 + GAP + linear
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        cam = model(x).maps
    grad = gradcam(model, x)
    assert grad.shape == cam.shape
    bias = model.head.classifier.bias[None, :, None, None]
    torch.testing.assert_close(grad, torch.relu(cam - bias), rtol=1e-4, atol=1e-5)
    # Up to a positive scale per class, as the identity is usually stated.
    for c in range(3):
        a, b = grad[:, c].flatten(), torch.relu(cam - bias)[:, c].flatten()
        if b.std() > 0:
            assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.999


def test_gradcam_on_plain_classifier_with_target_layer() -> None:
    features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
    plain = nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
    x = torch.randn(2, 1, 16, 16)
    maps = gradcam(plain, x, target_layer=features)
    assert maps.shape == (2, 2, 16, 16) and (maps >= 0).all()
    only = gradcam(plain, x, target_layer=features, classes=[1], relu=False)
    assert only.shape == (2, 1, 16, 16)
    with pytest.raises(ModelError, match="target_layer"):
        gradcam(plain, x)


def test_gradcam_on_frozen_model_leaves_no_grads_and_keeps_mode() -> None:
    model = get_model("space_attention", num_classes=2, trunk="resnet18").eval()
    model.requires_grad_(False)
    maps = gradcam(model, torch.randn(1, 3, 64, 64))
    assert maps.shape == (1, 2, 2, 2) and torch.isfinite(maps).all()
    assert all(p.grad is None for p in model.parameters())
    assert not model.training
