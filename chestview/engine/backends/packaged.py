"""The ONNX graph a zoo entry ships, so that the CPU backends start without building the torch module.

Building the module imports timm and torchvision and exporting it takes another second: most of a
first start. A zoo entry can instead carry

- ``graph.onnx``: the export without its weights. Each parameter is an ONNX *external* tensor that
  points at its bytes inside the entry's own safetensors file (offset and length), so the weights
  are stored once, in the file the card's SHA-256 verifies; fp16 weights get a Cast to float32, which
  is exact (the module upcasts the same values). Batch norms are left unfolded for that reason.
- ``graph_reference.safetensors``: torch's (logits, maps[, features]) on the fixed check input, the
  side of the parity check a backend would otherwise build the module for.

A model that keeps torch (``export.TORCH_ONLY``) ships no graph but still ships torch's outputs on the
same check input (``check_outputs.safetensors``, the card's ``check_outputs`` record), so anyone can
tell its weights still give what they gave when it was published (:func:`shipped_check_outputs`).

The card's ``graph`` record names both files, their SHA-256 and the weights' SHA-256 they were made
for; anything that does not match (retrained weights, another export format, a changed file) is
ignored and the backend exports into the user cache as before.

This module owns those two files: writing them (:func:`pack_graph`, from :mod:`.export`) and reading
them back only when they fit (:func:`shipped_graph`, :func:`shipped_reference`). Whether a runtime
opens the shipped graph or an export is decided in :mod:`.graph`, above it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load, save

from chestview.engine.backends.base import check_input
from chestview.engine.entry_files import entry_file, read_entry_file
from chestview.engine.backends.export import EXPORT_FORMAT, OPSET, export_graph, torch_reference
from chestview.engine.errors import ModelError
from chestview.engine.util import atomic_write_bytes
from chestview.engine.zoo.card import ModelCard
from chestview.engine.zoo.store import LoadedModel, load_model

log = logging.getLogger(__name__)
GRAPH_FILE = "graph.onnx"
REFERENCE_FILE = "graph_reference.safetensors"
CHECK_FILE = "check_outputs.safetensors"
# safetensors dtypes an ONNX initializer can point at, and whether a Cast to float32 follows.
_EXTERNAL_DTYPES = {"F32": ("FLOAT", False), "F16": ("FLOAT16", True)}


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _valid_record(loaded: LoadedModel) -> dict | None:
    graph = loaded.card.graph
    if not graph or graph.get("weights_sha256") != loaded.card.sha256 or graph.get("export_format") != EXPORT_FORMAT:
        return None
    return graph


def shipped_graph(loaded: LoadedModel) -> Path | None:
    """The entry's graph file, when its card record fits these weights and the file its SHA-256."""
    graph = _valid_record(loaded)
    if graph is None:
        return None
    path = loaded.path / graph["file"]
    try:
        path = entry_file(loaded.path, graph["file"], "graph")
    except ModelError as exc:
        log.warning("%s; exporting the model instead", exc)
        return None
    if _sha256(path) != graph["sha256"]:
        log.warning("%s: does not match its card's SHA-256; exporting the model instead", path)
        return None
    return path


def shipped_reference(loaded: LoadedModel) -> tuple[torch.Tensor, ...] | None:
    """Torch's outputs on the fixed check input, as the entry ships them (None: compute them)."""
    graph = _valid_record(loaded)
    if graph is None:
        return None
    path = loaded.path / graph["reference"]
    try:
        data = read_entry_file(loaded.path, graph["reference"], "graph reference")
    except ModelError as exc:
        log.warning("%s; checking against the torch module instead", exc)
        return None
    if hashlib.sha256(data).hexdigest() != graph["reference_sha256"]:
        log.warning("%s: does not match its card's SHA-256; checking against the torch module instead", path)
        return None
    tensors = load(data)
    names = ("logits", "maps", "features") if "features" in tensors else ("logits", "maps")
    return tuple(tensors[n].float() for n in names)


def _safetensors_layout(path: Path) -> tuple[dict, int]:
    """The safetensors header (name -> dtype, shape, data_offsets) and where its data begins."""
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
    header.pop("__metadata__", None)
    return header, 8 + n


