"""Test set-up: Qt offscreen, slow tests opt-in, the repo's small real data files."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SAMPLES = REPO / "resources" / "samples"
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's zoo, cache and settings out of tests."""
    base = tmp_path_factory.getbasetemp() / "chestview-user"
    monkeypatch.setenv("CHESTVIEW_HOME", str(base))


NIH_LABELS = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)


def make_tiny_zoo_entry(directory: Path, model_id: str = "tiny-test-model", seed: int = 0) -> Path:
    """A small, freshly initialised model saved as a zoo entry: for exercising code paths in tests only."""
    import torch

    from chestview.engine.models import get_model
    from chestview.engine.preprocess import Preprocessing
    from chestview.engine.zoo import ModelCard, save_zoo_entry

    torch.manual_seed(seed)
    arch_kwargs = {"trunk": "resnet18"}
    module = get_model("resnet34_baseline", num_classes=len(NIH_LABELS), **arch_kwargs)
    card = ModelCard(
        id=model_id,
        architecture="resnet34_baseline",
        arch_kwargs=arch_kwargs,
        labels=NIH_LABELS,
        preprocessing=Preprocessing(size=64, channels=3),
        thresholds={label: 0.5 for label in NIH_LABELS},
        unreliable_labels=("Hernia",),
        supervision="untrained",
        description="Random weights, for tests only.",
    )
    target = directory / model_id
    save_zoo_entry(target, card, module.state_dict(), fp16=False)
    return target


@pytest.fixture
def tiny_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zoo directory holding one tiny untrained model, on $CHESTVIEW_ZOO_PATH. Returns the model's directory."""
    zoo = tmp_path / "zoo"
    path = make_tiny_zoo_entry(zoo)
    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", str(zoo))
    # Hide the bundled models so that the tiny one is the zoo's default.
    monkeypatch.setenv("CHESTVIEW_BUNDLED_ZOO", str(tmp_path / "no-bundled-models"))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny untrained model as a directory (for module-scoped fixtures; load it by path)."""
    return make_tiny_zoo_entry(tmp_path_factory.mktemp("tiny-zoo"))
