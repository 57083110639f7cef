"""Datasets for training and evaluation: readers for NIH ChestX-ray14, CheXpert, Indiana / Open-i
and generic CSVs, patient-wise splits and a torch Dataset with a decoded-image cache."""

from chestview.engine.data.open import open_dataset
from chestview.engine.data.splits import split_dataset
from chestview.engine.data.types import NIH_LABELS, LabeledDataset, Sample

__all__ = ["NIH_LABELS", "LabeledDataset", "Sample", "open_dataset", "split_dataset", "ChestXrayTorchDataset"]


def __getattr__(name: str):  # torch is imported only when the torch dataset is used
    if name == "ChestXrayTorchDataset":
        # deferred: imports torch and torchvision
        from chestview.engine.data.torch_dataset import ChestXrayTorchDataset

        return ChestXrayTorchDataset
    raise AttributeError(name)
