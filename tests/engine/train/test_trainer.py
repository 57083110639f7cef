"""The loop on a tiny model and synthetic data: resume exactness, early stopping, freezing, cancel."""

import json

import pytest
import torch

from chestview.engine.errors import ChestviewError
from chestview.engine.train.checkpoint import load_checkpoint
from chestview.engine.train.config import TrainConfig
from chestview.engine.train.events import BatchDone, Collector, EpochDone, EpochStarted, TrainFinished
from chestview.engine.train.trainer import train
from train_helpers import TinyNet, fake_data


def _config(tmp_path, name="run", **kw):
    base = dict(arch="tiny", size=16, channels=1, epochs=2, batch_size=8, num_workers=0, lr=1e-2,
                device="cpu", out=str(tmp_path / name), seed=3)
    return TrainConfig(**{**base, **kw})


def _train(cfg, **kw):
    return train(cfg, data=fake_data(), model_factory=TinyNet, progress=False, **kw)


def test_resume_is_exact(tmp_path):
    straight = _train(_config(tmp_path, "straight"))
    _train(_config(tmp_path, "split", epochs=1), command_line="chestview train --epochs 1")
    resumed = _train(_config(tmp_path, "split", epochs=2), resume=True, command_line="chestview train --resume")
    # the card of a resumed run names the command that started it
    assert (tmp_path / "split" / "command.txt").read_text() == "chestview train --epochs 1\n"
    assert straight.epochs_run == resumed.epochs_run == 2
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["best_val_loss"] == b["best_val_loss"]
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (tmp_path / "split" / "best.safetensors").is_file()


def test_resume_removes_the_temporaries_of_a_run_killed_while_writing(tmp_path):
    _train(_config(tmp_path, "split", epochs=1))
    run = tmp_path / "split"
    data = (run / "checkpoint.pt").read_bytes()
    # what a kill -9 during atomic writes leaves: half-written temporaries beside their targets
    stale = [run / ".checkpoint.pt.q1w2e3r4.tmp", run / ".best.safetensors.a_b_c_d_.tmp", run / ".metrics.jsonl.zzzzzzzz.tmp"]
    for p in stale:
        p.write_bytes(data[: len(data) // 2])
    foreign = run / ".notes.a1b2c3d4.tmp"  # not a name a run writes: left alone
    foreign.write_text("mine")
    events = Collector()
    _train(_config(tmp_path, "split", epochs=2), resume=True, on_event=events)
    assert not any(p.exists() for p in stale) and foreign.exists()
    assert any("removed 3 temporary file(s)" in getattr(e, "message", "") for e in events.events)


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    _train(_config(tmp_path, epochs=1))
    with pytest.raises(ChestviewError, match="--resume"):
        _train(_config(tmp_path, epochs=1))
    with pytest.raises(ChestviewError, match="no checkpoint"):
        _train(_config(tmp_path, "other"), resume=True)


def test_early_stopping(tmp_path):
    # A huge learning rate with a plateau schedule makes the val loss stop improving quickly.
    res = _train(_config(tmp_path, epochs=30, lr=5.0, early_stop_patience=2, schedule="step"))
    assert res.stopped_early
    assert res.epochs_run < 30
    assert res.epochs_run - res.best_epoch == 2


def test_classifier_methodology_freezes_trunk(tmp_path):
    torch.manual_seed(3)
    ref = TinyNet()
    before = {k: v.clone() for k, v in ref.trunk.state_dict().items()}
    _train(_config(tmp_path, methodology="classifier"))
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["model"]
    for key, value in before.items():
        assert torch.equal(state[f"trunk.{key}"], value), key  # BatchNorm statistics included
    assert not torch.equal(state["head.weight"], ref.head.weight.detach())


def test_events_and_cancel_keeps_last_completed_epoch(tmp_path):
    events = Collector()
    batches = {"n": 0}

    def stop() -> bool:
        return batches["n"] >= 4  # 3 batches per epoch: stop inside epoch 2

    def sink(ev):
        events(ev)
        if isinstance(ev, BatchDone):
            batches["n"] += 1

    res = _train(_config(tmp_path, epochs=3), on_event=sink, should_stop=stop)
    assert res.cancelled and res.epochs_run == 1
    assert len(events.of(EpochStarted)) == 2 and len(events.of(EpochDone)) == 1
    assert isinstance(events.events[-1], TrainFinished)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 1
    done = events.of(EpochDone)[0].metrics
    assert set(done) >= {"epoch", "train_loss", "val_loss", "val_auroc_mean", "val_auroc", "lr", "seconds"}


def test_box_supervision_and_losses_run(tmp_path):
    for loss in ("wcel", "focal", "msml"):
        res = _train(_config(tmp_path, loss, loss=loss, box_weight=1.0, epochs=1))
        assert res.epochs_run == 1


def test_select_on_auroc_keeps_the_epoch_of_best_validation_auroc(tmp_path):
    from chestview.engine.train.trainer import result_summary

    result = _train(_config(tmp_path, epochs=4, early_stop_patience=0, select_on="auroc"))
    aurocs = [row["val_auroc_mean"] for row in result.history]
    assert result.best_epoch == 1 + aurocs.index(max(aurocs))
    assert result.best_val_loss == pytest.approx(-max(aurocs))
    kept = [row["epoch"] for row in result.history if row["best"]]
    assert kept[-1] == result.best_epoch  # the last improvement is the epoch whose weights are kept
    assert f"best val AUROC {max(aurocs):.3f}" in result_summary(result)
    with pytest.raises(ChestviewError, match="select_on"):
        _config(tmp_path, select_on="accuracy")
    with pytest.raises(ChestviewError, match="heatmap_threshold"):
        _config(tmp_path, heatmap_threshold=300)
