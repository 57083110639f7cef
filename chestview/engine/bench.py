"""``chestview bench``: where the time goes, measured in one run on real images.

Per image (median and p90, ms): decode, preprocess, model forward (batched, per image), heatmaps
for all labels, boxes for all labels. Throughputs (images/s): the end-to-end pipeline from files on
disk to finished results (``Predictor.predict_paths``, decoding in workers), and the model alone on
ready tensors at the same batch size. Their ratio says how well decoding overlaps the model.
"""

from __future__ import annotations

import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from chestview import __version__
from chestview.engine.device import describe_device
from chestview.engine.errors import ChestviewError
from chestview.engine.explain.boxes import heatmap_to_boxes
from chestview.engine.explain.cam import normalise_maps
from chestview.engine.inference import Predictor
from chestview.engine.zoo.store import LoadedModel

STAGES = ("decode", "preprocess", "forward", "heatmaps", "boxes")


@dataclass(frozen=True)
class BenchProgress:
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class StageTiming:
    median_ms: float
    p90_ms: float
    n: int


@dataclass
class BenchResult:
    model_id: str
    device: str
    batch_size: int
    n_images: int
    image_source: str
    stages: dict[str, StageTiming] = field(default_factory=dict)
    pipeline_images_per_s: float = 0.0
    model_images_per_s: float = 0.0
    peak_memory_mb: float = 0.0
    peak_gpu_memory_mb: float | None = None
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def pipeline_to_model_ratio(self) -> float:
        return self.pipeline_images_per_s / self.model_images_per_s if self.model_images_per_s else 0.0

    @property
    def explain_cost_fraction(self) -> float:
        """(heatmaps + boxes for all labels) / forward, per image, from the medians."""
        fwd = self.stages["forward"].median_ms
        return (self.stages["heatmaps"].median_ms + self.stages["boxes"].median_ms) / fwd if fwd else 0.0

    @property
    def cpu_ceiling_ratio(self) -> float | None:
        """On a CPU, the best pipeline / model ratio any overlap could give: every stage shares the
        same cores, so with the forward pass using all ``cpu_threads`` of them, the pipeline needs
        forward x threads + decode + preprocess + heatmaps + boxes core-milliseconds per image.
        None off the CPU (there the model runs on other silicon)."""
        if not self.device.lower().startswith("cpu") or "forward" not in self.stages:
            return None
        threads = int(self.environment.get("cpu_threads", "1") or 1)
        model = self.stages["forward"].median_ms * threads
        other = sum(self.stages[s].median_ms for s in STAGES if s != "forward" and s in self.stages)
        return model / (model + other) if model + other > 0 else None

    def to_json(self) -> dict:
        data = asdict(self)
        data["pipeline_to_model_ratio"] = self.pipeline_to_model_ratio
        data["explain_cost_fraction"] = self.explain_cost_fraction
        data["cpu_ceiling_ratio"] = self.cpu_ceiling_ratio
        return data


def _timing(values_ms: list[float]) -> StageTiming:
    arr = np.asarray(values_ms, dtype=np.float64)
    return StageTiming(float(np.median(arr)), float(np.percentile(arr, 90)), len(values_ms))


def _peak_rss_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / (1024 * 1024)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return own * scale


def run_benchmark(
    loaded: LoadedModel,
    image_paths: list[str | Path],
    *,
    device: str = "auto",
    batch_size: int = 8,
    n_images: int = 32,
    num_workers: int | None = None,
    on_event: Callable[[BenchProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BenchResult:
    from chestview.engine.io.loader import load_image

    if not image_paths:
        raise ChestviewError("bench: no images to measure on")
    emit = on_event or (lambda ev: None)
    stop = should_stop or (lambda: False)
    paths = [str(image_paths[i % len(image_paths)]) for i in range(max(n_images, batch_size))]
    predictor = Predictor(loaded, device=device, boxes="all")
    labels = predictor.labels
    timings: dict[str, list[float]] = {s: [] for s in STAGES}

    # 1. Decode and preprocess, one image at a time. Images that fail to load are skipped.
    images, tensors = [], []
    for i, p in enumerate(paths):
        t0 = time.perf_counter()
        try:
            image = load_image(p)
        except ChestviewError:
            continue
        t1 = time.perf_counter()
        x, _ = predictor.prepare_input(image)
        t2 = time.perf_counter()
        timings["decode"].append((t1 - t0) * 1e3)
        timings["preprocess"].append((t2 - t1) * 1e3)
        images.append(image)
        tensors.append(x)
        emit(BenchProgress("decode", i + 1, len(paths)))
        if stop():
            raise ChestviewError("bench: cancelled")
    if not images:
        raise ChestviewError("bench: none of the images could be read")

    # 2. Model alone on ready tensors, same batch size (one warm-up batch first).
    batches = [torch.cat(tensors[i : i + batch_size]) for i in range(0, len(tensors), batch_size)]
    predictor.forward(batches[0])
    maps_out = []
    t_model = time.perf_counter()
    for j, xb in enumerate(batches):
        t0 = time.perf_counter()
        _, maps = predictor.forward(xb)
        dt = (time.perf_counter() - t0) * 1e3 / xb.shape[0]
        timings["forward"] += [dt] * xb.shape[0]
        maps_out.append(maps)
        emit(BenchProgress("forward", j + 1, len(batches)))
        if stop():
            raise ChestviewError("bench: cancelled")
    model_ips = len(tensors) / (time.perf_counter() - t_model)

    # 3. Heatmaps and boxes for every label of every image.
    all_maps = torch.cat(maps_out).numpy()
    for i, image in enumerate(images):
        t0 = time.perf_counter()
        heat = normalise_maps(all_maps[i])
        t1 = time.perf_counter()
        for c in range(len(labels)):
            heatmap_to_boxes(heat[c], image.size)
        t2 = time.perf_counter()
        timings["heatmaps"].append((t1 - t0) * 1e3)
        timings["boxes"].append((t2 - t1) * 1e3)
    emit(BenchProgress("explain", len(images), len(images)))

    # 4. End to end, from files on disk to finished results.
    readable = [im.path for im in images]
    t0 = time.perf_counter()
    done = 0
    for _ in predictor.predict_paths(readable, batch_size=batch_size, num_workers=num_workers, should_stop=stop):
        done += 1
        emit(BenchProgress("pipeline", done, len(readable)))
    if stop():
        raise ChestviewError("bench: cancelled")
    pipeline_ips = done / (time.perf_counter() - t0)

    dev = predictor.device
    return BenchResult(
        model_id=loaded.card.id,
        device=describe_device(dev),
        batch_size=batch_size,
        n_images=len(images),
        image_source=", ".join(sorted({str(Path(p).parent) for p in readable})),
        stages={s: _timing(v) for s, v in timings.items()},
        pipeline_images_per_s=pipeline_ips,
        model_images_per_s=model_ips,
        peak_memory_mb=_peak_rss_mb(),
        peak_gpu_memory_mb=torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
        environment={
            "chestview": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpu_threads": str(torch.get_num_threads()),
        },
    )
