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
