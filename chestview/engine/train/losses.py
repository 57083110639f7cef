"""Training losses for multi-label chest X-ray classification, all aware of unknown labels.

Every image-level loss has the signature ``loss(logits (B, C), targets (B, C), mask (B, C)) -> scalar``.
``mask`` is 1 where a label is known; unknown labels (mask 0, or a NaN target) are left out of the
loss entirely: treating them as negatives would teach the model that uncertain findings are absent.
Losses are computed in float32 even under autocast: the weights and log-sum-exps overflow in fp16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
import torch.nn.functional as F

from chestview.engine.errors import ChestviewError

# A large negative logit standing in for "no term here": unlike -inf its gradient is finite.
_NEG = -1.0e4


class ImageLoss(Protocol):
    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor: ...


def clean_targets(targets: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets with NaN replaced by 0, and the mask of known labels (a NaN target is never known)."""
    known = ~torch.isnan(targets)
    if mask is not None:
        known = known & (mask > 0)
    return torch.where(known, targets, torch.zeros_like(targets)).float(), known.float()


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    # Dividing by the number of known labels (not B*C) keeps the scale independent of missingness.
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def bce_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy over known labels."""
    y, known = clean_targets(targets, mask)
    per = F.binary_cross_entropy_with_logits(logits.float(), y, reduction="none")
    return _masked_mean(per, known)


def wcel_weights(targets: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class (beta_P, beta_N) of Wang et al. 2017 from the known labels of a batch.

    beta_P = (|P| + |N|) / |P| and beta_N = (|P| + |N|) / |N|, counted per class. A class without
    positives (or negatives) in the batch has no such terms, so its beta is set to 0 instead of inf.
    """
    y, known = clean_targets(targets, mask)
    pos = (y * known).sum(dim=0)
    neg = ((1.0 - y) * known).sum(dim=0)
    total = pos + neg
    beta_p = torch.where(pos > 0, total / pos.clamp_min(1.0), torch.zeros_like(pos))
    beta_n = torch.where(neg > 0, total / neg.clamp_min(1.0), torch.zeros_like(neg))
    return beta_p, beta_n


