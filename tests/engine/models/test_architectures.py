"""Every registered architecture on every trunk: shapes, finite maps, a training step, the builder contract."""

from __future__ import annotations

import inspect

import pytest
import torch

from chestview.engine.errors import ModelError
from chestview.engine.models import get_model, list_models, list_trunks, model_info, model_summary
from chestview.engine.models.registry import ModelOutput

ARCHS = ["chexnet", "chestxray8", "resnet34_baseline", "space_attention", "attention_gated"]
DEFAULT_TRUNK = {
    "chexnet": "densenet121",
    "chestxray8": "resnet50",
    "resnet34_baseline": "resnet34",
    "space_attention": "resnet34",
    "attention_gated": "resnet34",
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_registry_lists_all_architectures_with_metadata() -> None:
    assert set(ARCHS) <= set(list_models())
    for arch in ARCHS:
        info = model_info(arch)
        assert info.description
        params = inspect.signature(info.builder).parameters
        assert all(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params.values())
        assert params["trunk"].default == DEFAULT_TRUNK[arch]
        assert params["in_chans"].default == 3
        assert params["pretrained_trunk"].default is False
        assert params["drop_rate"].default == 0.0


def _check(model: torch.nn.Module, in_chans: int, num_classes: int = 3) -> None:
    x = torch.randn(2, in_chans, 64, 64)
    out = model(x)
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (2, num_classes)
    assert out.maps is not None and out.maps.ndim == 4 and out.maps.shape[:2] == (2, num_classes)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.maps).all()
    (out.logits.sum() + 0.1 * out.maps.mean()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.slow
@pytest.mark.parametrize("in_chans", [1, 3])
@pytest.mark.parametrize("trunk", list_trunks())
@pytest.mark.parametrize("arch", ARCHS)
def test_every_arch_on_every_trunk(arch: str, trunk: str, in_chans: int) -> None:
    model = get_model(arch, num_classes=3, trunk=trunk, in_chans=in_chans)
    assert model.num_classes == 3 and model.trunk.name == trunk
    _check(model, in_chans=in_chans)


# The fast subset of the product above: every trunk under the head that uses all its stages, and
# every head on a small trunk, grey input.
@pytest.mark.parametrize("trunk", list_trunks())
def test_every_trunk_under_attention_gates_grey(trunk: str) -> None:
    model = get_model("attention_gated", num_classes=3, trunk=trunk, in_chans=1)
    assert isinstance(model.trunk, torch.nn.Module) and isinstance(model.head, torch.nn.Module)
    _check(model, in_chans=1)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_head_on_efficientnet_lite0_grey(arch: str) -> None:
    model = get_model(arch, num_classes=3, trunk="efficientnet_lite0", in_chans=1)
    assert model.num_classes == 3
    _check(model, in_chans=1)


@pytest.mark.parametrize("arch", ARCHS)
def test_default_trunk_rgb_and_eval_determinism(arch: str) -> None:
    model = get_model(arch, num_classes=2)
    assert model.trunk.name == DEFAULT_TRUNK[arch]
    _check(model, in_chans=3, num_classes=2)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x), model(x)
    torch.testing.assert_close(a.logits, b.logits)


@pytest.mark.parametrize("arch", ["chexnet", "space_attention", "attention_gated"])
def test_maps_average_to_logits_for_linear_pooling(arch: str) -> None:
    model = get_model(arch, num_classes=4, trunk="resnet18").eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)), out.logits, rtol=1e-4, atol=1e-4)


def test_maps_follow_input_size() -> None:
    model = get_model("chexnet", num_classes=2, trunk="resnet18").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 96, 128)).maps.shape == (1, 2, 3, 4)


def test_builders_are_keyword_only() -> None:
    builder = model_info("chexnet").builder
    with pytest.raises(TypeError):
        builder(3)  # type: ignore[misc]
    with pytest.raises(TypeError):
        get_model("chexnet", 3)  # type: ignore[misc]


def test_unknown_arch_trunk_or_head_argument() -> None:
    with pytest.raises(ModelError, match="unknown architecture"):
        get_model("nope", num_classes=2)
    with pytest.raises(ModelError, match="unknown trunk"):
        get_model("chexnet", num_classes=2, trunk="vgg16")
    with pytest.raises(ModelError, match="lse_r"):
        get_model("chexnet", num_classes=2, trunk="resnet18", lse_r=5.0)
    with pytest.raises(ModelError, match="num_classes"):
        get_model("chexnet", num_classes=0, trunk="resnet18")


def test_pretrained_only_for_efficientnet_lite() -> None:
    with pytest.raises(ModelError, match="efficientnet_lite"):
        get_model("chexnet", num_classes=2, pretrained_trunk=True)


def test_head_params_reach_the_head() -> None:
    model = get_model("chestxray8", num_classes=2, trunk="resnet18", lse_r=3.0, transition_channels=64)
    assert model.head.lse_r == 3.0 and model.head.transition.out_channels == 64
    gated = get_model("attention_gated", num_classes=2, trunk="resnet18", attention="softmax", drop_rate=0.1)
    _check(gated, in_chans=3, num_classes=2)


def test_freezing_the_trunk_trains_only_the_head() -> None:
    model = get_model("resnet34_baseline", num_classes=2, trunk="resnet18")
    model.trunk.requires_grad_(False)
    summary = model_summary(model)
    assert summary["trunk"] == "resnet18" and summary["head"] == "MaxPoolHead"
    assert 0 < summary["trainable_params"] < summary["params"]
    model(torch.randn(2, 3, 64, 64)).logits.sum().backward()
    assert all(p.grad is None for p in model.trunk.parameters())
