"""The training loop: seeded, resumable to the bit, cancellable between batches, DDP-aware.

Layout of ``config.out``: ``checkpoint.pt`` (after every completed epoch), ``best.safetensors``
(lowest validation loss so far), ``metrics.jsonl`` (one JSON line per epoch), ``config.toml``,
``command.txt`` (the command that started the run, for the card), and at the end ``model/`` (a zoo entry ``chestview predict --model`` accepts) and ``eval/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler, WeightedRandomSampler

from chestview.engine.data.recorded_split import SPLIT_FILE, record_split, write_split
from chestview.engine.device import resolve_device
from chestview.engine.errors import ChestviewError
from chestview.engine.models import get_model
from chestview.engine.train import distributed as ddp
from chestview.engine.train.checkpoint import (
    BEST_FILE,
    CHECKPOINT_FILE,
    TrainState,
    load_best,
    load_checkpoint,
    remove_stale_run_temps,
    restore_rng,
    save_best,
    save_checkpoint,
    train_state_from,
)
from chestview.engine.train.config import TrainConfig
from chestview.engine.train.data import TrainData, build_data, seed_worker
from chestview.engine.train.events import (
    BatchDone,
    EpochDone,
    EpochStarted,
    EventSink,
    Log,
    StopCheck,
    TrainFinished,
    emit,
)
from chestview.engine.train.finalize import finalize_run
from chestview.engine.train.losses import box_loss, get_loss
from chestview.engine.util import atomic_write_text

COMMAND_FILE = "command.txt"  # the command that started a run: a resumed run's card still names it

log = logging.getLogger(__name__)
METRICS_FILE = "metrics.jsonl"


@dataclass
class TrainResult:
    out_dir: Path
    epochs_run: int  # completed epochs, resumed ones included
    best_epoch: int
    best_val_loss: float
    stopped_early: bool = False
    cancelled: bool = False
    wall_seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    model_dir: Path | None = None  # the zoo entry, when written
    evaluation: Any = None  # EvalResult of the test split, when run


def build_model(config: TrainConfig, num_classes: int) -> nn.Module:
    return get_model(config.arch, num_classes=num_classes, in_chans=config.channels, **config.arch_kwargs)


def apply_methodology(model: nn.Module, methodology: str) -> None:
    """"classifier": the trunk is frozen (no gradients, BatchNorm statistics kept), only the head learns."""
    if methodology == "classifier":
        trunk = getattr(model, "trunk", None)
        if trunk is None:
            raise ChestviewError("methodology 'classifier' needs a model with a .trunk")
        for p in trunk.parameters():
            p.requires_grad_(False)


def set_train_mode(model: nn.Module, methodology: str) -> None:
    model.train()
    if methodology == "classifier":
        model.trunk.eval()  # frozen BatchNorm: its running statistics must not drift either


def _auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(y) == 0 or y.min() == y.max():
        return None
    return float(roc_auc_score(y, p))


def quick_auroc(labels: tuple[str, ...], y: np.ndarray, p: np.ndarray, mask: np.ndarray) -> dict[str, float | None]:
    """Per-label AUROC over known labels (no intervals: cheap enough for every epoch)."""
    return {lbl: _auroc(y[mask[:, c] > 0, c], p[mask[:, c] > 0, c]) for c, lbl in enumerate(labels)}


def seed_epoch(seed: int, epoch: int, rank: int, generator: torch.Generator) -> None:
    """Every random draw of an epoch (order, augmentation, dropout) depends on (seed, epoch, rank)
    only, so a resumed run repeats a straight one exactly; the restored RNG states are a second line."""
    import random

    epoch_seed = (seed * 1_000_003 + epoch * 7_919 + rank) % 2**63
    generator.manual_seed(epoch_seed)
    torch.manual_seed(epoch_seed)  # the dataset keys its augmentation generator on torch.initial_seed()
    np.random.seed(epoch_seed % 2**32)
    random.seed(epoch_seed)


class _Run:
    """One training run's state; ``train()`` is the public entry point."""

    def __init__(
        self,
        config: TrainConfig,
        data: TrainData,
        model_factory: Callable[[], nn.Module] | None,
        on_event: EventSink | None,
        should_stop: StopCheck | None,
        progress: bool | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        self.data = data
        self.dist = ddp.detect()
        self.device = ddp.device_for(self.dist, resolve_device(config.device))
        ddp.init(self.dist, self.device)
        self.main = self.dist.is_main
        self.on_event = on_event if self.main else None
        self._should_stop = should_stop
        self.out = Path(config.out)
        self.cuda = self.device.type == "cuda"
        self.amp = bool(config.amp and self.cuda)
        self.channels_last = bool(config.channels_last and self.cuda)

        torch.manual_seed(config.seed)  # same initial weights on every rank (DDP broadcasts rank 0's anyway)
        np.random.seed(config.seed)
        import random

        random.seed(config.seed)
        n_outputs = len(data.labels) + (1 if data.abnormality else 0)
        model = model_factory() if model_factory else build_model(config, n_outputs)
        apply_methodology(model, config.methodology)
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model  # the plain module: evaluation, checkpoints
        self.net: nn.Module = model
        if self.dist.enabled and config.methodology != "untrained":
            from torch.nn.parallel import DistributedDataParallel

            # find_unused_parameters: some heads compute maps from parameters the image loss never uses.
            self.net = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.cuda else None, find_unused_parameters=True
            )
        self.optimizer = torch.optim.Adam(param_groups(model, config), lr=config.lr, weight_decay=config.weight_decay)
        self.ema = EMA(model, config.ema_decay) if config.ema_decay > 0 else None
        self.batch_scheduler: Any = None
        if config.schedule == "cosine":
            steps_per_epoch = max(1, math.ceil(len(data.train) / config.batch_size / max(self.dist.world_size, 1)))
            self.batch_scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer, warmup_cosine(config.warmup_epochs * steps_per_epoch, config.epochs * steps_per_epoch))
            self.scheduler = self.batch_scheduler
        elif config.schedule == "plateau":
            self.scheduler: Any = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="min", factor=0.1, patience=1
            )
        else:
            self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=config.step_epochs, gamma=0.1)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.image_loss = get_loss(config.loss, **config.loss_kwargs)
        # Models with their own loss (a label decoder) define training_loss; --loss does not apply to them.
        self.sequence_model = callable(getattr(self.model, "training_loss", None))
        self.state = TrainState()
        self.epoch_lr = float(self.optimizer.param_groups[-1]["lr"])
        self.history: list[dict[str, Any]] = []
        self.generator = torch.Generator()
        self.train_loader = self._loader(data.train, train=True)
        self.val_loader = self._loader(data.val, train=False)

    # -- plumbing -----------------------------------------------------------------------------
    def _loader(self, dataset: Any, *, train: bool) -> DataLoader:
        c = self.config
        if train and self.dist.enabled:
            if self.data.train_weights is not None:
                self.log("group weights are not applied under DDP (DistributedSampler draws uniformly)", "warning")
            sampler: Any = DistributedSampler(
                dataset, num_replicas=self.dist.world_size, rank=self.dist.rank, shuffle=True, seed=c.seed
            )
        elif train and self.data.train_weights is not None:
            # Balanced sampling: each epoch draws len(dataset) images with probability ∝ group weight.
            sampler = WeightedRandomSampler(self.data.train_weights, num_samples=len(dataset), replacement=True,
                                            generator=self.generator)
        elif train:
            sampler = RandomSampler(dataset, generator=self.generator)
        else:
            sampler = SequentialSampler(dataset)  # every rank validates on all of val: identical decisions
        return DataLoader(
            dataset,
            batch_size=c.batch_size,
            sampler=sampler,
            num_workers=c.num_workers,
            worker_init_fn=seed_worker,
            generator=self.generator,
            pin_memory=self.cuda,
            drop_last=False,
            persistent_workers=False,
        )

    def log(self, message: str, level: str = "info") -> None:
        if self.main:
            getattr(log, level)("%s", message)
            emit(self.on_event, Log(message, level))

    def should_stop(self) -> bool:
        flag = bool(self._should_stop and self._should_stop()) if self.main else False
        return ddp.broadcast_flag(flag, self.dist, self.device)

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else contextlib.nullcontext()

    def _inputs(self, batch: dict) -> torch.Tensor:
        x = batch["image"].to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def loss_of(self, out: Any, batch: dict) -> torch.Tensor:
        targets = batch["targets"].to(self.device)
        mask = batch["mask"].to(self.device)
        s = self.config.label_smoothing
        if s > 0 and self.model.training:
            targets = targets * (1.0 - s) + 0.5 * s
        loss = self.image_loss(out.logits, targets, mask)
        if self.config.box_weight > 0 and out.maps is not None:
            has_boxes = batch["has_boxes"].to(self.device)
            if bool(has_boxes.any()):
                n = has_boxes.shape[1]  # the abnormality output (last) has no boxes
                loss = loss + self.config.box_weight * box_loss(out.maps[:, :n], batch["box_mask"].to(self.device),
                                                                has_boxes)
        return loss

    # -- resume -------------------------------------------------------------------------------
    def resume(self) -> None:
        payload = load_checkpoint(self.out / CHECKPOINT_FILE)
        saved = payload.get("config", {})
        for key in ("arch", "arch_kwargs", "size", "channels", "labels"):
            mine = self.config.to_dict().get(key)
            if key in saved and saved[key] != mine:
                raise ChestviewError(
                    f"{self.out / CHECKPOINT_FILE}: checkpoint was trained with {key}={saved[key]!r}, not {mine!r}"
                )
        self.model.load_state_dict(payload["model"])
        if self.ema is not None and payload.get("ema"):
            self.ema.load_state_dict(payload["ema"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        self.state = train_state_from(payload)
        self.history = self._read_history()
        restore_rng(payload["rng"])
        self.log(f"resumed from {self.out / CHECKPOINT_FILE} after epoch {self.state.epoch}")

    def _read_history(self) -> list[dict[str, Any]]:
        path = self.out / METRICS_FILE
        if not path.is_file():
            return []
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        # Epochs after the checkpoint (a run killed after logging, before its checkpoint) are dropped.
        return [m for m in lines if m.get("epoch", 0) <= self.state.epoch]

    def _write_history(self) -> None:
        atomic_write_text(self.out / METRICS_FILE, "".join(json.dumps(m) + "\n" for m in self.history))

    # -- epochs -------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> float | None:
        """Mean training loss, or None when cancelled before the epoch completed."""
        c = self.config
        seed_epoch(c.seed, epoch, self.dist.rank, self.generator)
        sampler = self.train_loader.sampler
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        set_train_mode(self.model, c.methodology)
        steps = len(self.train_loader)
        emit(self.on_event, EpochStarted(epoch, c.epochs, steps))
        total, count = 0.0, 0
        bar = self._progress(steps, f"epoch {epoch}/{c.epochs}")
        try:
            for step, batch in enumerate(self.train_loader, 1):
                if self.should_stop():
                    return None
                x = self._inputs(batch)
                with self.autocast():
                    if self.sequence_model:
                        # e.g. ALSTM-MLC: forward(x, targets, mask) is its own teacher-forced loss,
                        # called through the (DDP) wrapper so that gradients are synchronised.
                        loss = self.net(x, batch["targets"].to(self.device), batch["mask"].to(self.device))
                    else:
                        loss = self.loss_of(self.net(x), batch)
                if not torch.isfinite(loss):
                    raise ChestviewError(f"epoch {epoch} step {step}: the loss is {loss.item()} (try a lower --lr)")
                self.optimizer.zero_grad(set_to_none=True)
                # The rate this step uses (a per-batch schedule has moved on by the epoch's end).
                self.epoch_lr = float(self.optimizer.param_groups[-1]["lr"])
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                if self.batch_scheduler is not None:
                    self.batch_scheduler.step()
                if self.ema is not None:
                    self.ema.update(self.model)
                value = float(loss.detach())
                total += value * x.shape[0]
                count += x.shape[0]
                emit(self.on_event, BatchDone(step, value, epoch, steps))
                if bar is not None:
                    bar.set_postfix(loss=f"{value:.4f}")
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        mean = total / max(count, 1)
        return ddp.all_reduce_mean(mean, self.dist, self.device)

    def eval_module(self) -> nn.Module:
        """What validation scores and what is kept: the weight average when there is one."""
        return self.ema.module if self.ema is not None else self.model

    @torch.inference_mode()
    def validate(self) -> tuple[float | None, dict[str, float | None]]:
        """Validation loss (mean per image) and per-label AUROC (plus "Abnormality" when the model has
        that output), on the plain module (or its weight average)."""
        if len(self.val_loader.dataset) == 0:
            return None, {}
        model = self.eval_module()
        model.eval()
        total, count = 0.0, 0
        ys, ps, ms = [], [], []
        for batch in self.val_loader:
            x = self._inputs(batch)
            with self.autocast():
                out = model(x)
                if self.sequence_model:
                    loss = model(x, batch["targets"].to(self.device), batch["mask"].to(self.device))
                else:
                    loss = self.loss_of(out, batch)
            total += float(loss) * x.shape[0]
            count += x.shape[0]
            ps.append(torch.sigmoid(out.logits.float()).cpu().numpy())
            ys.append(batch["targets"].numpy())
            ms.append(batch["mask"].numpy())
        y, p, m = np.concatenate(ys), np.concatenate(ps), np.concatenate(ms)
        names = self.data.labels + (("Abnormality",) if self.data.abnormality else ())
        return total / max(count, 1), quick_auroc(names, np.nan_to_num(y), p, m)

    def _progress(self, total: int, desc: str) -> Any:
        want = self.progress if self.progress is not None else sys.stderr.isatty()
        if not (want and self.main):
            return None
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)

    def save(self) -> None:
        if not self.main:
            return
        save_checkpoint(
            self.out / CHECKPOINT_FILE,
            model_state=self.model.state_dict(),
            optimizer_state=self.optimizer.state_dict(),
            scheduler_state=self.scheduler.state_dict(),
            state=self.state,
            config=self.config.to_dict(),
            scaler_state=self.scaler.state_dict(),
            extra={"ema": self.ema.state_dict()} if self.ema is not None else None,
        )

    def run_epochs(self) -> tuple[bool, bool]:
        """Train until done, early stop or cancel. Returns (stopped_early, cancelled)."""
        c = self.config
        patience = c.early_stop_patience
        if c.methodology == "untrained":
            return False, False
        while self.state.epoch < c.epochs:
            if patience and self.state.bad_epochs >= patience:
                return True, False
            epoch = self.state.epoch + 1
            t0 = time.perf_counter()
            train_loss = self.train_epoch(epoch)
            if train_loss is None:
                self.log(f"stopped during epoch {epoch}; the checkpoint holds epoch {self.state.epoch}")
                return False, True
            # The same decisions on every rank: the same BatchNorm statistics, rank 0's numbers.
            ddp.sync_buffers((self.model, self.eval_module()), self.dist)
            val_loss, aurocs = ddp.from_main(self.validate, self.dist)
            valid = [v for k, v in aurocs.items() if v is not None and k in self.data.labels]
            # Without a validation split the training loss has to stand in (logged below).
            selection_loss = val_loss if val_loss is not None else train_loss
            if c.select_on == "auroc" and valid:
                selection_loss = -float(np.mean(valid))  # lower is better, like a loss
            # The head's rate during this epoch's last step; the trunk's is lr * trunk_lr_mult.
            lr = self.epoch_lr
            improved = selection_loss < self.state.best_val_loss
            if improved:
                self.state.best_val_loss, self.state.best_epoch, self.state.bad_epochs = selection_loss, epoch, 0
                if self.main:
                    save_best(self.out / BEST_FILE, self.eval_module().state_dict())
            else:
                self.state.bad_epochs += 1
            if self.batch_scheduler is not None:
                pass  # stepped per batch
            elif isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(val_loss if val_loss is not None else train_loss)
            else:
                self.scheduler.step()
            seconds = time.perf_counter() - t0
            self.state.epoch = epoch
            self.state.wall_seconds += seconds
            metrics = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_auroc_mean": float(np.mean(valid)) if valid else None,
                "val_abnormality_auroc": aurocs.get("Abnormality"),
                "val_auroc": aurocs,
                "lr": lr,
                "seconds": round(seconds, 3),
                "best": improved,
            }
            self.history.append(metrics)
            if self.main:
                self._write_history()
                self.save()  # after metrics: a kill between the two re-runs this epoch on resume
            emit(self.on_event, EpochDone(metrics))
            vl = "n/a" if val_loss is None else f"{val_loss:.4f}"
            va = "n/a" if metrics["val_auroc_mean"] is None else f"{metrics['val_auroc_mean']:.3f}"
            self.log(f"epoch {epoch}/{c.epochs}: train loss {train_loss:.4f}, val loss {vl}, val AUROC {va}, lr {lr:.2e}")
        if patience and self.state.bad_epochs >= patience:
            return True, False
        return False, False


