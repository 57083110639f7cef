"""DistributedDataParallel on the CPU (gloo): two ranks end with identical weights and BatchNorm
statistics, and take the same decision at every epoch (validation numbers, best epoch, early stop, LR)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from train_helpers import TinyNet


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_ranks_agree(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[3])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path), "3"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    torch.manual_seed(5)
    init = TinyNet().state_dict()
    for key in a:  # BatchNorm statistics included: they are synchronised before validation
        assert torch.equal(a[key], b[key]), key
    assert not torch.equal(a["head.weight"], init["head.weight"])  # it did train
    assert not torch.equal(a["trunk.1.running_mean"], init["trunk.1.running_mean"])
    d0 = json.loads((tmp_path / "rank0.json").read_text())
    d1 = json.loads((tmp_path / "rank1.json").read_text())
    assert d0 == d1  # every validation number and every decision, on both ranks
    assert d0["epochs_run"] >= 2 and all(m["val_loss"] is not None for m in d0["history"])
    # Only rank 0 writes the run folder.
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert (tmp_path / "run" / "metrics.jsonl").read_text().count("\n") == d0["epochs_run"]
