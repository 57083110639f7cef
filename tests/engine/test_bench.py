"""BenchResult's derived figures: the ratios and the CPU ceiling of the pipeline / model ratio."""

import pytest

from chestview.engine.bench import BenchResult, StageTiming


def _result(device: str, **medians: float) -> BenchResult:
    stages = {name: StageTiming(ms, ms, 8) for name, ms in medians.items()}
    return BenchResult("m", device, 8, 8, "x", stages=stages, pipeline_images_per_s=30.0, model_images_per_s=50.0,
                       environment={"cpu_threads": "2"})


def test_cpu_ceiling_counts_core_milliseconds():
    r = _result("CPU (2 threads)", decode=8.0, preprocess=6.0, forward=20.0, heatmaps=0.0, boxes=2.0)
    # forward 20 ms on 2 cores = 40 core-ms; the other stages 16 core-ms: at best 40 / 56
    assert r.cpu_ceiling_ratio == pytest.approx(40 / 56)
    assert r.pipeline_to_model_ratio == pytest.approx(0.6)
    assert r.explain_cost_fraction == pytest.approx(0.1)
    assert r.to_json()["cpu_ceiling_ratio"] == pytest.approx(40 / 56)


def test_no_cpu_ceiling_on_a_gpu():
    assert _result("NVIDIA H100 (cuda:0)", decode=8.0, forward=2.0).cpu_ceiling_ratio is None


def test_a_pipeline_faster_than_its_model_alone_is_explained():
    from chestview.engine.bench import BackendTiming

    r = _result("CPU (2 threads)", forward=20.0, heatmaps=0.1, boxes=1.0)
    r.environment.update(load_average="9.6", cpu_count="2")
    r.backends = {"torch": BackendTiming(8.4, 18.5, 0.0, 24.0), "openvino": BackendTiming(60.0, 20.0, 1e-6, 70.0)}
    (note,) = r.timing_notes()  # openvino's pipeline is slower than its model: nothing to explain
    assert note.startswith("torch: the pipeline (18.5 img/s) beat the model alone (8.4 img/s)")
    assert "inside the pipeline ran at 24.0 img/s" in note and "load average 9.6 on 2 cores" in note
    r.environment.update(load_average="0.1")
    assert "load average" not in r.timing_notes()[0]  # an idle machine: no blame on other work
    assert r.to_json()["backends"]["torch"]["pipeline_forward_images_per_s"] == 24.0
