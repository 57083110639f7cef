"""Classification heads that also return one class activation map per label.

A head takes the trunk's feature maps (``feats[-1]`` is the final, stride-32 map; heads with
``uses_stages`` also get the stride 4/8/16 maps before it) and returns
``ModelOutput(logits (B,C), maps (B,C,h,w))`` from that one pass. Maps are in logit units: a map
pixel is what the classifier would say about that place alone, so thresholds are comparable across
images. Every head is built as ``Head(stage_channels, num_classes, *, drop_rate, **params)`` so any
head sits on any trunk.

Dropout, when asked for, drops feature-map elements before pooling, so the maps stay consistent
with the logits even in training.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models.registry import ModelOutput


def lse_pool(x: torch.Tensor, r: float) -> torch.Tensor:
    """Log-sum-exp pooling over space, (B,K,h,w) -> (B,K) (Wang et al. 2017, ChestX-ray8, eq. 1).

    ``S = (1/r) log(mean(exp(r x)))``: r -> infinity gives max pooling, r -> 0 average pooling.
    Written as ``max + log1p(mean(expm1(r (x - max)))) / r``: shifting by the max keeps exp from
    overflowing for large activations or large r, and expm1/log1p keep small r from cancelling to 0.
    """
    if r <= 0:
        raise ModelError(f"LSE pooling needs r > 0, got {r}")
    flat = x.flatten(2)
    top = flat.amax(dim=2, keepdim=True).detach()  # dS/d(top) = 0, so no gradient is lost
    if torch.onnx.is_in_onnx_export():
        # ONNX has no Expm1: the same shifted sum with exp/log, equal in float32 for the r a model
        # ships with (the export is checked against this function's torch form before it is used).
        return (top + torch.log(torch.exp((flat - top) * r).mean(dim=2, keepdim=True)) / r).squeeze(2)
    return (top + torch.log1p(torch.expm1((flat - top) * r).mean(dim=2, keepdim=True)) / r).squeeze(2)


def linear_map(features: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """Apply a linear classifier at every position: (B,K,h,w) -> (B,C,h,w), ``W·F + b``."""
    maps = torch.einsum("bkhw,ck->bchw", features, linear.weight)
    if linear.bias is not None:
        maps = maps + linear.bias[None, :, None, None]
    return maps


class Head(nn.Module):
    """Base class. ``uses_stages``: whether the head needs the intermediate stage maps too."""

    uses_stages: bool = False

    def __init__(self, num_classes: int, drop_rate: float) -> None:
        super().__init__()
        if num_classes < 1:
            raise ModelError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= drop_rate < 1.0:
            raise ModelError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.num_classes = num_classes
        self.drop = nn.Dropout(drop_rate)

    def forward(self, feats: list[torch.Tensor]) -> ModelOutput:
        raise NotImplementedError


class CAMHead(Head):
    """Global average pooling + linear classifier; CAM = ``W·F + b`` (Zhou et al. 2016, CAM,
    arXiv:1512.04150; as in CheXNet, Rajpurkar et al. 2017, arXiv:1711.05225).

    Because averaging commutes with the affine classifier, the spatial mean of each map equals
    its logit exactly.
    """

    def __init__(self, stage_channels: Sequence[int], num_classes: int, *, drop_rate: float = 0.0) -> None:
        super().__init__(num_classes, drop_rate)
        self.classifier = nn.Linear(stage_channels[-1], num_classes)

    def forward(self, feats: list[torch.Tensor]) -> ModelOutput:
        f = self.drop(feats[-1])
        return ModelOutput(self.classifier(f.mean(dim=(2, 3))), linear_map(f, self.classifier))


class LSEHead(Head):
    """ChestX-ray8 head (Wang et al. 2017, CVPR, arXiv:1705.02315): 1x1 transition layer, LSE
    pooling with sharpness ``lse_r``, prediction layer; heatmap = prediction weights · transition maps + b.
    """

    def __init__(
        self,
        stage_channels: Sequence[int],
        num_classes: int,
        *,
        drop_rate: float = 0.0,
        lse_r: float = 10.0,
        transition_channels: int = 1024,
    ) -> None:
        super().__init__(num_classes, drop_rate)
        if lse_r <= 0:
            raise ModelError(f"lse_r must be > 0, got {lse_r}")
        self.lse_r = float(lse_r)
        self.transition = nn.Conv2d(stage_channels[-1], transition_channels, kernel_size=1)
        self.prediction = nn.Linear(transition_channels, num_classes)

    def forward(self, feats: list[torch.Tensor]) -> ModelOutput:
        t = self.transition(self.drop(feats[-1]))
        return ModelOutput(self.prediction(lse_pool(t, self.lse_r)), linear_map(t, self.prediction))


class MaxPoolHead(Head):
    """1x1 transition layer, global max pooling, fc; maps = fc weights · transition maps + b.

    The ResNet-34 baseline of weakly supervised classification-and-localization comparisons:
    max pooling lets one confident region decide a label.
    """

    def __init__(
        self,
        stage_channels: Sequence[int],
        num_classes: int,
        *,
        drop_rate: float = 0.0,
        transition_channels: int = 512,
    ) -> None:
        super().__init__(num_classes, drop_rate)
        self.transition = nn.Conv2d(stage_channels[-1], transition_channels, kernel_size=1)
        self.fc = nn.Linear(transition_channels, num_classes)

    def forward(self, feats: list[torch.Tensor]) -> ModelOutput:
        t = self.transition(self.drop(feats[-1]))
        return ModelOutput(self.fc(t.amax(dim=(2, 3))), linear_map(t, self.fc))


class SpaceAttentionHead(Head):
    """Global-context head: the trunk map (B,K,h,w) is average-pooled to a context vector, tiled to
    every position and concatenated (B,2K,h,w); a 1x1 conv scores each class at each position, so
    every local score sees the whole image. The score maps are the heatmaps; their mean is the logit.
    """

    def __init__(self, stage_channels: Sequence[int], num_classes: int, *, drop_rate: float = 0.0) -> None:
        super().__init__(num_classes, drop_rate)
        self.score = nn.Conv2d(2 * stage_channels[-1], num_classes, kernel_size=1)

    def forward(self, feats: list[torch.Tensor]) -> ModelOutput:
        f = self.drop(feats[-1])
        context = f.mean(dim=(2, 3), keepdim=True).expand_as(f)
        maps = self.score(torch.cat([f, context], dim=1))
        return ModelOutput(maps.mean(dim=(2, 3)), maps)


class AttentionGate(nn.Module):
    """Additive attention gate (Schlemper et al. 2019, Medical Image Analysis 53:197-207,
    arXiv:1808.08114): ``c = psi^T ReLU(W_f f + W_g g + b_g) + b_psi`` with the gating signal g
    (the final feature map) projected and bilinearly upsampled to the gate's grid.

    ``attention="sigmoid"`` (default) lets several regions light up at once, which suits multi-label
    chest films; ``"softmax"`` normalises over space as in the paper's AG-Sononet.
    """

    def __init__(self, in_channels: int, gating_channels: int, inter_channels: int, attention: str) -> None:
        super().__init__()
        if attention not in ("sigmoid", "softmax"):
            raise ModelError(f"attention must be 'sigmoid' or 'softmax', got {attention!r}")
        self.attention = attention
        self.theta = nn.Conv2d(in_channels, inter_channels, kernel_size=1, bias=False)  # W_f
        self.phi = nn.Conv2d(gating_channels, inter_channels, kernel_size=1)  # W_g, b_g
        self.psi = nn.Conv2d(inter_channels, 1, kernel_size=1)  # psi, b_psi

    def forward(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Attention (B,1,h,w) on ``f``'s grid."""
        gating = F.interpolate(self.phi(g), size=f.shape[-2:], mode="bilinear", align_corners=False)
        c = self.psi(F.relu(self.theta(f) + gating))
        if self.attention == "sigmoid":
            return torch.sigmoid(c)
        return torch.softmax(c.flatten(2), dim=2).view_as(c)


