"""One registry of architectures, in the style of timm and torchvision.

Every registered builder is keyword-only and returns a :class:`ChestModel`: an ``nn.Module`` whose
``forward(x)`` returns :class:`ModelOutput` with the logits for its labels and, from the same
forward pass, one class activation map per label.

The registry knows nothing of the architectures: each module that defines one registers it with
:func:`register_model` when imported, and the ``chestview.engine.models`` package imports them all
(as timm's ``models/__init__.py`` does), so whoever imports the package or any of its modules finds
every built-in architecture registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol

import torch
from torch import nn

from chestview.engine.errors import ModelError


class ModelOutput(NamedTuple):
    """``logits``: (batch, classes). ``maps``: (batch, classes, h, w) class activation maps in
    logit-like units at the model's feature resolution, covering the whole input; ``None`` when the
    architecture has no native map (Grad-CAM is used instead)."""

    logits: torch.Tensor
    maps: torch.Tensor | None


class ChestModel(Protocol):
    num_classes: int

    def __call__(self, x: torch.Tensor) -> ModelOutput: ...


@dataclass(frozen=True)
class ArchInfo:
    name: str
    builder: Callable[..., nn.Module]
    description: str
    paper: str = ""
    title: str = ""  # the system's name as a reader knows it ("CheXNet", "Chest ALSTM-MLC")


_REGISTRY: dict[str, ArchInfo] = {}


def register_model(name: str, *, description: str = "", paper: str = "", title: str = "") -> Callable:
    """Decorator registering a keyword-only builder ``fn(*, num_classes, in_chans=3, **kw)``."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} registered twice")
        _REGISTRY[name] = ArchInfo(name, fn, description or (fn.__doc__ or "").strip().split("\n")[0], paper,
                                   title or name)
        return fn

    return wrap


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_info(name: str) -> ArchInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def min_input_size(name: str, arch_kwargs: dict | None = None) -> tuple[int, str] | None:
    """The smallest input side (px) architecture ``name`` takes with ``arch_kwargs``, and its trunk;
    None for an architecture without a ``trunk`` option (its own builder knows its limits)."""
    import inspect

    # late: the registry is the bottom of the models package (see its docstring) and never imports a
    # trunk at load time; trunks import models.imagenet, whose package __init__ imports this module
    from chestview.engine.models.trunks import list_trunks
    from chestview.engine.models.trunks import min_input_size as trunk_min

    param = inspect.signature(model_info(name).builder).parameters.get("trunk")
    chosen = (arch_kwargs or {}).get("trunk")
    trunk = chosen or (param.default if param is not None else None)
    if not isinstance(trunk, str):
        return None
    if not chosen and trunk not in list_trunks():
        return None  # a body of its own (ctranscnn's two branches), not a shared trunk
    return trunk_min(trunk), trunk


def get_model(name: str, *, num_classes: int, **kwargs) -> nn.Module:
    """Build a registered architecture with freshly initialised weights."""
    return model_info(name).builder(num_classes=num_classes, **kwargs)
