"""Mild augmentation for radiographs: small rotation, scale and shift, brightness / contrast.

No horizontal flip by default: situs matters (the heart sits on the patient's left), so a flipped
chest is not a plausible chest. The same geometric transform is applied to the box masks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF


@dataclass(frozen=True)
class AugmentConfig:
    max_rotation_deg: float = 7.0
    max_scale: float = 0.10  # zoom in [1 - s, 1 + s]
    max_translate: float = 0.05  # fraction of the side
    brightness: float = 0.10  # multiplicative, in [1 - b, 1 + b]
    contrast: float = 0.10  # around the image mean, in [1 - c, 1 + c]
    hflip: bool = False

    def scaled(self, strength: float) -> "AugmentConfig":
        """Every range times ``strength`` (2: up to 14 degrees, 20 % zoom, 10 % shift, 20 % brightness
        and contrast): still a plausible chest film, far more variety for a few hundred images."""
        k = float(strength)
        return AugmentConfig(self.max_rotation_deg * k, self.max_scale * k, self.max_translate * k,
                             self.brightness * k, self.contrast * k, self.hflip)


@dataclass(frozen=True)
class AugmentParams:
    angle: float
    scale: float
    translate: tuple[int, int]
    brightness: float
    contrast: float
    flip: bool


def _uniform(gen: torch.Generator, half_width: float) -> float:
    return float((torch.rand((), generator=gen) * 2.0 - 1.0) * half_width)


def sample_params(gen: torch.Generator, size: int, cfg: AugmentConfig = AugmentConfig()) -> AugmentParams:
    shift = cfg.max_translate * size
    return AugmentParams(
        angle=_uniform(gen, cfg.max_rotation_deg),
        scale=1.0 + _uniform(gen, cfg.max_scale),
        translate=(round(_uniform(gen, shift)), round(_uniform(gen, shift))),
        brightness=1.0 + _uniform(gen, cfg.brightness),
        contrast=1.0 + _uniform(gen, cfg.contrast),
        flip=bool(cfg.hflip and torch.rand((), generator=gen) < 0.5),
    )


def _geometry(x: torch.Tensor, p: AugmentParams, interpolation: InterpolationMode) -> torch.Tensor:
    x = TF.affine(x, angle=p.angle, translate=list(p.translate), scale=p.scale, shear=[0.0, 0.0],
                  interpolation=interpolation, fill=0)
    return TF.horizontal_flip(x) if p.flip else x


def apply_augment(gray: torch.Tensor, box_mask: torch.Tensor | None, p: AugmentParams) -> tuple[torch.Tensor, torch.Tensor | None]:
    """gray: (1, S, S) float in [0, 1]; box_mask: (C, S, S) uint8 or None (skipped: nothing to move)."""
    out = _geometry(gray, p, InterpolationMode.BILINEAR)
    mean = out.mean()
    out = ((out - mean) * p.contrast + mean) * p.brightness
    out = out.clamp_(0.0, 1.0)
    if box_mask is not None:
        box_mask = _geometry(box_mask, p, InterpolationMode.NEAREST)
    return out, box_mask
