"""Published checkpoint layouts (random weights, real names and shapes) imported into the zoo.

The reference is the original layout loaded by hand into a torchvision DenseNet-121; the imported
zoo model must give the same logits. Inputs are 64x64 to keep this fast.
"""

from __future__ import annotations

import io
import pickle
import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from chestview.cli.main import main
from chestview.engine.errors import ModelError
from chestview.engine.paths import user_models_dir
from chestview.engine.preprocess import normalise_tensor
from chestview.engine.zoo import load_model
from chestview.engine.zoo.importers import (
    CHEXNET_LABELS,
    TXRV_WEIGHT_SETS,
    ImportOptions,
    import_checkpoint,
    read_checkpoint,
)

ATOL = 1e-5


@pytest.fixture(autouse=True)
def _own_user_dirs(tmp_path, monkeypatch):
    """A fresh user zoo and cache per test (the session-wide one would carry imports between tests)."""
    monkeypatch.setenv("CHESTVIEW_HOME", str(tmp_path / "home"))


def _randomised_densenet(num_classes: int, in_chans: int, seed: int) -> nn.Module:
    """A torchvision DenseNet-121 whose BatchNorm statistics are random too, so a misplaced norm shows."""
    torch.manual_seed(seed)
    net = tvm.densenet121(weights=None, num_classes=num_classes)
    if in_chans != 3:
        net.features.conv0 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        net.classifier.bias.uniform_(-1, 1)
    return net.eval()


@pytest.fixture(scope="module")
def chexnet_ref() -> nn.Module:
    return _randomised_densenet(14, 3, seed=1)


@pytest.fixture(scope="module")
def txrv_ref() -> nn.Module:
    return _randomised_densenet(18, 1, seed=2)


