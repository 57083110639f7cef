"""Chest ALSTM-MLC: the common output, teacher-forced training, greedy/beam decoding, the label hierarchy."""

from __future__ import annotations

import math

import pytest
import torch

from chestview.engine.errors import ModelError
from chestview.engine.models import get_model, list_models, model_info
from chestview.engine.models.alstm_mlc import _sample, hierarchical_label_order, label_parents
from chestview.engine.models.registry import ModelOutput

SMALL = dict(trunk="resnet18", feature_dim=32, embed_dim=16, hidden_dim=32, attention_dim=16)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_registered_with_default_densenet_trunk_and_common_output() -> None:
    assert "alstm_mlc" in list_models() and model_info("alstm_mlc").paper
    model = get_model("alstm_mlc", num_classes=3, in_chans=1).eval()
    assert model.trunk.name == "densenet121" and model.num_classes == 3
    with torch.no_grad():
        out = model(torch.randn(2, 1, 64, 64))
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (2, 3) and out.maps.shape == (2, 3, 2, 2)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.maps).all()


def test_training_loss_decreases_and_reaches_every_part() -> None:
    model = get_model("alstm_mlc", num_classes=4, **SMALL)
    x = torch.randn(2, 3, 64, 64)
    targets = torch.tensor([[1.0, 0.0, 1.0, float("nan")], [0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for i in range(4):
        opt.zero_grad()
        loss = model.training_loss(x, targets, mask)
        loss.backward()
        if i == 0:
            for name, p in model.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert model.head.embed.weight.grad[model.head.start].abs().sum() > 0
            assert model.trunk.layer1[0].conv1.weight.grad.abs().sum() > 0
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    # forward(x, targets, mask) is the same loss, so a DDP wrapper can train it.
    model.eval()
    torch.testing.assert_close(model(x, targets, mask), model.training_loss(x, targets, mask))


def test_common_logits_train_with_bce_too() -> None:
    model = get_model("alstm_mlc", num_classes=3, **SMALL)
    out = model(torch.randn(2, 3, 64, 64))
    torch.nn.functional.binary_cross_entropy_with_logits(out.logits, torch.ones(2, 3)).backward()
    assert model.head.out.weight.grad is not None and model.head.lstm.weight_hh.grad is not None


def test_logits_are_probabilities_of_the_greedy_steps() -> None:
    model = get_model("alstm_mlc", num_classes=5, **SMALL).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        p = torch.sigmoid(model(x).logits)
    assert ((p > 0) & (p < 1)).all()
    greedy = model.decode(x, beam=1)
    for row, seq in zip(p, greedy):
        assert len(seq) == len(set(seq))
        if seq:  # the first emitted label won step 1, so it beat <end> there
            assert row[seq[0]] >= 1.0 / 6.0 - 1e-6


def test_beam_search_sequences_are_valid() -> None:
    model = get_model("alstm_mlc", num_classes=4, **SMALL).eval()
    x = torch.randn(2, 3, 64, 64)
    for beam in (1, 3):
        seqs = model.decode(x, beam=beam)
        assert len(seqs) == 2
        for seq in seqs:
            assert all(0 <= i < 4 for i in seq) and len(seq) == len(set(seq))
    assert all(len(s) <= 1 for s in model.decode(x, beam=3, max_len=1))
    with pytest.raises(ModelError):
        model.decode(x, beam=0)


def test_hierarchy_parents_before_children() -> None:
    labels = ["Opacity/lung/base", "Cardiomegaly", "Opacity", "Opacity/lung"]
    parents = label_parents(labels)
    assert parents == [3, -1, -1, 2]
    order = hierarchical_label_order(labels, frequencies=[5, 1, 9, 7])
    assert order == [2, 1, 3, 0]
    model = get_model("alstm_mlc", num_classes=4, label_order=order, parents=parents, **SMALL).eval()
    # Bias the output towards the deepest label: it still cannot come before its ancestors.
    with torch.no_grad():
        model.head.out.bias.zero_()
        model.head.out.bias[0] = 50.0
    for seq in model.decode(torch.randn(2, 3, 64, 64), beam=2):
        for pos, label in enumerate(seq):
            if parents[label] >= 0:
                assert parents[label] in seq[:pos]
    loss = model.training_loss(torch.randn(2, 3, 64, 64), torch.tensor([[1.0, 0, 1, 1], [0, 1, 0, 0]]))
    assert torch.isfinite(loss)


def test_negative_sampling_and_bad_arguments() -> None:
    cand = torch.tensor([[True] * 6, [True, False, False, False, False, False]])
    picked = _sample(cand, 2)
    assert picked[0].sum() == 2 and (picked <= cand).all() and picked[1].sum() == 1
    model = get_model("alstm_mlc", num_classes=6, neg_samples=2, **SMALL)
    loss = model.training_loss(torch.randn(2, 3, 64, 64), torch.zeros(2, 6))
    assert torch.isfinite(loss) and loss > 0
    nan_targets = torch.full((2, 6), float("nan"))
    assert math.isfinite(float(model.training_loss(torch.randn(2, 3, 64, 64), nan_targets).detach()))
    with pytest.raises(ModelError, match="label_order"):
        get_model("alstm_mlc", num_classes=3, label_order=[0, 0, 1], **SMALL)
    with pytest.raises(ModelError, match="parents"):
        get_model("alstm_mlc", num_classes=2, parents=[1, 0, -1], **SMALL)
    with pytest.raises(ModelError, match="neg_samples"):
        get_model("alstm_mlc", num_classes=2, neg_samples=0, **SMALL)
