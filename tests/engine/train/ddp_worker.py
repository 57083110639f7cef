"""Run by test_ddp.py under torchrun: one DDP epoch of the tiny model; each rank saves its weights."""

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

    cfg = TrainConfig(arch="tiny", size=16, channels=1, epochs=1, batch_size=4, num_workers=0, lr=1e-2,
                      device="cpu", out=str(out / "run"), seed=5)
    result = train(cfg, data=fake_data(16, 4), model_factory=factory, progress=False)
    rank = int(os.environ["RANK"])
    torch.save({k: v.clone() for k, v in built[0].state_dict().items()}, out / f"rank{rank}.pt")
    assert result.epochs_run == 1


if __name__ == "__main__":
    main()
