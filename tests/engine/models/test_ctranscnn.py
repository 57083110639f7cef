"""CTransCNN: shapes, label-query maps that average to the logits, one training step, the size configs."""

from __future__ import annotations

import pytest
import torch

from chestview.engine.errors import ModelError
from chestview.engine.models import get_model, gradcam, list_models, model_info
from chestview.engine.models.ctranscnn import pooling_matrix
from chestview.engine.models.registry import ModelOutput

TINY = dict(embed_dim=32, num_heads=2, base_channels=8)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_registered_small_default_shapes_and_exact_maps() -> None:
    assert "ctranscnn" in list_models() and "knosys" in model_info("ctranscnn").paper
    model = get_model("ctranscnn", num_classes=3, in_chans=1).eval()
    assert model.trunk.embed_dim == 128 and len(model.trunk.blocks) == 3
    with torch.no_grad():
        out = model(torch.randn(2, 1, 64, 64))
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (2, 3) and out.maps.shape == (2, 3, 4, 4)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.maps).all()
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)), out.logits, rtol=1e-4, atol=1e-4)


def test_one_training_step_reaches_both_branches_and_the_head() -> None:
    model = get_model("ctranscnn", num_classes=4, **TINY)
    x = torch.randn(2, 3, 64, 64)
    targets = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for i in range(4):
        opt.zero_grad()
        out = model(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, targets) + 0.01 * out.maps.mean()
        loss.backward()
        if i == 0:
            for name, p in model.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), name
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_odd_input_sizes_and_gradcam_hook() -> None:
    model = get_model("ctranscnn", num_classes=2, **TINY).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 96, 128))
    assert out.maps.shape == (1, 2, 6, 8)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 72, 72)).maps.shape == (1, 2, 5, 5)  # stem padded to the token grid
    cam = gradcam(model, torch.randn(1, 3, 64, 64))
    assert cam.shape == (1, 2, 4, 4)


def test_pooling_matrix_rows_average_their_regions() -> None:
    p = pooling_matrix((4, 4), (1, 2, 4), device=torch.device("cpu"))
    assert p.shape == (1 + 4, 16)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(5))
    assert torch.allclose(p[0], torch.full((16,), 1 / 16))


def test_full_size_config_and_bad_arguments() -> None:
    model = get_model("ctranscnn", num_classes=2, size="full")
    assert model.trunk.embed_dim == 384 and len(model.trunk.blocks) == 11
    with pytest.raises(ModelError, match="size"):
        get_model("ctranscnn", num_classes=2, size="huge")
    with pytest.raises(ModelError, match="trunk"):
        get_model("ctranscnn", num_classes=2, trunk="resnet18")
    with pytest.raises(ModelError, match="divisible"):
        get_model("ctranscnn", num_classes=2, embed_dim=30, num_heads=4)
