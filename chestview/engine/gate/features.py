"""The image's pooled trunk features: what the input gate measures, taken from the forward pass
the model runs anyway (a hook on the trunk's final map, ``model.trunk.out``)."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models.gradcam import default_target_layer


def feature_layer(model: nn.Module) -> nn.Module | None:
    """The module whose output is the trunk's final feature map, or None for a model without a trunk."""
    try:
        return default_target_layer(model)
    except ModelError:
        return None


@contextlib.contextmanager
def pooled_features(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Inside the block, the first forward pass's trunk features, global-average pooled to (B, K),
    land in the yielded list (empty when the model has no trunk). Only the first pass counts:
    Grad-CAM runs the model a second time on the same batch."""
    captured: list[torch.Tensor] = []
    layer = feature_layer(model)

    def hook(_module: nn.Module, _inputs: object, out: torch.Tensor) -> None:
        if not captured and isinstance(out, torch.Tensor) and out.ndim == 4:
            captured.append(out.detach().float().mean(dim=(2, 3)).cpu())

    handle = layer.register_forward_hook(hook) if layer is not None else None
    try:
        yield captured
    finally:
        if handle is not None:
            handle.remove()
