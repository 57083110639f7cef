"""The training configuration: one dataclass, loadable from TOML, overridable by CLI flags."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from chestview.engine.errors import ChestviewError, ModelError
from chestview.engine.models.registry import list_models, min_input_size
from chestview.engine.models.imagenet import MEAN as LITE_MEAN, STD as LITE_STD
from chestview.engine.preprocess import IMAGENET_MEAN, IMAGENET_STD, INTENSITY_MODES, Preprocessing

SCHEDULES = ("plateau", "step", "cosine")
SELECT_ON = ("loss", "auroc")
METHODOLOGIES = ("full", "classifier", "untrained")  # the three CheXNet reimplementation setups
DEVICES_HINT = "auto, cpu, cuda, cuda:N, mps"

# Gray X-rays in [0, 1] have a mean near 0.5 and a spread near 0.25: a trunk trained from scratch
# sees roughly unit-variance inputs with these.
GRAY_MEAN = 0.5
GRAY_STD = 0.25


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "chexnet"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)  # trunk, pretrained_trunk, lse_r, ...
    data: str = ""  # "FORMAT:PATH" for open_dataset
    data_options: dict[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] | None = None  # None: every label of the dataset
    size: int = 224
    channels: int = 3
    mean: tuple[float, ...] | None = None  # None: derived from the trunk (see preprocessing())
    std: tuple[float, ...] | None = None
    loss: str = "bce"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    box_weight: float = 0.0  # 0: weak supervision (image labels only)
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 1e-5
    schedule: str = "plateau"  # plateau: x0.1 after 1 epoch without val-loss progress; step: /10 every 20;
    # cosine: linear warm-up for warmup_epochs, then cosine decay to 0 at the last epoch (per batch)
    step_epochs: int = 20
    warmup_epochs: float = 0.0
    trunk_lr_mult: float = 1.0  # the pretrained trunk learns at lr * this (the head at lr)
    ema_decay: float = 0.0  # > 0: validate and keep an exponential moving average of the weights
    label_smoothing: float = 0.0  # targets 1 -> 1 - s/2, 0 -> s/2 (image losses)
    # A head output of its own for "any of the labels" (trained with the No Finding films as negatives)
    abnormality: bool = False
    group_weights: dict[str, float] = field(default_factory=dict)  # loss weight per sample group
    # Draw the normal films so that each collection's normals weigh alike (their total weight kept):
    # one collection's many bright normals must not teach "this collection = normal".
    balance_normals: bool = False
    intensity: str = "window"  # see preprocess.INTENSITY_MODES; "equalize" is part of the model's preprocessing
    early_stop_patience: int = 3  # epochs without progress (see select_on) before stopping; 0 = never
    # What "best epoch" means, for the kept weights and early stopping: the lowest validation loss
    # (the seed studies' rule) or the highest validation mean AUROC.
    select_on: str = "loss"
    methodology: str = "full"
    augment: bool = True
    augment_strength: float = 1.0  # scales every augmentation range (see data.augment.AugmentConfig)
    seed: int = 0
    num_workers: int = 2
    out: str = "runs/train"
    device: str = "auto"
    amp: bool = True  # CUDA only
    channels_last: bool = True  # CUDA only
    model_id: str | None = None  # None: derived from arch and data
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_seed: int = 0
    unreliable_min_positives: int = 10
    fp16_weights: bool = True
    heatmap_threshold: int | None = None  # None: chosen on the validation split's boxes (else 180)
    eval_batch_size: int = 16

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ChestviewError("invalid training configuration: " + "; ".join(problems))

    def problems(self) -> list[str]:
        p: list[str] = []
        if self.schedule not in SCHEDULES:
            p.append(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.select_on not in SELECT_ON:
            p.append(f"select_on must be one of {', '.join(SELECT_ON)}, not {self.select_on!r}")
        if self.methodology not in METHODOLOGIES:
            p.append(f"methodology must be one of {', '.join(METHODOLOGIES)}, not {self.methodology!r}")
        if self.epochs < 0:
            p.append(f"epochs must be at least 0, not {self.epochs}")
        if self.batch_size < 1:
            p.append(f"batch_size must be at least 1, not {self.batch_size}")
        if self.num_workers < 0:
            p.append(f"num_workers must be at least 0, not {self.num_workers}")
        if self.early_stop_patience < 0:
            p.append(f"early_stop_patience must be at least 0 (0: never stop early), not {self.early_stop_patience}")
        if self.unreliable_min_positives < 0:
            p.append(f"unreliable_min_positives must be at least 0, not {self.unreliable_min_positives}")
        if self.eval_batch_size < 1 or self.step_epochs < 1:
            p.append(f"eval_batch_size and step_epochs must be at least 1, not {self.eval_batch_size} and {self.step_epochs}")
        if self.epochs == 0 and self.methodology != "untrained":
            # zero epochs would publish the initial weights as a trained model
            p.append("epochs must be at least 1 (to evaluate a model as built, use methodology 'untrained')")
        if self.intensity not in INTENSITY_MODES:
            p.append(f"intensity must be one of {', '.join(INTENSITY_MODES)}, not {self.intensity!r}")
        p += self._size_problems()
        if self.channels not in (1, 3):
            p.append("channels must be 1 or 3")
        if self.heatmap_threshold is not None and not 1 <= int(self.heatmap_threshold) <= 255:
            p.append(f"heatmap_threshold must be a heatmap level from 1 to 255, not {self.heatmap_threshold}")
        if self.warmup_epochs < 0:
            p.append(f"warmup_epochs must be at least 0, not {self.warmup_epochs}")
        if self.trunk_lr_mult <= 0:
            p.append(f"trunk_lr_mult must be above 0, not {self.trunk_lr_mult}")
        if not 0.0 <= self.ema_decay < 1.0:
            p.append(f"ema_decay must be in [0, 1), not {self.ema_decay}")
        if not 0.0 <= self.label_smoothing < 0.5:
            p.append(f"label_smoothing must be in [0, 0.5), not {self.label_smoothing}")
        if any(not isinstance(w, (int, float)) or w < 0 for w in self.group_weights.values()):
            p.append("group_weights must be non-negative numbers")
        if not 0.0 <= self.augment_strength <= 3.0:
            p.append(f"augment_strength must be between 0 and 3, not {self.augment_strength}")
        if self.lr <= 0:
            p.append(f"lr must be above 0, not {self.lr}")
        if self.weight_decay < 0:
            p.append(f"weight_decay must be at least 0, not {self.weight_decay}")
        if self.box_weight < 0:
            p.append(f"box_weight must be at least 0, not {self.box_weight}")
        if len(self.split) != 3 or any(f < 0 for f in self.split) or not 0.99 <= sum(self.split) <= 1.01:
            p.append(f"split must be three fractions (train, val, test) summing to 1, got {self.split}")
        return p

    def _size_problems(self) -> list[str]:
        """The input size against the architecture's real minimum, known before any data is read."""
        if self.arch not in list_models():
            found = None  # not registered (a model factory of its own): its builder knows its limits
        else:
            try:
                found = min_input_size(self.arch, self.arch_kwargs)
            except ModelError as exc:  # an unknown trunk: said now, not after loading the data
                return [str(exc)]
        if found is None:
            return [] if self.size >= 1 else [f"size must be at least 1 px, not {self.size}"]
        minimum, trunk = found
        if self.size >= minimum:
            return []
        return [f"size {self.size} is below the smallest input of {self.arch} on trunk {trunk}: at least {minimum} px "
                f"(its last feature map is 1/32 of the input)"]

    # -- derived ------------------------------------------------------------------------------
    @property
    def trunk(self) -> str | None:
        return self.arch_kwargs.get("trunk")

    @property
    def supervision(self) -> str:
        if self.methodology == "untrained":
            return "untrained"
        return "box" if self.box_weight > 0 else "weak"

    def preprocessing(self) -> Preprocessing:
        """Explicit mean/std win; a pretrained trunk gets the statistics it was trained with, else gray."""
        mean, std = self.mean, self.std
        if mean is None or std is None:
            if self.arch_kwargs.get("pretrained_trunk"):
                trunk = str(self.trunk or "")
                if trunk.startswith("efficientnet_lite"):
                    d_mean, d_std = LITE_MEAN, LITE_STD
                else:
                    d_mean, d_std = IMAGENET_MEAN, IMAGENET_STD
                if self.channels == 1:
                    d_mean, d_std = (sum(d_mean) / 3,), (sum(d_std) / 3,)
            else:
                d_mean, d_std = (GRAY_MEAN,) * self.channels, (GRAY_STD,) * self.channels
            mean = mean if mean is not None else d_mean
            std = std if std is not None else d_std
        return Preprocessing(size=self.size, channels=self.channels, mean=tuple(mean), std=tuple(std),
                             intensity=self.intensity)

    def default_model_id(self) -> str:
        fmt, _, path = self.data.partition(":")
        stem = Path(path.rstrip("/\\")).name or fmt or "data"
        trunk = f"-{self.trunk}" if self.trunk else ""
        raw = f"{self.arch}{trunk}-{stem}-{self.size}px"
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in raw)

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-able values (tuples as lists, None left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else (dict(value) if isinstance(value, dict) else value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "TrainConfig":
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ChestviewError(f"{source}: unknown training option(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if isinstance(value, list):
                value = tuple(value)
            values[name] = value
        try:
            return cls(**values)
        except TypeError as exc:
            raise ChestviewError(f"{source}: {exc}") from None

    def with_overrides(self, **changes: Any) -> "TrainConfig":
        """A copy with the given (not-None) values replaced: CLI flags over a config file."""
        changes = {k: (tuple(v) if isinstance(v, list) else v) for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes)

    def to_toml(self) -> str:
        return dump_toml(self.to_dict())

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ChestviewError(f"{path}: no such configuration file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ChestviewError(f"{path}: cannot read TOML configuration ({exc})") from None
    # A [train] table is accepted so that one file can also hold other sections later.
    if isinstance(data.get("train"), dict):
        data = data["train"]
    return TrainConfig.from_dict(data, source=str(path))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(data: dict[str, Any]) -> str:
    """A minimal TOML writer for flat configurations (tables written inline); tomllib reads it back."""
    return "".join(f"{key} = {_toml_value(value)}\n" for key, value in data.items() if value is not None)
