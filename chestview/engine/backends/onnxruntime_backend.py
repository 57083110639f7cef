"""ONNX Runtime on the CPU, float32: the exported graph, checked against torch before first use."""

from __future__ import annotations

import threading

import numpy as np
import torch

from chestview.engine.backends.base import BackendUnavailable, Outputs
from chestview.engine.backends.export import checked, ensure_onnx
from chestview.engine.zoo.store import LoadedModel


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, loaded: LoadedModel, threads: int, *, shipped: bool = True) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailable("onnxruntime is not installed (pip install onnxruntime)") from None
        path = ensure_onnx(loaded, shipped=shipped)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BackendUnavailable(f"{loaded.card.id}: onnxruntime cannot load the export ({str(exc)[:160]})") from None
        outputs = {o.name for o in self.session.get_outputs()}
        self._names = ["logits", "maps"] + (["features"] if "features" in outputs else [])
        self._lock = threading.Lock()
        self.check = checked(loaded, self.name, ort.__version__, self.run_with_features, path)

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, maps, _ = self.run_with_features(x)
        return logits, maps

    def run_with_features(self, x: torch.Tensor) -> Outputs:
        feed = {"x": np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)}
        with self._lock:
            logits, maps, *features = self.session.run(self._names, feed)
        return torch.from_numpy(logits), torch.from_numpy(maps), (torch.from_numpy(features[0]) if features else None)
