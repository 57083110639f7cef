"""Finding, loading and saving zoo entries: ``<dir>/card.json`` + safetensors weights.

Weights are checked against the card's SHA-256 before they are read, and read with safetensors,
which cannot run code. Zoo directories, in order: the bundled ``model_zoo/``, the user's models
directory, then each directory of ``$CHESTVIEW_ZOO_PATH`` (``os.pathsep``-separated).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load as load_safetensors_bytes, save as save_safetensors_bytes
from torch import nn

from chestview.engine.entry_files import entry_file, read_entry_file
from chestview.engine.errors import ModelError
from chestview.engine.explain.prior import load_priors
from chestview.engine.models import get_model
from chestview.engine.paths import bundled_zoo_dir, user_models_dir
from chestview.engine.util import atomic_write_bytes
from chestview.engine.zoo.card import CARD_FILE, ModelCard

log = logging.getLogger(__name__)
DEFAULT_FILE = "DEFAULT"


@dataclass(frozen=True)
class ZooEntry:
    card: ModelCard
    path: Path
    bundled: bool


class LoadedModel:
    """A zoo model: its card, its torch module, its folder and box priors.

    ``module`` may be built on first use (``build``): an exported backend whose export and parity
    check are cached never needs it, and building it imports timm and torchvision (seconds).
    """

    def __init__(self, card: ModelCard, module: nn.Module | None, path: Path, box_priors: dict | None = None,
                 *, build: Callable[[], nn.Module] | None = None) -> None:
        if module is None and build is None:
            raise ValueError("LoadedModel needs a module or a way to build it")
        self.card = card
        self.path = path
        self.box_priors = box_priors  # label -> prior map, when the card fuses boxes with priors
        self._module, self._build = module, build
        self._lock = threading.Lock()

    @property
    def module(self) -> nn.Module:
        with self._lock:
            if self._module is None:
                assert self._build is not None
                self._module, self._build = self._build(), None
            return self._module

    @property
    def module_built(self) -> bool:
        return self._module is not None

    def with_card(self, card: ModelCard) -> "LoadedModel":
        """The same model (one module, built once) under another card."""
        return LoadedModel(card, self.module, self.path, self.box_priors)


def zoo_dirs() -> list[Path]:
    dirs = [bundled_zoo_dir(), user_models_dir()]
    extra = os.environ.get("CHESTVIEW_ZOO_PATH", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    return dirs


def list_zoo(problems: list[str] | None = None) -> list[ZooEntry]:
    """Every valid entry in the zoo directories; invalid ones are skipped and described in ``problems``."""
    entries: dict[str, ZooEntry] = {}
    bundled = bundled_zoo_dir().resolve()
    for root in zoo_dirs():
        if not root.is_dir():
            continue
        for card_path in sorted(root.glob(f"*/{CARD_FILE}")):
            try:
                card = ModelCard.load(card_path.parent)
            except ModelError as exc:
                log.warning("%s", exc)
                if problems is not None:
                    problems.append(str(exc))
                continue
            # The first directory wins: a user's model never shadows a bundled one silently.
            entries.setdefault(card.id, ZooEntry(card, card_path.parent, root.resolve() == bundled))
    return list(entries.values())


def default_model_id() -> str | None:
    """The bundled default (``model_zoo/DEFAULT``), else the first model found, else None."""
    marker = bundled_zoo_dir() / DEFAULT_FILE
    entries = list_zoo()
    ids = {e.card.id for e in entries}
    if marker.is_file():
        wanted = marker.read_text(encoding="utf-8").strip()
        if wanted in ids:
            return wanted
    return entries[0].card.id if entries else None


def find_model(id_or_dir: str | Path) -> Path:
    """The directory of a model given its id or its directory."""
    candidate = Path(id_or_dir)
    if (candidate / CARD_FILE).is_file():
        return candidate
    for entry in list_zoo():
        if entry.card.id == str(id_or_dir):
            return entry.path
    known = ", ".join(sorted(e.card.id for e in list_zoo())) or "none installed"
    raise ModelError(f"{id_or_dir}: no such model (known: {known})")


def build_module(card: ModelCard) -> nn.Module:
    kwargs = dict(card.arch_kwargs)
    kwargs.pop("pretrained_trunk", None)  # the weights file replaces any initialisation
    return get_model(card.architecture, num_classes=card.n_outputs, in_chans=card.preprocessing.channels, **kwargs)


def read_weights(directory: Path, card: ModelCard) -> dict[str, torch.Tensor]:
    path = directory / card.weights
    data = read_entry_file(directory, card.weights, "weights")
    if card.sha256:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        if digest != card.sha256:
            raise ModelError(f"{path}: SHA-256 mismatch (card {card.sha256[:12]}…, file {digest[:12]}…); refusing to load")
    else:
        raise ModelError(f"{path}: the card has no SHA-256; refusing unverified weights")
    try:
        return load_safetensors_bytes(data)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelError(f"{path}: not a valid safetensors file ({exc})") from None


def load_model(id_or_dir: str | Path, device: str | torch.device = "cpu", *, lazy: bool = False) -> LoadedModel:
    """Build the architecture from the card and load its verified weights, in eval mode, float32.

    ``lazy``: the weights are read and verified now, the module is built on first use of
    ``.module`` (a weights/architecture mismatch is reported then).
    """
    directory = find_model(id_or_dir)
    card = ModelCard.load(directory)
    weights = read_weights(directory, card)

    def build() -> nn.Module:
        module = build_module(card)
        state = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
        missing, unexpected = module.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ModelError(
                f"{directory}: weights do not fit architecture {card.architecture!r} "
                f"(missing {len(missing)} e.g. {missing[:2]}, unexpected {len(unexpected)} e.g. {unexpected[:2]})"
            )
        return module.eval().to(device)

    module = None if lazy else build()
    priors = None
    if card.box_prior:
        priors = load_priors(entry_file(directory, card.box_prior["file"], "box prior"), card.box_prior.get("sha256"))
    return LoadedModel(card=card, module=module, path=directory, box_priors=priors, build=None if module is not None else build)


def save_zoo_entry(
    directory: str | Path, card: ModelCard, state_dict: dict[str, torch.Tensor], *, fp16: bool = True
) -> ModelCard:
    """Write weights (safetensors, fp16 by default) and the card with the weights' SHA-256, atomically."""
    import hashlib

    directory = Path(directory)
    tensors = {}
    for name, tensor in state_dict.items():
        t = tensor.detach().to("cpu").contiguous()
        if fp16 and t.is_floating_point():
            t = t.half()
        tensors[name] = t
    blob = save_safetensors_bytes(tensors, metadata={"model_id": card.id, "architecture": card.architecture})
    atomic_write_bytes(directory / card.weights, blob)
    sha256 = hashlib.sha256(blob).hexdigest()
    # A shipped graph (backends.packaged) reads these weights by offset: other weights void it.
    graph = card.graph if card.graph.get("weights_sha256") == sha256 else {}
    card = card.with_updates(sha256=sha256, graph=graph)
    card.save(directory)
    return card
