"""Sharded prediction: --shard parts, and two CPU processes under torchrun, give the single-process results.json."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _comparable(doc):
    rows = []
    for r in doc["results"]:
        r = dict(r)
        r.pop("timings_ms", None)
        rows.append(r)
    return rows


def _run(args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert 'chestview/' not in proc.stderr.split("Traceback")[-1] or "Traceback" not in proc.stderr, proc.stderr
    return proc


def _inputs(samples_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for p in sorted(samples_dir.glob("*.png"))[:3] + [samples_dir / "cr_siim_jpeg_baseline.dcm"]:
        shutil.copy(p, src)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return ["predict", str(src), str(tmp_path / "missing.png"), "--batch-size", "1", "--boxes", "all",
            "--backend", "torch"]


def test_shard_parts_merge_into_the_single_run(tiny_zoo, samples_dir, tmp_path):
    from chestview.cli.main import main

    common = _inputs(samples_dir, tmp_path)
    assert main([*common, "--out", str(tmp_path / "one")]) == 1  # the broken and the missing input
    two = tmp_path / "two"
    main([*common, "--out", str(two), "--shard", "2/2"])
    assert not (two / "results.json").exists()  # the second part alone is not the run
    main([*common, "--out", str(two), "--shard", "1/2"])
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    merged = json.loads((two / "results.json").read_text())
    assert merged["settings"]["shards"] == 2 and len(one["results"]) == 6
    assert _comparable(merged) == _comparable(one)
    # Every shard named its annotated images from the whole list: the same files as one process.
    assert sorted(p.name for p in two.glob("*.png")) == sorted(p.name for p in (tmp_path / "one").glob("*.png"))
    assert not list(two.glob("results.part-*"))


@pytest.mark.slow
def test_torchrun_two_processes_match_one(tiny_zoo, samples_dir, tmp_path):
    common = [*_inputs(samples_dir, tmp_path), "--no-images"]
    single = _run(["-m", "chestview", *common, "--out", str(tmp_path / "one")], tmp_path)
    assert single.returncode == 1  # the broken and the missing input
    sharded = _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    "-m", "chestview", *common, "--out", str(tmp_path / "two")], tmp_path)
    assert sharded.returncode != 0, sharded.stderr  # a failed input still fails the run
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    assert two["settings"]["shards"] == 2
    assert len(one["results"]) == 6
    assert _comparable(two) == _comparable(one)
    assert not list((tmp_path / "two").glob("results.part-*"))