def wcel_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted cross-entropy (Wang et al. 2017, ChestX-ray8): positives up-weighted by batch rarity."""
    y, known = clean_targets(targets, mask)
    beta_p, beta_n = wcel_weights(targets, mask)
    weights = known * (y * beta_p + (1.0 - y) * beta_n)
    per = F.binary_cross_entropy_with_logits(logits.float(), y, reduction="none")
    return (per * weights).sum() / known.sum().clamp_min(1.0)


@dataclass(frozen=True)
class FocalLoss:
    """Focal loss (Lin et al. 2017): BCE scaled by (1 - p_t)^gamma, optionally alpha-balanced.

    With ``gamma=0`` and ``alpha=None`` it is exactly :func:`bce_loss`.
    """

    gamma: float = 2.0
    alpha: float | None = None

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        y, known = clean_targets(targets, mask)
        per = F.binary_cross_entropy_with_logits(logits.float(), y, reduction="none")
        if self.gamma:
            p_t = torch.exp(-per)  # probability given to the true class
            per = per * (1.0 - p_t).pow(self.gamma)
        if self.alpha is not None:
            per = per * (y * self.alpha + (1.0 - y) * (1.0 - self.alpha))
        return _masked_mean(per, known)


@dataclass(frozen=True)
class MultiLabelSoftmaxLoss:
    """Multi-label softmax loss (MSML) of Ge et al. 2018 (arXiv:1807.07247).

    For each image and each known positive p: ``-log(exp(s_p) / (exp(s_p) + sum_{n in N} exp(s_n)))``
    with N the image's known negatives; the image's loss is the mean over its positives, and the
    batch loss the mean over contributing images. Each positive thus competes only against the
    negatives, never against the other positives.

    Images without any positive ("No Finding", about half of ChestX-ray14) would give no term and
    their negatives would never be pushed down. With ``no_finding="anchor"`` (default) such an image
    gets one term for a virtual "No Finding" class whose logit is fixed at 0 (probability 0.5 under
    a sigmoid): ``log(1 + sum_n exp(s_n))``, which pushes every negative below 0. With
    ``no_finding="skip"`` they contribute nothing, as in a literal reading of the paper.

    On images WITH positives both forms are shift-invariant (adding c to every logit changes
    nothing), so nothing ties one image's scores to another's and a label's ranking across images
    (its AUROC) is left to chance. ``no_finding="every"`` puts the zero-logit anchor into every
    image: each positive competes against the negatives and the anchor, and the anchor against the
    negatives (its term ``log(1 + sum_n exp(s_n))``); the image's loss is the mean over positives
    and anchor. Positives are pushed above 0 and negatives below it on every image.
    """

    no_finding: str = "anchor"

    def __post_init__(self) -> None:
        if self.no_finding not in ("anchor", "skip", "every"):
            raise ChestviewError(f"msml: no_finding must be 'anchor', 'skip' or 'every', not {self.no_finding!r}")

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        s = logits.float()
        y, known = clean_targets(targets, mask)
        pos = y * known
        neg = (1.0 - y) * known
        neg_lse = torch.logsumexp(torch.where(neg > 0, s, torch.full_like(s, _NEG)), dim=1)  # (B,)
        if self.no_finding == "every":
            anchor_term = F.softplus(neg_lse)  # the anchor (logit 0) against the negatives
            against = torch.logaddexp(neg_lse, torch.zeros_like(neg_lse))  # negatives + the anchor
            per_pos = F.softplus(against[:, None] - s) * pos
            return ((per_pos.sum(dim=1) + anchor_term) / (pos.sum(dim=1) + 1.0)).mean()
        # -log softmax of s_p against {s_p} + negatives = softplus(logsumexp(negatives) - s_p).
        per_pos = F.softplus(neg_lse[:, None] - s) * pos
        n_pos = pos.sum(dim=1)
        has_pos = n_pos > 0
        image_loss = per_pos.sum(dim=1) / n_pos.clamp_min(1.0)
        contributes = has_pos.float()
        if self.no_finding == "anchor":
            has_neg = neg.sum(dim=1) > 0
            anchored = ~has_pos & has_neg
            image_loss = torch.where(anchored, F.softplus(neg_lse), image_loss)
            contributes = (has_pos | anchored).float()
        return (image_loss * contributes).sum() / contributes.sum().clamp_min(1.0)


def box_loss(maps: torch.Tensor, box_mask: torch.Tensor, has_boxes: torch.Tensor) -> torch.Tensor:
    """Box supervision (adapted from Li et al. 2018, "Thoracic Disease Identification and
    Localization with Limited Supervision"): per-cell BCE between each boxed label's class map and
    its box.

    ``maps``: (B, C, h, w) logit maps; ``box_mask``: (B, C, S, S) 1 inside the label's boxes;
    ``has_boxes``: (B, C) which (image, label) pairs have boxes. The mask is area-downsampled to the
    map grid, so a cell's target is the fraction of it inside a box (Li et al. use patches the same
    way). Only pairs with boxes count; with none in the batch the loss is 0 (still on the graph).
    """
    maps = maps.float()
    if box_mask.shape[-2:] != maps.shape[-2:]:
        target = F.adaptive_avg_pool2d(box_mask.float(), maps.shape[-2:])
    else:
        target = box_mask.float()
    chosen = has_boxes.float()
    if chosen.sum() == 0:
        return maps.sum() * 0.0
    per = F.binary_cross_entropy_with_logits(maps, target.clamp(0.0, 1.0), reduction="none").mean(dim=(-2, -1))
    return (per * chosen).sum() / chosen.sum()


LOSSES: dict[str, Callable[..., ImageLoss]] = {
    "bce": lambda: bce_loss,
    "wcel": lambda: wcel_loss,
    "focal": lambda gamma=2.0, alpha=None: FocalLoss(gamma=float(gamma), alpha=None if alpha is None else float(alpha)),
    "msml": lambda no_finding="anchor": MultiLabelSoftmaxLoss(no_finding=no_finding),
}


def list_losses() -> list[str]:
    return list(LOSSES)


def get_loss(name: str, **kwargs) -> ImageLoss:
    """An image-level loss by name (bce, wcel, focal, msml) with its options (e.g. focal gamma/alpha)."""
    try:
        factory = LOSSES[name]
    except KeyError:
        raise ChestviewError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}") from None
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise ChestviewError(f"loss {name!r}: bad options {kwargs} ({exc})") from None
