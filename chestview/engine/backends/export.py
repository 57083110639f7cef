"""Exporting a zoo model's torch module to ONNX, and what that export must reproduce.

This module owns the export itself (:func:`export_graph`: which outputs, which opset), whether a
model can be exported at all (:func:`exportable`), torch's reference outputs (:func:`torch_reference`)
and the export into the user cache (:func:`cached_export`, :func:`cache_dir`). It does not decide
which graph a runtime opens: that is :mod:`.graph`'s, above this module and :mod:`.packaged`.

The cache entry is keyed by the weights' SHA-256 and the input size (the same file serves every
ONNX runtime); each runtime's check against torch is recorded beside it (:mod:`.graph`). Nothing is
written into the zoo: retrained weights get a new SHA-256, hence a new entry. Writes are atomic, so
two processes exporting at once (sharded prediction) both end with a complete file.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from chestview.engine.backends.base import BackendUnavailable, check_input
from chestview.engine.gate.features import feature_layer, pooled_features
from chestview.engine.paths import user_cache_dir
from chestview.engine.util import atomic_write_bytes, native_output_captured
from chestview.engine.zoo.store import LoadedModel

log = logging.getLogger(__name__)
OPSET = 17

# Architectures whose maps an export cannot capture exactly: they keep torch, which is not an error.
TORCH_ONLY = {
    "alstm_mlc": "its maps come from a greedy label-decoding loop that a static graph cannot follow",
}


# The graph's outputs; bumped when they change, so an older export in a user's cache is not reused.
EXPORT_FORMAT = 2  # 2: the pooled trunk features as a third output (the input gate's evidence)


class _Outputs(nn.Module):
    """The model with a plain (logits, maps[, features]) tuple as output, which is what ONNX can
    name. ``features`` is the trunk's final map, global-average pooled: what the input gate measures
    (:mod:`chestview.engine.gate.features`), so a graph backend gates images as torch does."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.feature_layer = feature_layer(model)

    @property
    def output_names(self) -> list[str]:
        return ["logits", "maps"] + (["features"] if self.feature_layer is not None else [])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.feature_layer is None:
            out = self.model(x)
            return out.logits, out.maps
        with pooled_features(self.model) as feats:
            out = self.model(x)
        return out.logits, out.maps, feats[0]


@contextlib.contextmanager
def _attention_fast_path(enabled: bool) -> Iterator[None]:
    """nn.MultiheadAttention's fused inference kernel has no ONNX form; its plain path exports
    (and computes the same attention): off during an export (ctranscnn's Transformer branch)."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(enabled)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


def cache_dir(loaded: LoadedModel) -> Path:
    size = loaded.card.preprocessing.size
    return user_cache_dir() / "backends" / f"{loaded.card.sha256[:16]}-{size}px-v{EXPORT_FORMAT}"


def exportable(loaded: LoadedModel) -> None:
    """Raise BackendUnavailable (expected) when the model must stay on torch."""
    arch = loaded.card.architecture
    if arch in TORCH_ONLY:
        raise BackendUnavailable(f"{loaded.card.id} keeps torch: {TORCH_ONLY[arch]}", expected=True)
    if not loaded.card.sha256:
        raise BackendUnavailable(f"{loaded.card.id} keeps torch: its card has no weights SHA-256 to key an export on")


def reference_module(loaded: LoadedModel) -> nn.Module:
    """A float32 CPU copy of the model in eval mode: the export source and the check's reference."""
    module = loaded.module
    on_cpu = all(p.device.type == "cpu" for p in module.parameters())
    module = module if on_cpu else copy.deepcopy(module).cpu()
    return module.float().eval()


def torch_reference(loaded: LoadedModel, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(logits, maps[, features]) of the float32 torch module: what an export must reproduce."""
    module = reference_module(loaded)
    with torch.inference_mode(), pooled_features(module) as feats:
        out = module(x)
    if out.maps is None:
        raise BackendUnavailable(f"{loaded.card.id} keeps torch: its maps are Grad-CAM, which needs gradients", expected=True)
    if feature_layer(module) is None:
        return out.logits.float(), out.maps.float()
    return out.logits.float(), out.maps.float(), feats[0]


def export_graph(loaded: LoadedModel, *, fold_constants: bool = True) -> bytes:
    """The model as an ONNX graph with (logits, maps[, features]) outputs, batch size free.

    ``fold_constants=False`` keeps every parameter an initializer named as in the state dict
    (batch norms unfolded), which is what lets a shipped graph read them from the weights file.
    """
    exportable(loaded)
    if importlib.util.find_spec("onnx") is None:  # torch's exporter writes the file with it
        raise BackendUnavailable(f"{loaded.card.id}: the ONNX export needs the onnx package (pip install onnx)")
    pre = loaded.card.preprocessing
    x = check_input(pre.channels, pre.size)
    wrapped = _Outputs(reference_module(loaded)).eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), _attention_fast_path(False), \
                native_output_captured() as exporter_output:
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped, (x,), buf, input_names=["x"], output_names=wrapped.output_names,
                dynamic_axes={name: {0: "batch"} for name in ["x", *wrapped.output_names]},
                opset_version=OPSET, dynamo=False, do_constant_folding=fold_constants,
            )
    except Exception as exc:  # an exporter limit is the model's, not the user's, problem: fall back
        log.debug("ONNX exporter output for %s:\n%s", loaded.card.id, exporter_output())
        raise BackendUnavailable(f"{loaded.card.id}: ONNX export failed ({type(exc).__name__}: {str(exc)[:160]})") from None
    return buf.getvalue()


def cached_export(loaded: LoadedModel) -> Path:
    """The model's export in the user cache, exported now if it is not there yet."""
    exportable(loaded)
    path = cache_dir(loaded) / "model.onnx"
    if path.is_file():
        return path
    log.info("exporting %s to ONNX (once) into %s", loaded.card.id, path.parent)
    try:
        atomic_write_bytes(path, export_graph(loaded))
    except OSError as exc:  # an unwritable cache folder: torch runs the model instead
        raise BackendUnavailable(f"{loaded.card.id}: cannot write the ONNX export into {path.parent} "
                                 f"({exc.strerror or exc})") from None
    return path
