"""ONNX Runtime on the CPU, float32, on one ONNX graph file.

A runtime only: which graph it opens and the check it must pass before use are decided above it
(:mod:`.graph`, :mod:`.select`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from chestview.engine.backends.base import BackendUnavailable, Outputs, ParityCheck, Runner


def _import_onnxruntime():
    try:
        import onnxruntime  # deferred: an optional dependency, and seconds off the app's start when unused
    except ImportError:
        raise BackendUnavailable("onnxruntime is not installed (pip install onnxruntime)") from None
    return onnxruntime


def require() -> None:
    """Raise BackendUnavailable when ONNX Runtime cannot be imported here."""
    _import_onnxruntime()


class OnnxRuntimeBackend:
    name = "onnxruntime"
    runtime = "onnxruntime"  # what its parity check is recorded under
    check: ParityCheck | None = None  # set once the check against torch passed (select.open_exported)

    def __init__(self, graph: Path, threads: int, model_id: str) -> None:
        ort = _import_onnxruntime()
        self.version = ort.__version__
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BackendUnavailable(f"{model_id}: onnxruntime cannot load the export ({str(exc)[:160]})") from None
        outputs = {o.name for o in self.session.get_outputs()}
        self._names = ["logits", "maps"] + (["features"] if "features" in outputs else [])
        self._lock = threading.Lock()

    @property
    def exact_runner(self) -> Runner:
        """What the float32 check against torch runs: this session (always float32)."""
        return self.run_with_features

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, maps, _ = self.run_with_features(x)
        return logits, maps

    def run_with_features(self, x: torch.Tensor) -> Outputs:
        feed = {"x": np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)}
        with self._lock:
            logits, maps, *features = self.session.run(self._names, feed)
        return torch.from_numpy(logits), torch.from_numpy(maps), (torch.from_numpy(features[0]) if features else None)
