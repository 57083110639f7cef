"""Which ONNX graph a CPU runtime opens, and the one check it passes before it is used.

The way from a model to a runtime runs one way through the backends package:

    export (the module as ONNX)  ->  packaged (the graph an entry ships)  ->  graph (this module)
        ->  onnxruntime_backend / openvino_backend (a runtime on a graph file)  ->  select

This module owns the decision in between. :func:`resolve_graph` gives a :class:`GraphSource`: the
entry's shipped graph when its card record fits these weights (its reference outputs shipped beside
it, so no torch module is built), else the export in the user cache (exported once; its reference
computed from the module). :func:`check_runtime` compares a runtime's outputs on the fixed check
input with the source's reference, once per (graph file, runtime, versions): the record sits in the
model's cache folder and names the graph's own SHA-256, so a replaced or foreign file is checked again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from chestview.engine.backends.base import BackendUnavailable, ParityCheck, Runner, check_input, parity
from chestview.engine.backends.export import cache_dir, cached_export, exportable, torch_reference
from chestview.engine.backends.packaged import shipped_graph, shipped_reference
from chestview.engine.util import atomic_write_text
from chestview.engine.zoo.store import LoadedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphSource:
    """An ONNX graph of a model and where the outputs it must reproduce come from."""

    loaded: LoadedModel
    path: Path
    shipped: bool  # the entry's own graph (True) or an export into the user cache (False)

    def reference(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Torch's (logits, maps[, features]) on the check input ``x``: as the entry ships them for its
        own graph (when that file fits its card), else computed from the torch module."""
        shipped = shipped_reference(self.loaded) if self.shipped else None
        return shipped or torch_reference(self.loaded, x)


def resolve_graph(loaded: LoadedModel, *, shipped: bool = True) -> GraphSource:
    """The graph a runtime opens: the entry's shipped one (unless ``shipped`` is False, or it does not
    fit), else the user cache's export, made now if needed. Raises BackendUnavailable (expected) for a
    model that keeps torch, or when the export fails."""
    exportable(loaded)
    path = shipped_graph(loaded) if shipped else None
    if path is not None:
        return GraphSource(loaded, path, shipped=True)
    return GraphSource(loaded, cached_export(loaded), shipped=False)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_runtime(source: GraphSource, runtime: str, version: str, run: Runner) -> ParityCheck:
    """Compare ``run`` (``runtime`` at ``version`` on ``source``'s graph, float32) with the source's
    reference on the fixed check input, once per (graph file, runtime, versions); raise
    BackendUnavailable if it fails."""
    loaded = source.loaded
    record = cache_dir(loaded) / f"check-{runtime}.json"
    key = {"backend": runtime, "version": version, "torch": torch.__version__,
           "onnx_sha256": _file_sha256(source.path)}
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        if all(data.get(k) == v for k, v in key.items()):
            result = ParityCheck(data["max_abs_prob_delta"], data["max_abs_map_delta"], data["map_range"],
                                 data.get("max_rel_feature_delta", 0.0))
            if result.passed:
                return result
    except (OSError, ValueError, KeyError, TypeError):
        pass
    pre = loaded.card.preprocessing
    x = check_input(pre.channels, pre.size)
    try:
        got = run(x)
    except Exception as exc:
        raise BackendUnavailable(f"{loaded.card.id}: {runtime} failed on the check input "
                                 f"({type(exc).__name__}: {str(exc)[:160]})") from None
    result = parity(source.reference(x), got)
    try:
        atomic_write_text(record, json.dumps({**key, "passed": result.passed,
                                              "max_abs_prob_delta": result.max_abs_prob_delta,
                                              "max_abs_map_delta": result.max_abs_map_delta,
                                              "map_range": result.map_range,
                                              "max_rel_feature_delta": result.max_rel_feature_delta}, indent=2))
    except OSError as exc:  # an unwritable cache: the check holds for this run, it is only not remembered
        log.info("%s: check not recorded (%s)", record, exc.strerror or exc)
    if not result.passed:
        raise BackendUnavailable(
            f"{loaded.card.id}: {runtime} differs from torch on the check input (probabilities by "
            f"{result.max_abs_prob_delta:.2g}, maps by {result.max_abs_map_delta:.2g}, features by "
            f"{result.max_rel_feature_delta:.2g} of their scale)"
        )
    return result
