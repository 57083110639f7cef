"""Grad-CAM (Selvaraju et al. 2017, ICCV, arXiv:1610.02391) for models without native maps.

Map of class c: ``ReLU(sum_k alpha_ck A_k)`` with ``alpha_ck`` the gradient of logit c summed over
the positions of feature map ``A_k``. The paper averages instead of summing; summing only rescales
every map by the grid size and puts them in logit units: for a global-average-pool + linear model
Grad-CAM is then exactly ``ReLU(W·F)``, the CAM without its bias.
"""

from __future__ import annotations

import torch
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models.registry import ModelOutput


def default_target_layer(model: nn.Module) -> nn.Module:
    """The trunk's final feature map (``model.trunk.out``, else ``model.trunk``)."""
    trunk = getattr(model, "trunk", None)
    if trunk is None:
        raise ModelError(f"{type(model).__name__} has no .trunk: pass target_layer= to gradcam")
    return getattr(trunk, "out", trunk)


def gradcam(
    model: nn.Module,
    x: torch.Tensor,
    *,
    target_layer: nn.Module | None = None,
    classes: list[int] | None = None,
    relu: bool = True,
) -> torch.Tensor:
    """Grad-CAM maps (B, C, h, w) for every class (or ``classes``) at ``target_layer``'s grid.

    The model should be in eval mode: the batch is back-propagated as one sum per class, which
    keeps samples independent only when BatchNorm uses its running statistics. ``model`` may return
    a :class:`ModelOutput` or a plain logits tensor. Parameters' ``.grad`` are left untouched.
    """
    layer = target_layer if target_layer is not None else default_target_layer(model)
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with torch.enable_grad():
            out = model(x.detach().requires_grad_(True))  # the input grad makes a graph even if frozen
    finally:
        handle.remove()
    if not captured:
        raise ModelError("gradcam: the target layer did not run in the forward pass")
    logits = out.logits if isinstance(out, ModelOutput) else out
    acts = captured[-1]
    if acts.ndim != 4:
        raise ModelError(f"gradcam: target layer output has shape {tuple(acts.shape)}, expected (B,K,h,w)")
    wanted = list(range(logits.shape[1])) if classes is None else list(classes)
    maps = []
    for n, c in enumerate(wanted):
        (grad,) = torch.autograd.grad(logits[:, c].sum(), acts, retain_graph=n < len(wanted) - 1)
        alpha = grad.sum(dim=(2, 3), keepdim=True)
        maps.append((alpha * acts).sum(dim=1).detach())
    cam = torch.stack(maps, dim=1)
    return torch.relu(cam) if relu else cam
