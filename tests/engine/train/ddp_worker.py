"""Run by test_ddp.py under torchrun: DDP epochs of the tiny model; each rank saves its weights
and every decision it took (per-epoch validation numbers, best epoch, early stop, learning rate)."""

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_helpers import TinyNet, fake_data  # noqa: E402

from chestview.engine.train.config import TrainConfig  # noqa: E402
from chestview.engine.train.trainer import train  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1])
    built = []

    def factory() -> TinyNet:
        built.append(TinyNet())
        return built[-1]

    epochs = int(sys.argv[2])
    cfg = TrainConfig(arch="tiny", size=16, channels=1, epochs=epochs, batch_size=4, num_workers=0, lr=1e-2,
                      device="cpu", out=str(out / "run"), seed=5, schedule="plateau", early_stop_patience=2)
    result = train(cfg, data=fake_data(16, 8), model_factory=factory, progress=False)
    rank = int(os.environ["RANK"])
    torch.save({k: v.clone() for k, v in built[0].state_dict().items()}, out / f"rank{rank}.pt")
    decisions = {
        "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
        "stopped_early": result.stopped_early,
        "history": [{k: m[k] for k in ("epoch", "train_loss", "val_loss", "val_auroc", "lr", "best")}
                    for m in result.history],
    }
    (out / f"rank{rank}.json").write_text(json.dumps(decisions))


if __name__ == "__main__":
    main()
