"""The reference backend: the PyTorch module itself (CPU, CUDA with fp16 autocast, MPS).

channels_last on the CPU and on CUDA: the convolutions of the bundled trunks run ~1.4x faster in
that layout on the CPU (measured with ``chestview bench``), and the results are the same maths.
Models without native maps get Grad-CAM here, which needs gradients and so only torch can do.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from chestview.engine.backends.base import Outputs
from chestview.engine.gate.features import pooled_features
from chestview.engine.models.gradcam import gradcam


class TorchBackend:
    name = "torch"

    def __init__(self, module: nn.Module, device: torch.device, *, channels_last: bool = True) -> None:
        self.device = device
        self.channels_last = channels_last and device.type in ("cpu", "cuda")
        self.model = module.to(device).eval()
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, maps, _ = self._run(x)
        return logits, maps

    def run_with_features(self, x: torch.Tensor) -> Outputs:
        with pooled_features(self.model) as feats:
            logits, maps, _ = self._run(x)
        return logits, maps, (feats[0] if feats else None)

    def _run(self, x: torch.Tensor) -> Outputs:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        autocast = (
            torch.autocast("cuda", dtype=torch.float16) if self.device.type == "cuda" else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            out = self.model(x)
        maps = out.maps
        if maps is None:
            maps = gradcam(self.model, x)
        return out.logits.float().cpu(), maps.float().cpu().contiguous(), None