def param_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """Trainable parameters; the trunk's at ``lr * trunk_lr_mult`` (a pretrained trunk needs
    smaller steps than a new head), the rest at ``lr``."""
    trunk = getattr(model, "trunk", None)
    trunk_ids = {id(p) for p in trunk.parameters()} if trunk is not None else set()
    trunk_params = [p for p in model.parameters() if p.requires_grad and id(p) in trunk_ids]
    other = [p for p in model.parameters() if p.requires_grad and id(p) not in trunk_ids]
    groups = []
    if trunk_params:
        groups.append({"params": trunk_params, "lr": config.lr * config.trunk_lr_mult})
    if other:
        groups.append({"params": other, "lr": config.lr})
    return groups or [{"params": [torch.zeros(1, requires_grad=True)], "lr": config.lr}]


def warmup_cosine(warmup_steps: float, total_steps: int) -> Callable[[int], float]:
    """LR factor per optimiser step: linear warm-up from ~0 to 1, then cosine decay to 0."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(total_steps - warmup_steps, 1)
        t = min(max(step - warmup_steps, 0) / span, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * t))

    return factor


class EMA:
    """Exponential moving average of a module's weights (and a copy of its buffers), updated after
    every optimiser step; what validation scores and the zoo entry keeps when enabled."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        import copy

        self.decay = float(decay)
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))  # short memory at the start
        for ema_v, v in zip(self.module.state_dict().values(), model.state_dict().values()):
            if ema_v.dtype.is_floating_point:
                ema_v.mul_(d).add_(v.detach(), alpha=1.0 - d)
            else:
                ema_v.copy_(v)

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])


