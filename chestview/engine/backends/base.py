"""What every inference backend offers, and the check that an exported model matches torch.

A backend turns a preprocessed batch (B, C, S, S) into logits (B, L) and class activation maps
(B, L, h, w), float32 torch tensors on the CPU, and, from the same pass, the pooled trunk features
(B, K) that the input gate measures (None for a model without a trunk). The sigmoid (and any
calibration) stays in the Predictor, so every backend gets it identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch

from chestview.engine.errors import ChestviewError

# An exported backend is used only if, on the fixed check input, its probabilities are within
# PROB_TOL of torch's and its maps within MAP_TOL of the torch maps' range (maps are min-max
# normalised to 0..255 per label, so MAP_TOL * range is at most a quarter of one heatmap level).
PROB_TOL = 1e-4
MAP_TOL = 1e-3


Outputs = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]


class Backend(Protocol):
    name: str

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B, L), maps (B, L, h, w)), float32 on the CPU."""
        ...

    def run_with_features(self, x: torch.Tensor) -> Outputs:
        """As :meth:`run`, plus the pooled trunk features (B, K) of the same pass, or None."""
        ...


class BackendUnavailable(ChestviewError):
    """This backend cannot run this model here; ``expected`` marks a known limit, not a failure."""

    def __init__(self, message: str, *, expected: bool = False) -> None:
        super().__init__(message)
        self.expected = expected


@dataclass(frozen=True)
class ParityCheck:
    """How far a backend is from torch on the fixed check input."""

    max_abs_prob_delta: float
    max_abs_map_delta: float
    map_range: float
    # Pooled trunk features (the input gate's evidence), relative to their largest magnitude;
    # 0.0 when neither side has them.
    max_rel_feature_delta: float = 0.0

    @property
    def passed(self) -> bool:
        return (self.max_abs_prob_delta <= PROB_TOL and self.max_abs_map_delta <= MAP_TOL * max(self.map_range, 1.0)
                and self.max_rel_feature_delta <= MAP_TOL)


def check_input(channels: int, size: int, batch: int = 2) -> torch.Tensor:
    """The fixed check input: seeded noise in the range of a normalised image, the same everywhere."""
    g = torch.Generator().manual_seed(20171117)
    return torch.randn(batch, channels, size, size, generator=g).clamp_(-3.0, 3.0)


def _feature_delta(reference: torch.Tensor | None, candidate: torch.Tensor | None) -> float:
    if reference is None and candidate is None:
        return 0.0
    if reference is None or candidate is None or tuple(reference.shape) != tuple(candidate.shape):
        return float("inf")
    scale = max(reference.abs().max().item(), 1e-6)
    d = (candidate.double() - reference.double()).abs().max().item() / scale
    return float(np.nan_to_num(d, nan=np.inf))


def parity(reference: tuple, candidate: tuple) -> ParityCheck:
    """How far ``candidate`` is from ``reference``: each (logits, maps) or (logits, maps, features)."""
    ref_logits, ref_maps, *ref_rest = reference
    logits, maps, *rest = candidate
    if tuple(maps.shape) != tuple(ref_maps.shape) or tuple(logits.shape) != tuple(ref_logits.shape):
        return ParityCheck(float("inf"), float("inf"), 0.0)
    dp = (torch.sigmoid(logits.double()) - torch.sigmoid(ref_logits.double())).abs().max().item()
    dm = (maps.double() - ref_maps.double()).abs().max().item()
    span = (ref_maps.amax(dim=(-2, -1)) - ref_maps.amin(dim=(-2, -1))).max().item()
    df = _feature_delta(ref_rest[0] if ref_rest else None, rest[0] if rest else None) if (ref_rest or rest) else 0.0
    return ParityCheck(float(np.nan_to_num(dp, nan=np.inf)), float(np.nan_to_num(dm, nan=np.inf)), float(span), df)


Runner = Callable[[torch.Tensor], Outputs]
