"""Built-in architectures: a trunk and a head, registered by name.

Every builder is keyword-only: ``fn(*, num_classes, in_chans=3, trunk=<default>,
pretrained_trunk=False, drop_rate=0.0, **head_params)``; any head accepts any trunk.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models.heads import (
    AttentionGatedHead,
    CAMHead,
    Head,
    LSEHead,
    MaxPoolHead,
    SpaceAttentionHead,
)
from chestview.engine.models.registry import ModelOutput, register_model
from chestview.engine.models.trunks import Trunk, build_trunk


class ChestNet(nn.Module):
    """``trunk`` -> ``head``; ``forward(x)`` returns logits and class activation maps of one pass.

    ``.trunk`` and ``.head`` are separate submodules so training can freeze the trunk.
    """

    def __init__(self, trunk: Trunk, head: Head, *, arch: str) -> None:
        super().__init__()
        self.arch = arch
        self.trunk = trunk
        self.head = head
        self.num_classes = head.num_classes

    def forward(self, x: torch.Tensor) -> ModelOutput:
        feats = self.trunk.forward_stages(x) if self.head.uses_stages else [self.trunk(x)]
        return self.head(feats)


def _build(
    arch: str,
    head_cls: type[Head],
    *,
    num_classes: int,
    in_chans: int,
    trunk: str,
    pretrained_trunk: bool,
    drop_rate: float,
    head_params: dict[str, Any],
) -> ChestNet:
    accepted = [
        name
        for name, p in inspect.signature(head_cls.__init__).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "drop_rate"
    ]
    unknown = sorted(set(head_params) - set(accepted))
    if unknown:
        raise ModelError(
            f"{arch}: unknown argument(s) {', '.join(unknown)}; accepted head arguments: {', '.join(accepted) or 'none'}"
        )
    body = build_trunk(trunk, in_chans=in_chans, pretrained=pretrained_trunk)
    head = head_cls(body.stage_channels, num_classes, drop_rate=drop_rate, **head_params)
    return ChestNet(body, head, arch=arch)


@register_model(
    "chexnet",
    description="CheXNet: DenseNet-121, global average pooling, linear classifier; CAM = W·F + b",
    paper="Rajpurkar et al. 2017, CheXNet: Radiologist-Level Pneumonia Detection on Chest X-Rays with Deep Learning, arXiv:1711.05225",
)
def chexnet(
    *,
    num_classes: int,
    in_chans: int = 3,
    trunk: str = "densenet121",
    pretrained_trunk: bool = False,
    drop_rate: float = 0.0,
    **head_params: Any,
) -> ChestNet:
    """CheXNet (no head parameters). Sigmoid is applied outside the model."""
    return _build(
        "chexnet", CAMHead, num_classes=num_classes, in_chans=in_chans, trunk=trunk,
        pretrained_trunk=pretrained_trunk, drop_rate=drop_rate, head_params=head_params,
    )


@register_model(
    "chestxray8",
    description="ChestX-ray8 baseline: ResNet-50, 1x1 transition layer, LSE pooling, prediction layer",
    paper="Wang et al. 2017, ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks, CVPR 2017, arXiv:1705.02315",
)
def chestxray8(
    *,
    num_classes: int,
    in_chans: int = 3,
    trunk: str = "resnet50",
    pretrained_trunk: bool = False,
    drop_rate: float = 0.0,
    **head_params: Any,
) -> ChestNet:
    """Head parameters: ``lse_r`` (10.0), ``transition_channels`` (1024)."""
    return _build(
        "chestxray8", LSEHead, num_classes=num_classes, in_chans=in_chans, trunk=trunk,
        pretrained_trunk=pretrained_trunk, drop_rate=drop_rate, head_params=head_params,
    )


@register_model(
    "resnet34_baseline",
    description="ResNet-34 baseline: 1x1 transition layer, global max pooling, fc; maps = fc·transition",
    paper="Classification-and-localization baseline in the style of Wang et al. 2017 (arXiv:1705.02315), max pooling",
)
def resnet34_baseline(
    *,
    num_classes: int,
    in_chans: int = 3,
    trunk: str = "resnet34",
    pretrained_trunk: bool = False,
    drop_rate: float = 0.0,
    **head_params: Any,
) -> ChestNet:
    """Head parameter: ``transition_channels`` (512)."""
    return _build(
        "resnet34_baseline", MaxPoolHead, num_classes=num_classes, in_chans=in_chans, trunk=trunk,
        pretrained_trunk=pretrained_trunk, drop_rate=drop_rate, head_params=head_params,
    )


@register_model(
    "space_attention",
    description="Global-context head: pooled context tiled and concatenated, 1x1 conv per class, average of maps",
    paper="",
)
def space_attention(
    *,
    num_classes: int,
    in_chans: int = 3,
    trunk: str = "resnet34",
    pretrained_trunk: bool = False,
    drop_rate: float = 0.0,
    **head_params: Any,
) -> ChestNet:
    """No head parameters."""
    return _build(
        "space_attention", SpaceAttentionHead, num_classes=num_classes, in_chans=in_chans, trunk=trunk,
        pretrained_trunk=pretrained_trunk, drop_rate=drop_rate, head_params=head_params,
    )


@register_model(
    "attention_gated",
    description="Attention gates after stages 2 and 3, gated by the final map, one linear classifier",
    paper="Schlemper et al. 2019, Attention gated networks: Learning to leverage salient regions in medical images, Medical Image Analysis 53, arXiv:1808.08114",
)
def attention_gated(
    *,
    num_classes: int,
    in_chans: int = 3,
    trunk: str = "resnet34",
    pretrained_trunk: bool = False,
    drop_rate: float = 0.0,
    **head_params: Any,
) -> ChestNet:
    """Head parameters: ``attention`` ("sigmoid" or "softmax"), ``inter_channels`` (half the gated stage's)."""
    return _build(
        "attention_gated", AttentionGatedHead, num_classes=num_classes, in_chans=in_chans, trunk=trunk,
        pretrained_trunk=pretrained_trunk, drop_rate=drop_rate, head_params=head_params,
    )


def model_summary(model: nn.Module) -> dict[str, Any]:
    """Parameter counts and the trunk/head names, for the CLI and the GUI's model panel."""
    trunk = getattr(model, "trunk", None)
    head = getattr(model, "head", None)
    return {
        "arch": getattr(model, "arch", type(model).__name__),
        "params": sum(p.numel() for p in model.parameters()),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "trunk": getattr(trunk, "name", type(trunk).__name__ if trunk is not None else None),
        "head": type(head).__name__ if head is not None else None,
        "num_classes": getattr(model, "num_classes", None),
    }


# Research architectures in their own modules (alstm_mlc, ctranscnn, bilinear_msml); importing registers them.
from chestview.engine.models import research  # noqa: E402, F401
