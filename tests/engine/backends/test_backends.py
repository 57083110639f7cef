"""The exported CPU backends against torch: exact on a real image, cached by SHA-256, and a clean
fall back to torch when a runtime, an export or the check fails."""

import shutil
import sys

import pytest
import torch

from chestview.engine.backends import BACKENDS, CHOICES
from chestview.engine.backends.base import MAP_TOL, PROB_TOL, parity
from chestview.engine.backends.export import cache_dir
from chestview.engine.backends.select import default_backend, installed, open_backend
from chestview.engine.errors import ChestviewError
from chestview.engine.inference import Predictor
from chestview.engine.io.loader import load_image
from chestview.engine.zoo import load_model

CPU = torch.device("cpu")
EXPORTED = [b for b in BACKENDS if b != "torch"]


@pytest.mark.parametrize("name", EXPORTED)
def test_exported_backend_matches_torch_on_a_real_image(name, tiny_zoo, samples_dir):
    if not installed(name):
        pytest.skip(f"{name} not installed")
    loaded = load_model(tiny_zoo)
    opened = open_backend(loaded, CPU, name)
    assert opened.name == name and opened.note is None
    check = opened.backend.check
    assert check.passed and check.max_abs_prob_delta <= PROB_TOL
    # Not only on the check input: on a real X-ray, batched with a second image.
    predictor = Predictor(loaded, device="cpu", backend="torch")
    x = torch.cat([predictor.prepare_input(load_image(p))[0] for p in sorted(samples_dir.glob("*.png"))[:2]])
    got, ref = opened.backend.run_with_features(x), predictor.backend.run_with_features(x)
    d = parity(ref, got)
    assert d.max_abs_prob_delta <= PROB_TOL and d.max_abs_map_delta <= MAP_TOL * max(d.map_range, 1.0)
    # The input gate's pooled trunk features come out of the graph too, as torch's hook gives them.
    assert got[2] is not None and got[2].shape == ref[2].shape and d.max_rel_feature_delta <= MAP_TOL
    # Exported once into the cache, keyed by the weights' SHA-256, the input size and the export format.
    onnx = cache_dir(loaded) / "model.onnx"
    assert loaded.card.sha256[:16] in onnx.parent.name and "-64px-v" in onnx.parent.name
    stamp = onnx.stat().st_mtime_ns
    assert open_backend(loaded, CPU, name).name == name
    assert onnx.stat().st_mtime_ns == stamp


def test_auto_prefers_an_exported_backend_on_the_cpu(tiny_zoo):
    opened = open_backend(load_model(tiny_zoo), CPU, "auto")
    assert opened.name == default_backend(CPU)
    assert default_backend(torch.device("cuda")) == "torch"


def test_a_decoding_loop_keeps_torch_without_a_warning(tiny_zoo):
    from chestview.engine.zoo.store import LoadedModel

    loaded = load_model(tiny_zoo)
    card = loaded.card.with_updates(architecture="alstm_mlc")
    opened = open_backend(LoadedModel(card, loaded.module, loaded.path), CPU, "auto")
    if not any(installed(b) for b in EXPORTED):
        pytest.skip("no exported backend installed")
    assert opened.name == "torch" and not opened.warn and "keeps torch" in opened.note


def test_a_wrong_export_fails_the_check_and_falls_back(tiny_zoo, tmp_path, monkeypatch):
    name = next((b for b in EXPORTED if installed(b)), None)
    if name is None:
        pytest.skip("no exported backend installed")
    from chestview.engine.zoo import save_zoo_entry
    from chestview.engine.zoo.store import build_module

    monkeypatch.setenv("CHESTVIEW_HOME", str(tmp_path / "home"))  # this test spoils its cache
    loaded = load_model(tiny_zoo)
    assert open_backend(loaded, CPU, name).name == name  # exported and checked: a passed record
    torch.manual_seed(1)  # the same architecture with other weights
    state = build_module(loaded.card).state_dict()
    save_zoo_entry(tmp_path / "other", loaded.card.with_updates(id="other-weights"), state, fp16=False)
    other = load_model(tmp_path / "other")
    opened_other = open_backend(other, CPU, name)
    assert opened_other.name == name, opened_other.note
    target = cache_dir(loaded) / "model.onnx"  # a stale or foreign file where this model's export belongs
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(cache_dir(other) / "model.onnx", target)
    opened = open_backend(loaded, CPU, name)
    assert opened.name == "torch" and opened.warn
    assert "differs from torch" in opened.note and opened.note.endswith("using torch")


def test_a_missing_runtime_falls_back_with_a_warning(tiny_zoo, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    opened = open_backend(load_model(tiny_zoo), CPU, "onnxruntime")
    assert opened.name == "torch" and opened.warn and "not installed" in opened.note


def test_unknown_backend_is_a_usage_error(tiny_zoo):
    assert CHOICES[0] == "auto"
    with pytest.raises(ChestviewError, match="unknown backend"):
        open_backend(load_model(tiny_zoo), CPU, "tensorrt")
