"""The smallest input each trunk takes, checked by building the trunks on the CPU (not assumed)."""

from functools import lru_cache

import pytest
import torch

from chestview.engine.errors import ChestviewError, ModelError
from chestview.engine.models.registry import min_input_size
from chestview.engine.models.trunks import build_trunk, list_trunks
from chestview.engine.models.trunks import min_input_size as trunk_min_input_size


@lru_cache(maxsize=None)
def _trunk(name):
    return build_trunk(name).eval()


@pytest.mark.parametrize("name", ["densenet121", "resnet18", "efficientnet_lite0"])
def test_every_family_gives_one_map_cell_at_its_minimum(name):
    trunk = _trunk(name)
    size = trunk_min_input_size(name)
    with torch.inference_mode():
        out = trunk(torch.zeros(1, 3, size, size))
    assert out.shape[-2:] == (1, 1)  # stride 32: one cell at the minimum


def test_densenet_fails_below_its_minimum_as_the_issue_saw():
    trunk = _trunk("densenet121")
    below = trunk_min_input_size("densenet121") - 8
    with torch.inference_mode(), pytest.raises(RuntimeError, match="too small"):
        trunk(torch.zeros(1, 3, below, below))


def test_every_trunk_has_a_minimum_and_architectures_find_theirs():
    assert all(trunk_min_input_size(name) == 32 for name in list_trunks())
    assert min_input_size("chexnet", {}) == (32, "densenet121")  # the builder's default trunk
    assert min_input_size("chexnet", {"trunk": "resnet18"}) == (32, "resnet18")
    with pytest.raises(ModelError, match="unknown trunk"):
        min_input_size("chexnet", {"trunk": "vgg16"})


def test_train_config_refuses_a_size_below_the_minimum_naming_it():
    from chestview.engine.train.config import TrainConfig

    with pytest.raises(ChestviewError, match=r"size 16 .*densenet121: at least 32 px"):
        TrainConfig(arch="chexnet", size=16)
    assert TrainConfig(arch="chexnet", size=32).size == 32


def test_an_architecture_with_a_body_of_its_own_trains_without_naming_a_trunk():
    # ctranscnn's default "trunk" is its own two-branch body, not a shared trunk: no shared minimum applies,
    # and the training configuration must accept it (it refused it as an unknown trunk).
    from chestview.engine.train.config import TrainConfig

    assert min_input_size("ctranscnn", {}) is None
    assert TrainConfig(arch="ctranscnn", size=224).size == 224
    with pytest.raises(ModelError, match="unknown trunk"):
        min_input_size("ctranscnn", {"trunk": "vgg16"})
