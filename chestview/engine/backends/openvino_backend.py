"""OpenVINO on the CPU on one ONNX graph file (which graph, and its check against torch, are decided
above it: :mod:`.graph`, :mod:`.select`).

Float32 inference precision by default (never OpenVINO's own default of bf16/fp16 on capable CPUs,
which moves probabilities by ~0.07). ``precision="bf16"`` is the opt-in reduced precision: it cannot
pass the parity check, so :func:`chestview.engine.backends.select.open_backend` allows it only for a
model whose card proves it (:mod:`chestview.engine.backends.precision`); the graph it runs is still
checked, at float32 (:attr:`OpenVinoBackend.exact_runner`), against torch.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from chestview.engine.backends.base import BackendUnavailable, Outputs, ParityCheck, Runner
from chestview.engine.backends.precision import EXACT, OV_HINT, validate_precision


def _import_openvino():
    try:
        import openvino  # deferred: an optional dependency, and seconds off the app's start when unused
    except ImportError:
        raise BackendUnavailable("openvino is not installed (pip install openvino)") from None
    return openvino


def require() -> None:
    """Raise BackendUnavailable when OpenVINO cannot be imported here."""
    _import_openvino()


class _Compiled:
    """One compiled model and its infer request (the request reuses buffers: one call at a time)."""

    def __init__(self, core, path: str, hint: str, threads: int) -> None:
        config = {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": max(1, threads),
                  "PERFORMANCE_HINT": "LATENCY"}
        self.compiled = core.compile_model(path, "CPU", config)
        self.request = self.compiled.create_infer_request()
        self._logits, self._maps = self.compiled.output("logits"), self.compiled.output("maps")
        names = {name for port in self.compiled.outputs for name in port.get_names()}
        self._features = self.compiled.output("features") if "features" in names else None
        self._lock = threading.Lock()

    def run_with_features(self, x: torch.Tensor) -> Outputs:
        feed = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        with self._lock:
            out = self.request.infer({0: feed})
            # The request reuses its output buffers on the next call: copy them out.
            logits, maps = np.array(out[self._logits]), np.array(out[self._maps])
            features = np.array(out[self._features]) if self._features is not None else None
        return (torch.from_numpy(logits), torch.from_numpy(maps),
                torch.from_numpy(features) if features is not None else None)


class OpenVinoBackend:
    runtime = "openvino"  # what its parity check is recorded under, whatever the precision
    check: ParityCheck | None = None  # set once the float32 check against torch passed (select.open_exported)

    def __init__(self, graph: Path, threads: int, model_id: str, precision: str = EXACT) -> None:
        ov = _import_openvino()
        self.version = ov.get_version()
        self.precision = validate_precision(precision)
        # Reports and bench rows name the precision when it is not the exact one.
        self.name = "openvino" if precision == EXACT else f"openvino-{precision}"
        path = str(graph)
        core = ov.Core()

        def compile_(hint: str) -> _Compiled:
            try:
                return _Compiled(core, path, hint, threads)
            except Exception as exc:
                raise BackendUnavailable(f"{model_id}: openvino cannot compile the export at {hint} "
                                         f"({str(exc)[:160]})") from None

        self._compile = compile_
        self._compiled = compile_(OV_HINT[precision])

    @property
    def exact_runner(self) -> Runner:
        """What the float32 check against torch runs: this compiled model, or for a reduced precision a
        float32 one compiled on the first call (the check is cached per graph and version, so only
        when it has not run yet)."""
        if self.precision == EXACT:
            return self._compiled.run_with_features
        return lambda x: self._compile(OV_HINT[EXACT]).run_with_features(x)

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, maps, _ = self.run_with_features(x)
        return logits, maps

    def run_with_features(self, x: torch.Tensor) -> Outputs:
        return self._compiled.run_with_features(x)
