"""Choosing and opening a backend for a model and a device, with a clean fall back to torch.

The top of the backends package, and the one place that decides: which backend (``auto``: the first
installed of ``CPU_PREFERENCE`` on the CPU, torch elsewhere), at which precision, and, for a CPU
runtime, which graph it runs (:func:`open_exported`: the entry's shipped graph, else an export into
the cache when there is none or the runtime cannot run it) and that it passed its check once.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass

import torch

from chestview.engine.backends import CHOICES, CPU_PREFERENCE
from chestview.engine.backends.base import Backend, BackendUnavailable
from chestview.engine.backends.graph import GraphSource, check_runtime, resolve_graph
from chestview.engine.backends.onnxruntime_backend import OnnxRuntimeBackend
from chestview.engine.backends.onnxruntime_backend import require as require_onnxruntime
from chestview.engine.backends.openvino_backend import OpenVinoBackend
from chestview.engine.backends.openvino_backend import require as require_openvino
from chestview.engine.backends.precision import EXACT, refusal, validate_precision
from chestview.engine.backends.torch_backend import TorchBackend
from chestview.engine.errors import ChestviewError
from chestview.engine.zoo.store import LoadedModel

log = logging.getLogger(__name__)

_MODULES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}


@dataclass(frozen=True)
class OpenedBackend:
    backend: Backend
    requested: str
    note: str | None = None  # why the backend in use is not the one asked for
    warn: bool = False  # the note reports a failure (True) or a known limit (False)
    precision: str = EXACT  # what the backend runs at: f32, or a reduced precision the card proved

    @property
    def name(self) -> str:
        return self.backend.name


def installed(name: str) -> bool:
    if name == "torch":
        return True
    return name in _MODULES and importlib.util.find_spec(_MODULES[name]) is not None


def default_backend(device: torch.device) -> str:
    """What ``auto`` tries first on ``device``: the first installed of CPU_PREFERENCE, or torch."""
    if device.type != "cpu":
        return "torch"
    return next((b for b in CPU_PREFERENCE if installed(b)), "torch")


def _open_checked(name: str, source: GraphSource, precision: str) -> Backend:
    """The runtime ``name`` on ``source``'s graph, once its float32 outputs passed the check."""
    threads = torch.get_num_threads()
    model_id = source.loaded.card.id
    if name == "onnxruntime":
        backend: OnnxRuntimeBackend | OpenVinoBackend = OnnxRuntimeBackend(source.path, threads, model_id)
    else:
        backend = OpenVinoBackend(source.path, threads, model_id, precision)
    backend.check = check_runtime(source, backend.runtime, backend.version, backend.exact_runner)
    return backend


def open_exported(name: str, loaded: LoadedModel, precision: str = EXACT) -> Backend:
    """The CPU runtime ``name`` ("onnxruntime" or "openvino") on the model's graph, checked against torch.

    The zoo entry's shipped graph first; if a runtime cannot open it or it fails its check, an export
    of the module into the user cache (checked in turn). Raises BackendUnavailable, ``expected`` for
    a limit of the model (it keeps torch)."""
    (require_onnxruntime if name == "onnxruntime" else require_openvino)()  # no export for a runtime not here
    source = resolve_graph(loaded)
    try:
        return _open_checked(name, source, precision)
    except BackendUnavailable as exc:
        if exc.expected or not source.shipped:
            raise
        log.warning("%s; exporting the model instead of using its shipped graph", exc)
    return _open_checked(name, resolve_graph(loaded, shipped=False), precision)


def open_reduced(loaded: LoadedModel, device: torch.device, name: str, precision: str) -> OpenedBackend:
    """OpenVINO at ``precision``, when the card proves it (:func:`precision.refusal`); else the exact
    backend ``open_backend(name)`` gives, with a warning that says why."""
    why: str | None = None
    if name not in ("auto", "openvino"):
        why = f"{precision} runs on OpenVINO only, not {name}"
    elif device.type != "cpu":
        why = f"{precision} runs on the CPU only, not {device}"
    elif not installed("openvino"):
        why = f"{precision} needs openvino (pip install openvino)"
    else:
        why = refusal(loaded.card, precision)
    if why is None:
        try:
            return OpenedBackend(open_exported("openvino", loaded, precision), name, precision=precision)
        except BackendUnavailable as exc:
            why = str(exc)
    exact = open_backend(loaded, device, name)
    note = f"{why}; using {EXACT}" + (f" ({exact.note})" if exact.note else "")
    return OpenedBackend(exact.backend, name, note, True)


def open_backend(loaded: LoadedModel, device: torch.device, name: str = "auto", precision: str = EXACT) -> OpenedBackend:
    if name not in CHOICES:
        raise ChestviewError(f"unknown backend {name!r} ({', '.join(CHOICES)})")
    if validate_precision(precision) != EXACT:
        return open_reduced(loaded, device, name, precision)
    torch_backend = lambda: TorchBackend(loaded.module, device)  # noqa: E731 - built only when needed
    if name == "torch" or (name == "auto" and device.type != "cpu"):
        return OpenedBackend(torch_backend(), name)
    if device.type != "cpu":
        return OpenedBackend(torch_backend(), name, f"{name} runs on the CPU only; using torch on {device}", True)
    candidates = [b for b in CPU_PREFERENCE if installed(b)] if name == "auto" else [name]
    if not candidates:
        return OpenedBackend(torch_backend(), name, "no ONNX runtime installed (pip install openvino)", False)
    note, warn = None, False
    for candidate in candidates:
        try:
            return OpenedBackend(open_exported(candidate, loaded), name)
        except BackendUnavailable as exc:
            log.info("%s", exc)
            note, warn = f"{exc}; using torch", not exc.expected
            if exc.expected:  # a limit of the model, the same for every exported backend
                break
    return OpenedBackend(torch_backend(), name, note, warn)
