"""ChestXrayTorchDataset: item layout, box masks, cache and augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chestview.engine.data import ChestXrayTorchDataset, open_dataset
from chestview.engine.data.augment import AugmentConfig, apply_augment, sample_params
from chestview.engine.preprocess import Preprocessing, prepare
from chestview.engine.io.loader import load_image


@pytest.fixture(scope="module")
def nih(test_data: Path):
    return open_dataset(f"nih:{test_data / 'nih'}")


def test_item_layout_and_matches_prepare(nih, tmp_path: Path) -> None:
    pre = Preprocessing(size=64)
    tds = ChestXrayTorchDataset(nih, [0, 4], pre, cache_dir=tmp_path)
    item = tds[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert item["targets"].shape == (14,) and item["mask"].tolist() == [1.0] * 14
    assert item["box_mask"].shape == (14, 64, 64) and item["box_mask"].dtype == torch.uint8
    assert not item["has_boxes"].any() and item["index"] == 0
    expected = prepare(load_image(nih.samples[0].path), pre)
    assert torch.allclose(item["image"], expected, atol=0.5 / 255 / min(pre.std) + 1e-5)  # uint8 cache


def test_box_mask_rasterised_at_training_size(nih, tmp_path: Path) -> None:
    i = next(k for k, s in enumerate(nih.samples) if s.path.endswith("00000072_000.png"))
    item = ChestXrayTorchDataset(nih, [i], Preprocessing(size=128), cache_dir=tmp_path)[0]
    c = nih.labels.index("Atelectasis")
    assert item["has_boxes"].tolist() == [k == c for k in range(14)]
    ys, xs = np.nonzero(item["box_mask"][c].numpy())
    # box x=356.5 y=567.8 w=127.9 h=82.4 in 1024 space -> /8 at 128 px
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == (44, 70, 60, 81)
    assert item["box_mask"].sum() == item["box_mask"][c].sum()


def test_cache_written_once_and_reused(nih, tmp_path: Path) -> None:
    tds = ChestXrayTorchDataset(nih, [1], Preprocessing(size=32), cache_dir=tmp_path)
    first = tds[0]["image"]
    files = list(tmp_path.rglob("*.npy"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))
    assert torch.equal(tds[0]["image"], first)
    uncached = ChestXrayTorchDataset(nih, [1], Preprocessing(size=32), cache=False)[0]["image"]
    assert torch.equal(uncached, first)


def test_augmentation_seeded_mild_and_moves_masks_with_image() -> None:
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    p1, p2 = sample_params(g1, 100), sample_params(g2, 100)
    assert p1 == p2 and abs(p1.angle) <= 7 and 0.9 <= p1.scale <= 1.1 and not p1.flip
    assert all(abs(t) <= 5 for t in p1.translate)
    gray = torch.zeros(1, 100, 100)
    gray[:, 40:60, 20:40] = 1.0
    mask = (gray > 0).to(torch.uint8).repeat(2, 1, 1)
    out, out_mask = apply_augment(gray, mask, p1)
    assert out_mask.dtype == torch.uint8 and set(out_mask.unique().tolist()) <= {0, 1}
    # the bright square and its mask end up in the same place
    assert ((out > 0.5) == out_mask[0].bool()).float().mean() > 0.97
    flip = sample_params(torch.Generator().manual_seed(0), 100, AugmentConfig(hflip=True))
    assert isinstance(flip.flip, bool)


def test_augmented_items_differ_across_calls_but_repeat_for_a_seed(test_data: Path, tmp_path: Path) -> None:
    ds = open_dataset(f"nih:{test_data / 'nih_64px'}")
    pre = Preprocessing(size=64)
    a = ChestXrayTorchDataset(ds, [0], pre, augment=True, seed=1, cache_dir=tmp_path)
    b = ChestXrayTorchDataset(ds, [0], pre, augment=True, seed=1, cache_dir=tmp_path)
    x1, x2 = a[0]["image"], a[0]["image"]
    assert not torch.equal(x1, x2)
    assert torch.equal(b[0]["image"], x1)


def test_an_unreadable_image_is_skipped_with_its_name(tmp_path: Path, test_data: Path, caplog) -> None:
    import shutil

    from chestview.engine.errors import DatasetError

    data = tmp_path / "nih"
    shutil.copytree(test_data / "nih_64px", data)
    ds = open_dataset(f"nih:{data}")
    victim = Path(ds.samples[1].path)
    victim.write_bytes(victim.read_bytes()[:100])  # a truncated PNG
    tds = ChestXrayTorchDataset(ds, [1, 2], Preprocessing(size=32), cache_dir=tmp_path / "cache")
    with caplog.at_level("WARNING"):
        item = tds[0]
    assert item["index"] == 2  # the next readable image takes its place
    assert victim.name in caplog.text and "skipped" in caplog.text
    Path(ds.samples[2].path).write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="none of the 2 images"):
        ChestXrayTorchDataset(ds, [1, 2], Preprocessing(size=32), cache_dir=tmp_path / "cache2")[0]
