import math

import pytest
import torch
import torch.nn.functional as F

from chestview.engine.errors import ChestviewError
from chestview.engine.train.losses import (
    FocalLoss,
    MultiLabelSoftmaxLoss,
    bce_loss,
    box_loss,
    get_loss,
    list_losses,
    wcel_loss,
    wcel_weights,
)

NAN = float("nan")


def test_wcel_betas_exact_per_class_with_masking():
    targets = torch.tensor([[1.0, 0.0, NAN], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    beta_p, beta_n = wcel_weights(targets)
    # class 0: P=2 N=2; class 1: P=1 N=3; class 2 (one unknown): P=2 N=1
    assert beta_p.tolist() == pytest.approx([4 / 2, 4 / 1, 3 / 2])
    assert beta_n.tolist() == pytest.approx([4 / 2, 4 / 3, 3 / 1])


def test_wcel_guards_zero_counts_and_matches_formula():
    targets = torch.tensor([[0.0, 1.0], [0.0, 1.0]])  # class 0 has no positive, class 1 no negative
    beta_p, beta_n = wcel_weights(targets)
    assert beta_p.tolist() == [0.0, 1.0] and beta_n.tolist() == [1.0, 0.0]
    logits = torch.tensor([[0.3, -0.2], [-1.0, 2.0]])
    loss = wcel_loss(logits, targets, torch.ones_like(targets))
    expected = (F.softplus(torch.tensor([0.3, -1.0])).sum() + F.softplus(-torch.tensor([-0.2, 2.0])).sum()) / 4
    assert torch.isfinite(loss) and loss.item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("name", ["bce", "wcel", "focal", "msml"])
def test_unknown_label_changes_nothing(name):
    loss_fn = get_loss(name)
    logits = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.2, -0.3]], requires_grad=True)
    known = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    base = loss_fn(logits, known, torch.ones_like(known))
    # Add a third label that is unknown everywhere (NaN target, mask 0): same loss, finite gradients.
    logits3 = torch.cat([logits, torch.tensor([[9.0], [-9.0]])], dim=1)
    targets3 = torch.cat([known, torch.full((2, 1), NAN)], dim=1)
    mask3 = torch.cat([torch.ones_like(known), torch.zeros(2, 1)], dim=1)
    with_unknown = loss_fn(logits3, targets3, mask3)
    assert with_unknown.item() == pytest.approx(base.item(), rel=1e-6)
    with_unknown.backward()
    assert torch.isfinite(logits.grad).all()
    # NaN without a mask is unknown too.
    assert loss_fn(logits3, targets3, None).item() == pytest.approx(base.item(), rel=1e-6)


def test_focal_reduces_to_bce():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    targets = (torch.rand(5, 4, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    mask = torch.ones_like(targets)
    assert FocalLoss(gamma=0.0, alpha=None)(logits, targets, mask).item() == pytest.approx(
        bce_loss(logits, targets, mask).item(), rel=1e-6
    )
    assert FocalLoss(gamma=2.0)(logits, targets, mask) < bce_loss(logits, targets, mask)


def test_msml_hand_computed():
    s = torch.tensor([[2.0, 0.0, -1.0, 1.0], [0.5, -0.5, 0.0, 0.0]])
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, NAN]])
    # image 0: positives 0, 1 against negatives 2, 3
    neg = math.exp(-1.0) + math.exp(1.0)
    img0 = (-math.log(math.exp(2) / (math.exp(2) + neg)) - math.log(1 / (1 + neg))) / 2
    # image 1: no positive, anchored "No Finding" logit 0 against its known negatives 0, 1, 2
    img1 = math.log(1 + math.exp(0.5) + math.exp(-0.5) + 1)
    assert MultiLabelSoftmaxLoss()(s, y, None).item() == pytest.approx((img0 + img1) / 2, rel=1e-6)
    assert MultiLabelSoftmaxLoss(no_finding="skip")(s, y, None).item() == pytest.approx(img0, rel=1e-6)
    # "every": the zero anchor joins image 0 too (one more negative for its positives, one more term)
    neg0 = neg + 1.0
    every0 = (-math.log(math.exp(2) / (math.exp(2) + neg0)) - math.log(1 / (1 + neg0)) + math.log(1 + neg)) / 3
    assert MultiLabelSoftmaxLoss(no_finding="every")(s, y, None).item() == pytest.approx((every0 + img1) / 2, rel=1e-6)


def test_msml_every_image_anchor_pins_the_logit_level():
    """Literal MSML cannot tell s from s + c on an image with positives; the per-image anchor can."""
    s = torch.tensor([[2.0, -1.0, 0.5]])
    y = torch.tensor([[1.0, 0.0, 0.0]])
    literal, every = MultiLabelSoftmaxLoss(no_finding="skip"), MultiLabelSoftmaxLoss(no_finding="every")
    assert literal(s + 5.0, y, None).item() == pytest.approx(literal(s, y, None).item(), rel=1e-6)
    assert every(s + 5.0, y, None).item() != pytest.approx(every(s, y, None).item(), rel=1e-3)


def test_box_loss_only_where_boxes():
    maps = torch.zeros(2, 2, 4, 4, requires_grad=True)
    box = torch.zeros(2, 2, 16, 16)
    box[0, 1, :8, :8] = 1
    has = torch.tensor([[False, True], [False, False]])
    loss = box_loss(maps, box, has)
    assert loss.item() == pytest.approx(math.log(2), rel=1e-6)  # logit 0 vs any target: BCE = log 2
    loss.backward()
    assert maps.grad[1].abs().sum() == 0 and maps.grad[0, 0].abs().sum() == 0
    assert maps.grad[0, 1, :2, :2].sum() < 0 < maps.grad[0, 1, 2:, 2:].sum()
    assert box_loss(maps, box, torch.zeros_like(has)).item() == 0.0


def test_registry():
    assert list_losses() == ["bce", "wcel", "focal", "msml"]
    assert get_loss("focal", gamma=1, alpha=0.25) == FocalLoss(1.0, 0.25)
    with pytest.raises(ChestviewError):
        get_loss("nope")
