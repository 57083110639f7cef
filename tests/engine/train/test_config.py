import pytest

from chestview.engine.errors import ChestviewError
from chestview.engine.preprocess import IMAGENET_MEAN
from chestview.engine.train.config import TrainConfig, load_config


def test_toml_round_trip(tmp_path):
    cfg = TrainConfig(
        arch="chestxray8",
        arch_kwargs={"trunk": "resnet18", "lse_r": 10.0},
        data="nih:/data/nih",
        labels=("Effusion", "Mass"),
        loss="focal",
        loss_kwargs={"gamma": 2.0},
        split=(0.8, 0.1, 0.1),
        model_id="x",
        mean=(0.5,),
        std=(0.25,),
        channels=1,
    )
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg


def test_train_table_overrides_and_errors(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[train]\narch = "chexnet"\nepochs = 3\n')
    cfg = load_config(path).with_overrides(epochs=None, lr=0.01)
    assert (cfg.arch, cfg.epochs, cfg.lr) == ("chexnet", 3, 0.01)
    path.write_text("epochz = 3\n")
    with pytest.raises(ChestviewError, match="epochz"):
        load_config(path)
    with pytest.raises(ChestviewError, match="schedule"):
        TrainConfig(schedule="linear")


def test_preprocessing_derived_from_trunk():
    assert TrainConfig().preprocessing().mean == (0.5, 0.5, 0.5)
    assert TrainConfig(channels=1).preprocessing().std == (0.25,)
    pre = TrainConfig(arch_kwargs={"trunk": "resnet18", "pretrained_trunk": True}).preprocessing()
    assert pre.mean == IMAGENET_MEAN
    assert TrainConfig(arch="chexnet", data="nih:/x/nih_64px", size=64).default_model_id() == "chexnet-nih_64px-64px"