def train(
    config: TrainConfig,
    *,
    on_event: EventSink | None = None,
    should_stop: StopCheck | None = None,
    resume: bool = False,
    progress: bool | None = None,
    command_line: str | None = None,
    data: TrainData | None = None,
    model_factory: Callable[[], nn.Module] | None = None,
    finalize: bool = True,
) -> TrainResult:
    """Train ``config.arch`` on ``config.data``; then (rank 0) evaluate and write the zoo entry.

    ``data`` and ``model_factory`` replace the dataset and the registry (tests); without a real
    dataset the final evaluation is skipped. ``progress``: tqdm bars (None: when stderr is a tty).
    """
    started = time.perf_counter()
    out = Path(config.out)
    if resume and not (out / CHECKPOINT_FILE).is_file():
        raise ChestviewError(f"{out / CHECKPOINT_FILE}: no checkpoint to resume from")
    if not resume and (out / CHECKPOINT_FILE).is_file():
        raise ChestviewError(f"{out}: holds a previous run (use --resume to continue it, or another --out)")
    data = data if data is not None else build_data(config)
    run = _Run(config, data, model_factory, on_event, should_stop, progress)
    try:
        if run.main:
            out.mkdir(parents=True, exist_ok=True)
            if removed := remove_stale_run_temps(out):
                run.log(f"removed {removed} temporary file(s) left in {out} by an interrupted run")

            atomic_write_text(out / "config.toml", config.to_toml())
            if data.dataset is not None and data.split is not None and not (resume and (out / SPLIT_FILE).is_file()):
                # The split as its images (names and content hashes): evaluation can never leak.
                write_split(out / SPLIT_FILE, record_split(data.dataset, data.split))
        this_command = command_line if command_line is not None else shlex.join(sys.argv)
        command_line = this_command
        if run.main:
            if resume and (out / COMMAND_FILE).is_file():
                # The card's command must reproduce the run: the one that started it, not "--resume".
                command_line = (out / COMMAND_FILE).read_text(encoding="utf-8").strip() or this_command
            elif not resume:
                atomic_write_text(out / COMMAND_FILE, this_command + "\n")
        if resume:
            run.resume()
        else:
            run.log(f"training {config.arch} on {config.data or 'given data'}: {len(data.train)} train, "
                    f"{len(data.val)} val images, device {run.device}, world size {run.dist.world_size}")
        stopped_early, cancelled = run.run_epochs()
        if stopped_early:
            what = "validation-AUROC" if config.select_on == "auroc" else "validation-loss"
            run.log(f"early stop: no {what} improvement for {config.early_stop_patience} epochs")
        result = TrainResult(
            out_dir=out,
            epochs_run=run.state.epoch,
            best_epoch=run.state.best_epoch,
            best_val_loss=run.state.best_val_loss,
            stopped_early=stopped_early,
            cancelled=cancelled,
            wall_seconds=run.state.wall_seconds,
            history=list(run.history),
        )
        if run.main and finalize and not cancelled and data.dataset is not None:
            if (out / BEST_FILE).is_file():
                run.model.load_state_dict(load_best(out / BEST_FILE))
            result.model_dir, result.evaluation = finalize_run(
                config,
                data,
                run.model,
                result,
                command_line=command_line,
                device=run.device,
                world_size=run.dist.world_size,
                total_seconds=time.perf_counter() - started,
                on_event=run.on_event,
                should_stop=should_stop,
            )
        ddp.barrier(run.dist)
        emit(run.on_event, TrainFinished(result))
        return result
    finally:
        ddp.shutdown(run.dist)


def result_summary(result: TrainResult) -> str:
    state = "cancelled" if result.cancelled else ("stopped early" if result.stopped_early else "done")
    if math.isinf(result.best_val_loss):
        best = "best val loss n/a"
    elif result.best_val_loss < 0:  # selected on validation AUROC (stored negated)
        best = f"best val AUROC {-result.best_val_loss:.3f}"
    else:
        best = f"best val loss {result.best_val_loss:.4f}"
    return f"{state}: {result.epochs_run} epochs, {best} (epoch {result.best_epoch})"