def _old_style_chexnet(state: dict[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """arnoweng/CheXNet's layout: DataParallel + `densenet121.` prefixes, `norm.1` names, Sequential classifier,
    and no num_batches_tracked (saved before PyTorch 0.4.1)."""
    out = OrderedDict()
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        key = re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", key)
        key = key.replace("classifier.", "classifier.0.")
        out["module.densenet121." + key] = value
    return out


def _logits(model_dir: Path | str, x: torch.Tensor) -> torch.Tensor:
    loaded = load_model(model_dir)
    with torch.no_grad():
        return loaded.module(x).logits


def test_chexnet_checkpoint_matches_the_original(tmp_path, chexnet_ref):
    state = _old_style_chexnet(chexnet_ref.state_dict())
    assert "module.densenet121.features.denseblock1.denselayer1.norm.1.weight" in state
    ckpt = tmp_path / "model.pth.tar"
    optimizer = {"state": {}, "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]}
    torch.save({"epoch": 7, "state_dict": state, "best_loss": torch.tensor(0.15), "optimizer": optimizer}, ckpt)

    result = import_checkpoint(ckpt, "chexnet")
    card = result.card
    assert result.path == user_models_dir() / "chexnet-arnoweng"
    assert card.labels == CHEXNET_LABELS and card.supervision == "imported"
    assert card.preprocessing.channels == 3 and card.preprocessing.size == 224
    assert card.thresholds == {} and "0.5" in card.description
    assert card.provenance["source_file"] == "model.pth.tar" and len(card.provenance["source_sha256"]) == 64
    assert card.provenance["format"] == "chexnet" and "arXiv:1711.05225" in card.provenance["paper"]

    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = chexnet_ref(x)
    torch.testing.assert_close(_logits("chexnet-arnoweng", x), expected, atol=ATOL, rtol=0)


def test_torchxrayvision_drops_placeholder_outputs(tmp_path, txrv_ref):
    ws = TXRV_WEIGHT_SETS["chex"]  # placeholders interleaved, so the row slicing is really checked
    ckpt = tmp_path / ws.file_name
    torch.save(txrv_ref.state_dict(), ckpt)
    assert txrv_ref.state_dict()["features.conv0.weight"].shape == (64, 1, 7, 7)

    result = import_checkpoint(ckpt, "torchxrayvision", out_dir=tmp_path / "zoo" / "m")
    card = result.card
    keep = [i for i, label in enumerate(ws.labels) if label]
    assert card.id == "txrv-densenet121-chex" and result.dropped_outputs == 18 - len(keep)
    assert card.labels == tuple(ws.labels[i] for i in keep)
    assert card.thresholds == pytest.approx({ws.labels[i]: ws.op_threshs[i] for i in keep})
    pre = card.preprocessing
    assert pre.channels == 1 and pre.size == 224
    assert normalise_tensor(torch.tensor([[0.0, 1.0]]), pre).flatten().tolist() == [-1024.0, 1024.0]

    x = torch.randn(2, 1, 64, 64) * 500
    with torch.no_grad():
        expected = txrv_ref(x)[:, keep]
    torch.testing.assert_close(_logits(result.path, x), expected, atol=1e-4, rtol=1e-5)


def test_torchxrayvision_wrapped_state_dict_with_saved_thresholds_and_fp16(tmp_path, txrv_ref):
    state = dict(txrv_ref.state_dict())
    threshs = torch.full((18,), float("nan"))
    threshs[:14] = 0.25
    state["op_threshs"] = threshs  # torchxrayvision registers op_threshs as a buffer
    ckpt = tmp_path / "my-nih-weights.safetensors"
    from safetensors.torch import save_file

    save_file(state, str(ckpt))
    with pytest.raises(ModelError, match="--weight-set"):
        import_checkpoint(ckpt, "torchxrayvision", out_dir=tmp_path / "a")
    result = import_checkpoint(ckpt, "torchxrayvision", ImportOptions(weight_set="nih", model_id="nih"),
                               out_dir=tmp_path / "b", fp16=True)
    assert result.card.id == "nih" and result.dropped_outputs == 4
    assert len(result.card.labels) == 14 and set(result.card.thresholds.values()) == {0.25}
    from safetensors import safe_open

    with safe_open(str(result.path / result.card.weights), "pt") as f:
        assert f.get_tensor("head.classifier.weight").dtype == torch.float16
        assert f.get_tensor("head.classifier.weight").shape == (14, 1024)


def test_cli_format_choices_match_the_engine():
    from chestview.cli.import_cmd import FORMAT_CHOICES
    from chestview.engine.zoo.importers import FORMATS

    assert FORMAT_CHOICES == FORMATS


def test_weight_sets_are_consistent():
    for ws in TXRV_WEIGHT_SETS.values():
        assert len(ws.labels) == len(ws.op_threshs) == 18
        assert [bool(label) for label in ws.labels] == [t is not None for t in ws.op_threshs], ws.name


def test_pickled_module_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    ckpt = tmp_path / "evil.pt"
    ckpt.write_bytes(pickle.dumps({"state_dict": Evil()}, protocol=2))
    with pytest.raises(ModelError, match=r"evil\.pt: this file is a pickled Python object.*state_dict"):
        read_checkpoint(ckpt)
    assert not marker.exists()

    module_file = tmp_path / "whole-model.pt"
    torch.save(nn.Linear(2, 2), module_file)
    with pytest.raises(ModelError, match="whole-model.pt: this file is a pickled Python object"):
        import_checkpoint(module_file, "torchxrayvision", ImportOptions(weight_set="all"))


def test_state_dict_import_is_strict_and_cli_works(tmp_path, capsys):
    from chestview.engine.models import get_model

    torch.manual_seed(3)
    net = get_model("resnet34_baseline", num_classes=3, trunk="resnet18").eval()
    ckpt = tmp_path / "My Model.pt"
    torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, ckpt)
    rc = main(["models", "import", str(ckpt), "--format", "state-dict", "--arch", "resnet34_baseline",
               "--arch-kwargs", '{"trunk": "resnet18"}', "--labels", "A,B,C", "--thresholds", '{"B": 0.3}',
               "--preprocessing", '{"size": 64}'])
    assert rc == 0, capsys.readouterr().err
    assert "imported my-model" in capsys.readouterr().out
    loaded = load_model("my-model")
    assert loaded.card.labels == ("A", "B", "C") and loaded.card.threshold("B") == 0.3
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x).logits, net(x).logits, atol=ATOL, rtol=0)

    # Same id again: refused unless --force; wrong architecture: one line naming the file.
    assert main(["models", "import", str(ckpt), "--format", "state-dict", "--arch", "resnet34_baseline",
                 "--arch-kwargs", '{"trunk": "resnet18"}', "--labels", "3"]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["models", "import", str(ckpt), "--format", "state-dict", "--arch", "resnet34_baseline",
                 "--labels", "3", "--id", "other"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "My Model.pt: weights do not fit 'resnet34_baseline'" in err


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("hello")
    with pytest.raises(ModelError, match="notes.pt: not a readable PyTorch checkpoint"):
        read_checkpoint(bad)
    buf = io.BytesIO()
    torch.save({"epoch": 3, "net": [1, 2]}, buf)
    (tmp_path / "odd.pt").write_bytes(buf.getvalue())
    with pytest.raises(ModelError, match="odd.pt: not a state dict"):
        read_checkpoint(tmp_path / "odd.pt")
