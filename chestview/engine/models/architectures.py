"""The trunk + head family of built-in architectures, registered by name when imported.

This module owns :class:`ChestNet` (a trunk and a head) and the table of the family's members
(:data:`ARCHITECTURES`: head, default trunk, description, paper); one builder serves them all.
Every builder is keyword-only: ``fn(*, num_classes, in_chans=3, trunk=<default>,
pretrained_trunk=False, drop_rate=0.0, **head_params)``; any head accepts any trunk. The registry
(:mod:`.registry`) knows nothing of this module: the ``models`` package imports it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

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


@dataclass(frozen=True)
class TrunkHeadArchitecture:
    """One built-in architecture of the trunk + head family: what tells it from the others."""

    name: str
    title: str  # the system's name as a reader knows it
    head: type[Head]
    default_trunk: str
    description: str
    paper: str
    head_parameters: str  # the builder's docstring: the head's parameters and their defaults


ARCHITECTURES: tuple[TrunkHeadArchitecture, ...] = (
    TrunkHeadArchitecture(
        "chexnet", "CheXNet", CAMHead, "densenet121",
        "CheXNet: DenseNet-121, global average pooling, linear classifier; CAM = W·F + b",
        "Rajpurkar et al. 2017, CheXNet: Radiologist-Level Pneumonia Detection on Chest X-Rays with Deep Learning, arXiv:1711.05225",
        "CheXNet (no head parameters). Sigmoid is applied outside the model.",
    ),
    TrunkHeadArchitecture(
        "chestxray8", "ChestX-ray8 baseline", LSEHead, "resnet50",
        "ChestX-ray8 baseline: ResNet-50, 1x1 transition layer, LSE pooling, prediction layer",
        "Wang et al. 2017, ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks, CVPR 2017, arXiv:1705.02315",
        "Head parameters: ``lse_r`` (10.0), ``transition_channels`` (1024).",
    ),
    TrunkHeadArchitecture(
        "resnet34_baseline", "ResNet-34 baseline", MaxPoolHead, "resnet34",
        "ResNet-34 baseline: 1x1 transition layer, global max pooling, fc; maps = fc·transition",
        "Classification-and-localization baseline in the style of Wang et al. 2017 (arXiv:1705.02315), max pooling",
        "Head parameter: ``transition_channels`` (512).",
    ),
    TrunkHeadArchitecture(
        "space_attention", "Space-attention network", SpaceAttentionHead, "resnet34",
        "Global-context head: pooled context tiled and concatenated, 1x1 conv per class, average of maps",
        "",
        "No head parameters.",
    ),
    TrunkHeadArchitecture(
        "attention_gated", "Attention-gated network", AttentionGatedHead, "resnet34",
        "Attention gates after stages 2 and 3, gated by the final map, one linear classifier",
        "Schlemper et al. 2019, Attention gated networks: Learning to leverage salient regions in medical images, Medical Image Analysis 53, arXiv:1808.08114",
        'Head parameters: ``attention`` ("sigmoid" or "softmax"), ``inter_channels`` (half the gated stage\'s).',
    ),
)


def builder(spec: TrunkHeadArchitecture) -> Callable[..., ChestNet]:
    """The keyword-only builder of ``spec``, with its default trunk, as the registry holds it."""

    def build(
        *,
        num_classes: int,
        in_chans: int = 3,
        trunk: str = spec.default_trunk,
        pretrained_trunk: bool = False,
        drop_rate: float = 0.0,
        **head_params: Any,
    ) -> ChestNet:
        return _build(
            spec.name, spec.head, num_classes=num_classes, in_chans=in_chans, trunk=trunk,
            pretrained_trunk=pretrained_trunk, drop_rate=drop_rate, head_params=head_params,
        )

    build.__name__ = build.__qualname__ = spec.name
    build.__doc__ = spec.head_parameters
    return build


for _spec in ARCHITECTURES:
    register_model(_spec.name, description=_spec.description, paper=_spec.paper, title=_spec.title)(builder(_spec))


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

