"""A zoo entry that ships its ONNX graph: the CPU backends start from it without building the torch
module, read the weights from the entry's own safetensors file, and ignore a graph that does not fit."""

import json

import pytest
import torch

from chestview.engine.backends.base import PROB_TOL, check_input, parity
from chestview.engine.backends.export import cache_dir, torch_reference
from chestview.engine.backends.packaged import GRAPH_FILE, REFERENCE_FILE, pack_graph, shipped_graph, shipped_reference
from chestview.engine.backends.select import installed, open_backend
from chestview.engine.zoo import load_model, save_zoo_entry
from chestview.engine.zoo.card import ModelCard
from tests.conftest import make_tiny_zoo_entry

CPU = torch.device("cpu")
RUNTIMES = [b for b in ("openvino", "onnxruntime") if installed(b)]


@pytest.fixture
def packed(tmp_path, monkeypatch):
    """A tiny model with fp16 weights (as the bundled ones are), its graph packed."""
    import safetensors.torch

    entry = make_tiny_zoo_entry(tmp_path / "zoo", "tiny-packed")
    card = ModelCard.load(entry)
    save_zoo_entry(entry, card, safetensors.torch.load_file(entry / card.weights), fp16=True)
    pack_graph(entry)
    monkeypatch.setenv("CHESTVIEW_HOME", str(tmp_path / "home"))
    return entry


def test_the_graph_reads_every_parameter_from_the_weights_file(packed):
    import onnx

    card = ModelCard.load(packed)
    graph = onnx.load(str(packed / GRAPH_FILE), load_external_data=False)
    assert card.graph["external_parameters"] == len(graph.graph.initializer) > 0
    # The graph holds no weights of its own: it is a small fraction of the weights file.
    assert (packed / GRAPH_FILE).stat().st_size < (packed / card.weights).stat().st_size / 4
    for init in graph.graph.initializer:
        location = {e.key: e.value for e in init.external_data}["location"]
        assert location == card.weights and init.data_type == onnx.TensorProto.FLOAT16
    # The shipped torch reference is what the module gives on the check input.
    loaded = load_model(packed)
    pre = card.preprocessing
    d = parity(torch_reference(loaded, check_input(pre.channels, pre.size)), shipped_reference(loaded))
    assert d.max_abs_prob_delta == 0 and d.max_abs_map_delta == 0 and d.max_rel_feature_delta == 0


@pytest.mark.parametrize("name", RUNTIMES or [pytest.param("none", marks=pytest.mark.skip("no ONNX runtime"))])
def test_a_first_start_uses_the_shipped_graph_without_building_the_module(packed, name, samples_dir):
    from chestview.engine.inference import Predictor
    from chestview.engine.io.loader import load_image

    loaded = load_model(packed, lazy=True)
    opened = open_backend(loaded, CPU, name)
    assert opened.name == name and opened.note is None
    assert not loaded.module_built  # neither the export nor the check needed torch's module
    assert not (cache_dir(loaded) / "model.onnx").exists()
    assert opened.backend.check.passed
    # Exact against torch on a real film too (the weights are read from the safetensors bytes).
    x = Predictor(load_model(packed), device="cpu", backend="torch").prepare_input(
        load_image(sorted(samples_dir.glob("*.png"))[0]))[0]
    ref = Predictor(load_model(packed), device="cpu", backend="torch").backend.run_with_features(x)
    d = parity(ref, opened.backend.run_with_features(x))
    assert d.max_abs_prob_delta <= PROB_TOL and d.max_rel_feature_delta <= 1e-3


def test_new_weights_void_the_shipped_graph(packed):
    card = ModelCard.load(packed)
    torch.manual_seed(5)
    from chestview.engine.zoo.store import build_module

    new = save_zoo_entry(packed, card, build_module(card).state_dict())
    assert new.graph == {}  # its offsets were into the old file
    assert shipped_graph(load_model(packed)) is None


def test_a_changed_graph_file_is_ignored_and_the_model_exported(packed, caplog):
    if not RUNTIMES:
        pytest.skip("no ONNX runtime installed")
    (packed / GRAPH_FILE).write_bytes((packed / GRAPH_FILE).read_bytes() + b"\0")
    loaded = load_model(packed, lazy=True)
    assert shipped_graph(loaded) is None and "SHA-256" in caplog.text
    opened = open_backend(loaded, CPU, RUNTIMES[0])
    assert opened.name == RUNTIMES[0] and (cache_dir(loaded) / "model.onnx").is_file()


def test_a_graph_from_another_export_format_is_ignored(packed):
    data = json.loads((packed / "card.json").read_text())
    data["graph"]["export_format"] = 1
    (packed / "card.json").write_text(json.dumps(data))
    loaded = load_model(packed)
    assert shipped_graph(loaded) is None and shipped_reference(loaded) is None


def test_publishing_a_run_ships_its_graph(tmp_path):
    run = tmp_path / "run"
    entry = make_tiny_zoo_entry(run, "tiny-run")
    entry.rename(run / "model")
    from chestview.engine.zoo.publish import publish_run

    target = publish_run(run, tmp_path / "zoo")
    card = ModelCard.load(target)
    assert (target / GRAPH_FILE).is_file() and (target / REFERENCE_FILE).is_file()
    assert shipped_graph(load_model(target)) == target / GRAPH_FILE and card.graph["weights_sha256"] == card.sha256


def test_the_bundled_models_ship_their_graph():
    from chestview.engine.zoo import list_zoo

    from chestview.engine.backends.export import TORCH_ONLY

    bundled = [e for e in list_zoo() if e.bundled]
    assert bundled
    for entry in bundled:
        if entry.card.architecture in TORCH_ONLY:  # runs on torch by design, said in TORCH_ONLY
            assert not entry.card.graph, entry.card.id
            continue
        loaded = load_model(entry.path, lazy=True)
        assert shipped_graph(loaded) is not None and shipped_reference(loaded) is not None, entry.card.id


def test_pack_graph_on_the_command_line(tmp_path, capsys):
    from chestview.cli.main import main

    entry = make_tiny_zoo_entry(tmp_path / "zoo", "tiny-cli")
    assert main(["models", "pack-graph", str(entry)]) == 0
    assert "shipped graph.onnx" in capsys.readouterr().out
    assert ModelCard.load(entry).graph["file"] == GRAPH_FILE


def test_a_shipped_graph_a_runtime_cannot_run_falls_back_to_an_export(packed, monkeypatch):
    """A graph that passes its SHA-256 but fails in the runtime (an older runtime, a bad pack) costs
    the fast start, not the fast backend: the module is exported into the cache and checked."""
    if not RUNTIMES:
        pytest.skip("no ONNX runtime installed")
    from chestview.engine.backends import graph

    bad = packed / "broken.onnx"
    bad.write_bytes(b"not an onnx graph")
    monkeypatch.setattr(graph, "shipped_graph", lambda loaded: bad)
    loaded = load_model(packed, lazy=True)
    opened = open_backend(loaded, CPU, RUNTIMES[0])
    assert opened.name == RUNTIMES[0] and opened.backend.check.passed
    assert (cache_dir(loaded) / "model.onnx").is_file() and loaded.module_built
