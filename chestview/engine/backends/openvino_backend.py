"""OpenVINO on the CPU with float32 inference precision (never its default bf16/fp16 on capable
CPUs, which moves probabilities by ~0.07): the exported ONNX graph, checked against torch."""

from __future__ import annotations

import threading

import numpy as np
import torch

from chestview.engine.backends.base import BackendUnavailable, Outputs
from chestview.engine.backends.export import checked, ensure_onnx
from chestview.engine.zoo.store import LoadedModel


class OpenVinoBackend:
    name = "openvino"

    def __init__(self, loaded: LoadedModel, threads: int) -> None:
        try:
            import openvino as ov
        except ImportError:
            raise BackendUnavailable("openvino is not installed (pip install openvino)") from None
        path = ensure_onnx(loaded)
        config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": max(1, threads),
                  "PERFORMANCE_HINT": "LATENCY"}
        try:
            self.compiled = ov.Core().compile_model(str(path), "CPU", config)
        except Exception as exc:
            raise BackendUnavailable(f"{loaded.card.id}: openvino cannot compile the export ({str(exc)[:160]})") from None
        self.request = self.compiled.create_infer_request()
        self._logits, self._maps = self.compiled.output("logits"), self.compiled.output("maps")
        names = {name for port in self.compiled.outputs for name in port.get_names()}
        self._features = self.compiled.output("features") if "features" in names else None
        self._lock = threading.Lock()
        self.check = checked(loaded, self.name, ov.get_version(), self.run_with_features)

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, maps, _ = self.run_with_features(x)
        return logits, maps

    def run_with_features(self, x: torch.Tensor) -> Outputs:
        feed = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        with self._lock:
            out = self.request.infer({0: feed})
            # The request reuses its output buffers on the next call: copy them out.
            logits, maps = np.array(out[self._logits]), np.array(out[self._maps])
            features = np.array(out[self._features]) if self._features is not None else None
        return (torch.from_numpy(logits), torch.from_numpy(maps),
                torch.from_numpy(features) if features is not None else None)
