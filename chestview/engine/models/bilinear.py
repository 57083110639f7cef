"""Fine-grained bilinear network for the multi-label softmax loss (Ge et al. 2018, arXiv:1807.07247).

Ge et al. treat chest X-ray classification as a fine-grained problem (visually similar findings)
and encode the trunk's features by bilinear pooling (Lin et al. 2015, Bilinear CNN models for
fine-grained visual recognition, ICCV, arXiv:1504.07889): the spatial mean of the outer product of
two feature maps, then signed square root and L2 normalisation, then a linear classifier, trained
with their multi-label softmax loss (``get_loss("msml")`` in :mod:`chestview.engine.train.losses`).

Here the two maps are 1x1 projections of ONE trunk's final map (the paper also pairs two trunks),
which keeps the bilinear vector small (``proj_dim**2``, 4096 by default) and trainable on a CPU.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models.heads import Head
from chestview.engine.models.registry import ModelOutput, register_model
from chestview.engine.models.trunks import Trunk, build_trunk

_EPS = 1.0e-8
# The signed-sqrt smoothing: caps its slope at 0 (1/sqrt(eps) ~ 300) so dead channels stay trainable.
_SQRT_EPS = 1.0e-5


class BilinearHead(Head):
    """Bilinear pooling + signed sqrt + L2 norm + linear classifier, with exact per-position maps.

    With ``a_j``, ``b_j`` the projected features at position j, the pooled vector is
    ``z = mean_j a_j b_j^T`` and the logit ``W_c · n(z) + b_c`` where
    ``n(z) = r / ||r||`` with ``r = z / sqrt(|z| + eps)`` (a smooth signed square root, then L2).
    ``n(z) = z ⊙ s`` with the per-image scale ``s = 1 / (sqrt(|z| + eps) ||r||)``, so the logit
    splits exactly over positions: ``map_c(j) = a_j^T (W_c ⊙ s) b_j + b_c``, the classifier applied
    position-wise to that position's outer product under the image's normalisation. The spatial mean
    of each map equals its logit, as with CAM.
    """

    def __init__(
        self,
        stage_channels: Sequence[int],
        num_classes: int,
        *,
        drop_rate: float = 0.0,
        proj_dim: int = 64,
    ) -> None:
        super().__init__(num_classes, drop_rate)
        if proj_dim < 1:
            raise ModelError(f"proj_dim must be >= 1, got {proj_dim}")
        k = stage_channels[-1]
        self.proj_dim = proj_dim
        # Two different projections: a symmetric outer product a a^T would waste half the vector.
        self.proj_a = nn.Sequential(nn.Conv2d(k, proj_dim, 1, bias=False), nn.BatchNorm2d(proj_dim), nn.ReLU())
        self.proj_b = nn.Sequential(nn.Conv2d(k, proj_dim, 1, bias=False), nn.BatchNorm2d(proj_dim), nn.ReLU())
        self.classifier = nn.Linear(proj_dim * proj_dim, num_classes)

    def forward(self, feats: list[torch.Tensor]) -> ModelOutput:
        f = self.drop(feats[-1])
        a = self.proj_a(f).flatten(2).float()  # (B,P,N)
        b = self.proj_b(f).flatten(2).float()
        n = a.shape[2]
        z = torch.einsum("bpn,bqn->bpq", a, b) / n
        root = z / torch.sqrt(z.abs() + _SQRT_EPS)  # signed sqrt; smooth at 0
        scale = 1.0 / (torch.sqrt(z.abs() + _SQRT_EPS) * root.flatten(1).norm(dim=1).clamp_min(_EPS)[:, None, None])
        w = self.classifier.weight.float().view(-1, self.proj_dim, self.proj_dim)
        bias = self.classifier.bias.float()
        logits = torch.einsum("bpq,cpq->bc", z * scale, w) + bias
        maps = torch.einsum("bpn,bcpq,bqn->bcn", a, w[None] * scale[:, None], b) + bias[None, :, None]
        h, wd = feats[-1].shape[-2:]
        dtype = feats[-1].dtype
        return ModelOutput(logits.to(dtype), maps.view(maps.shape[0], -1, h, wd).to(dtype))


class BilinearNet(nn.Module):
    """``trunk`` -> :class:`BilinearHead`; ``.trunk``/``.head`` so training can freeze the trunk."""

    def __init__(self, trunk: Trunk, head: BilinearHead) -> None:
        super().__init__()
        self.arch = "bilinear_msml"
        self.trunk = trunk
        self.head = head
        self.num_classes = head.num_classes

    def forward(self, x: torch.Tensor) -> ModelOutput:
        return self.head([self.trunk(x)])


@register_model(
    "bilinear_msml",
    title="Bilinear network with the MSML loss",
    description="Fine-grained bilinear pooling (signed sqrt + L2) + linear classifier, for the MSML loss",
    paper="Ge et al. 2018, Chest X-rays Classification: A Multi-Label and Fine-Grained Problem, arXiv:1807.07247",
)
def bilinear_msml(
    *,
    num_classes: int,
    in_chans: int = 3,
    trunk: str = "resnet50",
    pretrained_trunk: bool = False,
    drop_rate: float = 0.0,
    proj_dim: int = 64,
) -> BilinearNet:
    """``proj_dim``: width of each projected map (bilinear vector ``proj_dim**2``). Train with ``--loss msml``."""
    body = build_trunk(trunk, in_chans=in_chans, pretrained=pretrained_trunk)
    return BilinearNet(body, BilinearHead(body.stage_channels, num_classes, drop_rate=drop_rate, proj_dim=proj_dim))

