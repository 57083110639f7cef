"""Heads and trunks in isolation: pooling maths, CAM identities, stage shapes."""

from __future__ import annotations

import math

import pytest
import torch

from chestview.engine.errors import ModelError
from chestview.engine.models.heads import (
    AttentionGate,
    AttentionGatedHead,
    CAMHead,
    LSEHead,
    MaxPoolHead,
    SpaceAttentionHead,
    lse_pool,
)
from chestview.engine.models.imagenet import adapt_first_conv_weight
from chestview.engine.models.trunks import build_trunk, list_trunks


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_lse_pool_limits_and_stability() -> None:
    x = torch.randn(2, 5, 4, 4)
    torch.testing.assert_close(lse_pool(x, 1e-4), x.mean(dim=(2, 3)), atol=1e-3, rtol=0)
    torch.testing.assert_close(lse_pool(x, 1e-7), x.mean(dim=(2, 3)), atol=1e-5, rtol=0)
    assert (lse_pool(x, 1e4) - x.amax(dim=(2, 3))).abs().max() < math.log(16) / 1e4 + 1e-5
    big = torch.full((1, 1, 3, 3), 1e4)
    assert torch.isfinite(lse_pool(big, 10.0)).all() and lse_pool(big, 10.0).item() == pytest.approx(1e4)
    r = 10.0
    ref = torch.log(torch.exp(r * x).flatten(2).mean(2)) / r
    torch.testing.assert_close(lse_pool(x, r), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ModelError):
        lse_pool(x, 0.0)


def test_cam_head_mean_of_map_is_the_logit() -> None:
    head = CAMHead((8, 16, 32, 64), 3).eval()
    f = torch.relu(torch.randn(2, 64, 5, 7))
    out = head([f])
    assert out.maps.shape == (2, 3, 5, 7)
    torch.testing.assert_close(out.logits, head.classifier(f.mean(dim=(2, 3))))
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)), out.logits, rtol=1e-5, atol=1e-5)
    w, b = head.classifier.weight, head.classifier.bias
    torch.testing.assert_close(out.maps[1, 2, 3, 4], w[2] @ f[1, :, 3, 4] + b[2])


def test_lse_and_max_heads_map_the_transition_layer() -> None:
    f = torch.randn(2, 32, 4, 4)
    lse = LSEHead((4, 8, 16, 32), 3, lse_r=5.0, transition_channels=16)
    out = lse([f])
    t = lse.transition(f)
    torch.testing.assert_close(out.logits, lse.prediction(lse_pool(t, 5.0)))
    torch.testing.assert_close(out.maps[0, 1, 2, 3], lse.prediction.weight[1] @ t[0, :, 2, 3] + lse.prediction.bias[1])
    mx = MaxPoolHead((4, 8, 16, 32), 3, transition_channels=16)
    out = mx([f])
    torch.testing.assert_close(out.logits, mx.fc(mx.transition(f).amax(dim=(2, 3))))
    assert out.maps.shape == (2, 3, 4, 4)
    with pytest.raises(ModelError):
        LSEHead((4, 8, 16, 32), 3, lse_r=-1.0)


def test_space_attention_sees_global_context() -> None:
    head = SpaceAttentionHead((4, 8, 16, 32), 2).eval()
    f = torch.randn(1, 32, 4, 4)
    out = head([f])
    g = f.clone()
    g[..., 0, 0] += 5.0  # change one place: every position's score changes through the context
    changed = (head([g]).maps - out.maps).abs()[0, 0]
    assert (changed[1:, 1:] > 0).all()
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)), out.logits)


@pytest.mark.parametrize("attention", ["sigmoid", "softmax"])
def test_attention_gate_and_head(attention: str) -> None:
    gate = AttentionGate(8, 32, 4, attention)
    a = gate(torch.randn(2, 8, 8, 8), torch.randn(2, 32, 2, 2))
    assert a.shape == (2, 1, 8, 8) and (a >= 0).all() and (a <= 1).all()
    if attention == "softmax":
        torch.testing.assert_close(a.sum(dim=(2, 3)), torch.ones(2, 1))
    head = AttentionGatedHead((4, 8, 16, 32), 3, attention=attention).eval()
    feats = [torch.randn(2, c, s, s) for c, s in zip((4, 8, 16, 32), (16, 8, 4, 2))]
    out = head(feats)
    assert out.logits.shape == (2, 3) and out.maps.shape == (2, 3, 8, 8)
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)), out.logits, rtol=1e-4, atol=1e-4)
    with pytest.raises(ModelError):
        AttentionGate(8, 32, 4, "tanh")


@pytest.mark.parametrize(
    ("name", "in_chans"), [(name, 1) for name in list_trunks()] + [("resnet18", 3), ("efficientnet_lite0", 3)]
)
def test_trunk_stages(name: str, in_chans: int) -> None:
    trunk = build_trunk(name, in_chans=in_chans).eval()
    x = torch.randn(1, in_chans, 64, 64)
    with torch.no_grad():
        stages = trunk.forward_stages(x)
        final = trunk(x)
    assert len(stages) == 4
    for s, c, r in zip(stages, trunk.stage_channels, trunk.stage_reductions):
        assert s.shape == (1, c, 64 // r, 64 // r)
    torch.testing.assert_close(stages[-1], final)
    assert trunk.out_channels == final.shape[1]


def test_adapt_first_conv_weight() -> None:
    w = torch.randn(4, 3, 3, 3)
    torch.testing.assert_close(adapt_first_conv_weight(w, 1), w.sum(1, keepdim=True))
    assert adapt_first_conv_weight(w, 3) is w
    w5 = adapt_first_conv_weight(w, 5)
    assert w5.shape == (4, 5, 3, 3)
    # A grey image replicated to RGB and the summed kernel on one channel agree.
    grey = torch.randn(1, 1, 8, 8)
    torch.testing.assert_close(
        torch.nn.functional.conv2d(grey.expand(1, 3, 8, 8), w), torch.nn.functional.conv2d(grey, w.sum(1, keepdim=True))
    )
