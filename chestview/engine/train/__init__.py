"""Headless training and evaluation: losses, configuration, the trainer (resumable, DDP-aware),
and evaluation through the same Predictor as ``chestview predict``."""

from chestview.engine.train.config import TrainConfig, load_config
from chestview.engine.train.events import BatchDone, EpochDone, EpochStarted, EvalProgress, Log, TrainFinished
from chestview.engine.train.losses import box_loss, get_loss, list_losses
from chestview.engine.train.trainer import TrainResult, train

__all__ = [
    "BatchDone", "EpochDone", "EpochStarted", "EvalProgress", "Log", "TrainConfig", "TrainFinished",
    "TrainResult", "box_loss", "evaluate", "get_loss", "list_losses", "load_config", "train",
]


def __getattr__(name: str):
    if name in ("evaluate", "EvalResult"):
        from chestview.engine.train import evaluation

        return getattr(evaluation, name)
    raise AttributeError(name)