class AttentionGatedHead(Head):
    """Attention gates after trunk stages 2 and 3 (strides 8 and 16), gated by the final map.

    Each gate's attended features are pooled (the attention-weighted mean over its grid for sigmoid
    attention, the attention-weighted sum for softmax, which sums to one) and concatenated with the
    globally average-pooled final map into ONE linear classifier.

    Maps: the classifier is linear, so each logit splits exactly into a per-position score of each
    part: ``W_2·(a_2 f_2)``, ``W_3·(a_3 f_3)`` and ``W_final·F`` (times the grid size for softmax).
    The class-agnostic gate attention thus enters every class's map through that class's weights.
    The three part maps are brought to the stage-2 grid by nearest-neighbour upsampling and summed
    with the bias; when the input side is a multiple of 32, their spatial mean equals the logit.
    """

    uses_stages = True
    gated_stages = (1, 2)  # indices into the trunk's stages: strides 8 and 16

    def __init__(
        self,
        stage_channels: Sequence[int],
        num_classes: int,
        *,
        drop_rate: float = 0.0,
        attention: str = "sigmoid",
        inter_channels: int | None = None,
    ) -> None:
        super().__init__(num_classes, drop_rate)
        final = stage_channels[-1]
        self.gates = nn.ModuleList(
            AttentionGate(stage_channels[i], final, inter_channels or max(8, stage_channels[i] // 2), attention)
            for i in self.gated_stages
        )
        self._splits = [stage_channels[i] for i in self.gated_stages] + [final]
        self.classifier = nn.Linear(sum(self._splits), num_classes)

    def forward(self, feats: list[torch.Tensor]) -> ModelOutput:
        final = self.drop(feats[-1])
        parts: list[torch.Tensor] = []  # per-position features whose spatial mean is pooled
        for gate, i in zip(self.gates, self.gated_stages):
            f = self.drop(feats[i])
            a = gate(f, feats[-1])
            scale = f.shape[2] * f.shape[3] if gate.attention == "softmax" else 1
            parts.append(a * f * scale)
        parts.append(final)
        logits = self.classifier(torch.cat([p.mean(dim=(2, 3)) for p in parts], dim=1))
        grid = parts[0].shape[-2:]
        maps = self.classifier.bias[None, :, None, None].expand(final.shape[0], -1, *grid)
        for weight, part in zip(self.classifier.weight.split(self._splits, dim=1), parts):
            part_map = torch.einsum("bkhw,ck->bchw", part, weight)
            maps = maps + F.interpolate(part_map, size=grid, mode="nearest")
        return ModelOutput(logits, maps)
