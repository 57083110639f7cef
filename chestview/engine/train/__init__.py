"""Headless training and evaluation: losses, configuration, the trainer (resumable, DDP-aware),
and evaluation through the same Predictor as ``chestview predict``."""

from chestview.engine.train.config import TrainConfig, load_config
from chestview.engine.train.evaluation import EvalResult, evaluate
from chestview.engine.train.events import BatchDone, EpochDone, EpochStarted, EvalProgress, Log, TrainFinished
from chestview.engine.train.losses import box_loss, get_loss, list_losses
from chestview.engine.train.trainer import TrainResult, train

__all__ = [
    "BatchDone", "EpochDone", "EpochStarted", "EvalProgress", "EvalResult", "Log", "TrainConfig", "TrainFinished",
    "TrainResult", "box_loss", "evaluate", "get_loss", "list_losses", "load_config", "train",
]

