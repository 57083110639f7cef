"""GUI test fixtures: a tiny, freshly initialised zoo model (tests only, never shipped)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LABELS = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)
TINY_ID = "tiny-test-resnet18"


def build_tiny_zoo(root: Path) -> str:
    """A chexnet head on a resnet18 trunk, random weights (seed 0), 128 px input, in ``root``."""
    import torch

    from chestview.engine.models import get_model
    from chestview.engine.preprocess import Preprocessing
    from chestview.engine.zoo import ModelCard, save_zoo_entry

    torch.manual_seed(0)
    model = get_model("chexnet", num_classes=len(LABELS), in_chans=1, trunk="resnet18")
    card = ModelCard(
        id=TINY_ID,
        architecture="chexnet",
        labels=LABELS,
        preprocessing=Preprocessing(size=128, channels=1, mean=(0.5,), std=(0.25,)),
        arch_kwargs={"trunk": "resnet18"},
        # Low thresholds so that a random model has positive findings to draw.
        thresholds={lbl: 0.3 for lbl in LABELS},
        unreliable_labels=("Hernia",),
        supervision="untrained",
        description="Random weights for GUI tests; not a model.",
        provenance={"source": "tests/gui/conftest.py"},
    )
    save_zoo_entry(root / TINY_ID, card, model.state_dict(), fp16=False)
    return TINY_ID


@pytest.fixture(scope="session")
def tiny_zoo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zoo")
    build_tiny_zoo(root)
    return root


@pytest.fixture
def tiny_zoo(tiny_zoo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", str(tiny_zoo_dir))
    monkeypatch.setenv("CHESTVIEW_BUNDLED_ZOO", str(tiny_zoo_dir.parent / "no-bundled-models"))
    return TINY_ID


@pytest.fixture(autouse=True)
def _fresh_result_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each GUI test starts with an empty on-disk result cache (tests that run a folder twice
    share one inside the test)."""
    from chestview.engine.result_cache import ResultCache
    from chestview.gui import jobs

    cache = ResultCache(tmp_path / "results-cache.sqlite")
    monkeypatch.setattr(jobs, "disk_cache", lambda: cache)
    yield cache
    cache.close()


@pytest.fixture(autouse=True)
def _fresh_reading_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each GUI test starts with no reviews and no stored annotations (they are keyed by the films'
    bytes, and the tests share films); a test that restarts the window shares them inside the test."""
    from chestview.engine import annotations, reviews

    monkeypatch.setattr(reviews, "default_review_path", lambda: tmp_path / "reviews.sqlite")
    monkeypatch.setattr(annotations, "default_annotation_dir", lambda: tmp_path / "annotations")
