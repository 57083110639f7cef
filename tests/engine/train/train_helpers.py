"""A tiny model and a synthetic dataset for exercising the training loop in a second or two."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from chestview.engine.models.registry import ModelOutput
from chestview.engine.train.data import TrainData

LABELS = ("A", "B", "C")


class TinyNet(nn.Module):
    """conv trunk -> 1x1 conv head giving class maps -> mean pool: CAM-style logits and maps."""

    def __init__(self, num_classes: int = len(LABELS), in_chans: int = 1) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.trunk = nn.Sequential(nn.Conv2d(in_chans, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Conv2d(4, num_classes, 1)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        maps = self.head(self.trunk(x))
        return ModelOutput(maps.mean(dim=(-2, -1)), maps)


class FakeXrays(Dataset):
    """Deterministic images whose brightness in a corner encodes label A; label C is unknown on odd items."""

    def __init__(self, n: int, size: int = 16, seed: int = 0, offset: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 1, size, size, generator=g)
        self.targets = (torch.rand(n, len(LABELS), generator=g) > 0.5).float()
        self.images[:, :, : size // 2, : size // 2] += 2 * self.targets[:, 0, None, None, None]
        self.offset = offset
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        targets = self.targets[i].clone()
        mask = torch.ones(len(LABELS))
        if i % 2:
            targets[2] = float("nan")
            mask[2] = 0
        box_mask = torch.zeros(len(LABELS), self.size, self.size, dtype=torch.uint8)
        has_boxes = torch.zeros(len(LABELS), dtype=torch.bool)
        if self.targets[i, 0] == 1:
            box_mask[0, : self.size // 2, : self.size // 2] = 1
            has_boxes[0] = True
        # Augmentation noise from the global RNG: resume must restore it to reproduce a run.
        image = self.images[i] + 0.01 * torch.randn(self.images[i].shape)
        return {"image": image, "targets": targets, "mask": mask, "box_mask": box_mask,
                "has_boxes": has_boxes, "index": i + self.offset}


def fake_data(n_train: int = 24, n_val: int = 8) -> TrainData:
    return TrainData(labels=LABELS, train=FakeXrays(n_train, seed=1), val=FakeXrays(n_val, seed=2, offset=1000))