def graph_reading_weights(onnx_bytes: bytes, weights: Path, prefix: str) -> tuple[bytes, int]:
    """Rewrite an export so that its parameters are read from ``weights`` (a safetensors file in the
    same folder): returns the new graph and how many initializers now point there.

    An initializer named ``prefix + key`` for a safetensors tensor ``key`` of the same shape and
    values becomes an external tensor at that tensor's bytes (plus a Cast when they are fp16); any
    other stays in the graph. Values are compared, so a graph never reads weights it was not made from.
    """
    import onnx  # deferred: an optional dependency, needed only to pack a graph
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    header, base = _safetensors_layout(weights)
    raw = weights.read_bytes()
    kept, external, casts = [], [], []
    for init in model.graph.initializer:
        info = header.get(init.name[len(prefix):]) if init.name.startswith(prefix) else None
        kind = _EXTERNAL_DTYPES.get(info["dtype"]) if info else None
        if kind is None:
            kept.append(init)
            continue
        onnx_type, cast = kind
        value = numpy_helper.to_array(init)
        start, end = info["data_offsets"]
        stored = np.frombuffer(raw[base + start:base + end], dtype=np.float16 if cast else np.float32)
        if list(value.shape) != list(info["shape"]) or not np.array_equal(stored.astype(np.float32).reshape(value.shape), value):
            kept.append(init)
            continue
        tensor = TensorProto(name=init.name + ("::f16" if cast else ""), data_type=getattr(TensorProto, onnx_type),
                             dims=list(value.shape), data_location=TensorProto.EXTERNAL)
        for key, val in (("location", weights.name), ("offset", str(base + start)), ("length", str(end - start))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, val
        external.append(tensor)
        if cast:
            casts.append(helper.make_node("Cast", [tensor.name], [init.name], to=TensorProto.FLOAT, name=f"{init.name}::cast"))
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + external)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(casts + nodes)
    return model.SerializeToString(), len(external)


def pack_graph(directory: str | Path) -> ModelCard:
    """Write the entry's graph and torch reference beside its weights and record them in its card.

    Raises BackendUnavailable when the model cannot be exported (it keeps torch), ModelError when no
    parameter of the export maps onto the weights file.
    """
    loaded = load_model(directory)
    card, directory = loaded.card, loaded.path
    graph, n_external = graph_reading_weights(export_graph(loaded, fold_constants=False),
                                              directory / card.weights, prefix="model.")
    if n_external == 0:
        raise ModelError(f"{directory}: no parameter of the export matches the weights file; not packed")
    pre = card.preprocessing
    reference = torch_reference(loaded, check_input(pre.channels, pre.size))
    names = ("logits", "maps", "features")[:len(reference)]
    ref_bytes = save({n: t.contiguous() for n, t in zip(names, reference)})
    atomic_write_bytes(directory / GRAPH_FILE, graph)
    atomic_write_bytes(directory / REFERENCE_FILE, ref_bytes)
    record = {
        "file": GRAPH_FILE, "sha256": hashlib.sha256(graph).hexdigest(),
        "reference": REFERENCE_FILE, "reference_sha256": hashlib.sha256(ref_bytes).hexdigest(),
        "weights_sha256": card.sha256, "export_format": EXPORT_FORMAT, "opset": OPSET,
        "external_parameters": n_external, "torch": torch.__version__,
    }
    card = card.with_updates(graph=record)
    card.save(directory)
    return card


def pack_check_outputs(directory: str | Path) -> ModelCard:
    """Write torch's outputs on the fixed check input beside the weights of a model that ships no
    graph, and record them in its card (``check_outputs``)."""
    loaded = load_model(directory)
    card, directory = loaded.card, loaded.path
    pre = card.preprocessing
    reference = torch_reference(loaded, check_input(pre.channels, pre.size))
    names = ("logits", "maps", "features")[:len(reference)]
    data = save({n: t.contiguous() for n, t in zip(names, reference)})
    atomic_write_bytes(directory / CHECK_FILE, data)
    record = {"file": CHECK_FILE, "sha256": hashlib.sha256(data).hexdigest(), "weights_sha256": card.sha256,
              "torch": torch.__version__}
    card = card.with_updates(check_outputs=record)
    card.save(directory)
    return card


def shipped_check_outputs(loaded: LoadedModel) -> tuple[torch.Tensor, ...] | None:
    """Torch's outputs on the check input as the entry ships them: its graph's reference, or the
    check outputs of a model that keeps torch. None when the entry ships neither for these weights."""
    reference = shipped_reference(loaded)
    if reference is not None:
        return reference
    record = loaded.card.check_outputs
    if not record or record.get("weights_sha256") != loaded.card.sha256:
        return None
    data = read_entry_file(loaded.path, record["file"], "check outputs")
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise ModelError(f"{loaded.path / record['file']}: does not match its card's SHA-256")
    tensors = load(data)
    names = ("logits", "maps", "features") if "features" in tensors else ("logits", "maps")
    return tuple(tensors[n].float() for n in names)
