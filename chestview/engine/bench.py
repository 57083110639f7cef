"""``chestview bench``: where the time goes, measured in one run on real images.

Per image (median and p90, ms): decode, preprocess, model forward (batched, per image), heatmaps
for all labels, boxes for all labels. Throughputs (images/s): the end-to-end pipeline from files on
disk to finished results as ``chestview predict`` makes them (``Predictor.predict_paths``, decoding
in workers, boxes for positive findings), and the model alone on ready tensors at the same batch size. Their ratio says how well decoding overlaps the model.

Every inference backend available for the device is measured in the same run (torch always), on
the same images, with its largest probability difference from torch; the stage timings are those
of the default backend (the one ``--backend`` names, ``auto`` by default). Backends are measured in
interleaved rounds (``repeat``), each reporting its best, so that the ratios between them hold on a
machine shared with other work. A reduced precision (``openvino-bf16``) gets its row beside them when
the model's card records a passing precision check (else the reason it was not measured); with
``precision="bf16"`` it is also the default backend.
"""

from __future__ import annotations

import os
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
from chestview.engine.backends import BACKENDS
from chestview.engine.backends.precision import REDUCED, refusal
from chestview.engine.backends.select import installed
from chestview.engine.device import describe_device
from chestview.engine.errors import ChestviewError
from chestview.engine.explain.boxes import maps_to_boxes
from chestview.engine.explain.cam import normalise_maps
from chestview.engine.inference import Predictor
from chestview.engine.io.loader import load_image
from chestview.engine.zoo.store import LoadedModel

STAGES = ("decode", "preprocess", "forward", "heatmaps", "boxes")
# The pipeline runs as ``chestview predict`` does by default: boxes for the positive findings. The
# "boxes" stage times every label's boxes separately, as the worst case.
PIPELINE_BOXES = "positive"


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


@dataclass(frozen=True)
class BackendTiming:
    model_images_per_s: float
    pipeline_images_per_s: float
    max_abs_prob_delta: float  # against torch, on the benchmark's own images
    # The same forward pass timed inside the pipeline run (its batches' forward time alone): a
    # second measure of the model, taken under the pipeline's conditions.
    pipeline_forward_images_per_s: float = 0.0


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
    default_backend: str = "torch"
    repeat: int = 1  # rounds per backend; throughputs are each backend's best round
    backends: dict[str, BackendTiming] = field(default_factory=dict)
    unavailable_backends: dict[str, str] = field(default_factory=dict)  # name -> why it could not run

    def speedup(self, name: str, kind: str = "model") -> float | None:
        """A backend's throughput over torch's in this run (``kind`` model or pipeline)."""
        base, other = self.backends.get("torch"), self.backends.get(name)
        if base is None or other is None:
            return None
        attr = f"{kind}_images_per_s"
        return getattr(other, attr) / getattr(base, attr) if getattr(base, attr) else None

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
        for name, entry in data["backends"].items():
            entry["model_speedup_vs_torch"] = self.speedup(name, "model")
            entry["pipeline_speedup_vs_torch"] = self.speedup(name, "pipeline")
        return data

    def timing_notes(self) -> list[str]:
        """Why a backend's pipeline reads faster than its model alone, where it does. The pipeline runs
        the same forward pass plus decoding, so on a quiet machine it cannot be faster: the model-only
        loop was slowed by something else, and its forward time inside the pipeline says by how much."""
        notes = []
        load = self.environment.get("load_average", "")
        cpus = self.environment.get("cpu_count", "")
        for name, b in self.backends.items():
            if b.pipeline_images_per_s <= b.model_images_per_s:
                continue
            inside = (f"; the same forward pass inside the pipeline ran at {b.pipeline_forward_images_per_s:.1f} img/s"
                      if b.pipeline_forward_images_per_s else "")
            busy = (f" The CPU was shared with other work (load average {load} on {cpus} cores): a "
                    f"multi-threaded forward pass run back to back loses the most when every core is busy."
                    if load and cpus and float(load) > float(cpus) * 0.5 else "")
            notes.append(f"{name}: the pipeline ({b.pipeline_images_per_s:.1f} img/s) beat the model alone "
                         f"({b.model_images_per_s:.1f} img/s){inside}. The pipeline does the model's work and "
                         f"more, so the model-only figure was disturbed.{busy} Measure on an idle machine "
                         f"(or with more --repeat) before comparing them.")
        return notes

    def backend_rows(self) -> list[list[str]]:
        """The side-by-side table (text output and the app's dialog): one row per backend that ran."""
        rows = []
        for name, b in self.backends.items():
            rows.append([name + (" (default)" if name == self.default_backend else ""),
                         f"{b.model_images_per_s:.1f}", f"{self.speedup(name, 'model') or 0:.2f}x",
                         f"{b.pipeline_images_per_s:.1f}", f"{self.speedup(name, 'pipeline') or 0:.2f}x",
                         "-" if name == "torch" else f"{b.max_abs_prob_delta:.1e}"])
        return rows


BACKEND_HEADER = ["backend", "model img/s", "vs torch", "pipeline img/s", "vs torch", "max |dp| vs torch"]


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
    backend: str = "auto",
    precision: str = "f32",
    repeat: int = 3,
    on_event: Callable[[BenchProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BenchResult:
    if not image_paths:
        raise ChestviewError("bench: no images to measure on")
    emit = on_event or (lambda ev: None)
    stop = should_stop or (lambda: False)
    paths = [str(image_paths[i % len(image_paths)]) for i in range(max(n_images, batch_size))]
    default = Predictor(loaded, device=device, boxes=PIPELINE_BOXES, backend=backend, precision=precision)
    labels = default.labels
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
        x, _ = default.prepare_input(image)
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
    batches = [torch.cat(tensors[i : i + batch_size]) for i in range(0, len(tensors), batch_size)]
    readable = [im.path for im in images]

    # 2. Each backend: the model alone on ready tensors, then end to end from files on disk.
    predictors = {default.backend_name: default}
    unavailable: dict[str, str] = {}
    if default.backend_name != "torch":
        predictors["torch"] = Predictor(loaded, device=default.device, boxes=PIPELINE_BOXES, backend="torch")
    if default.device.type == "cpu":
        for name in BACKENDS:
            if name in predictors:
                continue
            if not installed(name):
                unavailable[name] = "not installed"
                continue
            other = Predictor(loaded, device=default.device, boxes=PIPELINE_BOXES, backend=name)
            if other.backend_name == name:
                predictors[name] = other
            else:
                unavailable[name] = other.backend_note or "unavailable"
        # The reduced precisions, beside the exact backends, where the card proves them.
        for reduced in REDUCED:
            name = f"openvino-{reduced}"
            if name in predictors or not installed("openvino"):
                continue
            why = refusal(loaded.card, reduced)
            if why is not None:
                unavailable[name] = why
                continue
            other = Predictor(loaded, device=default.device, boxes=PIPELINE_BOXES, backend="openvino", precision=reduced)
            if other.backend_name == name:
                predictors[name] = other
            else:
                unavailable[name] = other.backend_note or "unavailable"
    measured: dict[str, tuple[float, float, np.ndarray, float]] = {}
    default_maps = None
    # Rounds interleave the backends and each keeps its best round: on a shared machine another
    # process only ever slows a run down, so the best of a few is the least disturbed measurement,
    # and interleaving gives every backend the same chances at a quiet moment.
    for round_ in range(max(1, repeat)):
        for name, predictor in predictors.items():
            tag = f"{name}, round {round_ + 1}/{repeat}" if repeat > 1 else name
            model_ips, forward_ms, probs, maps = time_forward(predictor, batches, f"forward ({tag})", emit, stop)
            pipeline_ips, inside_ips = _pipeline(predictor, readable, batch_size, num_workers, f"pipeline ({tag})",
                                                 emit, stop)
            best_model, best_pipeline, _, best_inside = measured.get(name, (0.0, 0.0, None, 0.0))
            measured[name] = (max(model_ips, best_model), max(pipeline_ips, best_pipeline), probs,
                              max(inside_ips, best_inside))
            if predictor is default and model_ips >= best_model:
                timings["forward"] = forward_ms
                default_maps = maps
    reference = measured["torch"][2]
    backends = {
        name: BackendTiming(model_ips, pipeline_ips, float(np.abs(probs - reference).max()), inside_ips)
        for name, (model_ips, pipeline_ips, probs, inside_ips) in measured.items()
    }

    # 3. Heatmaps and boxes for every label of every image, from the default backend's maps.
    for i, image in enumerate(images):
        t0 = time.perf_counter()
        heat = normalise_maps(default_maps[i])
        t1 = time.perf_counter()
        maps_to_boxes(heat, image.size, threshold=default.box_threshold)
        t2 = time.perf_counter()
        timings["heatmaps"].append((t1 - t0) * 1e3)
        timings["boxes"].append((t2 - t1) * 1e3)
    emit(BenchProgress("explain", len(images), len(images)))

    dev = default.device
    chosen = backends[default.backend_name]
    return BenchResult(
        model_id=loaded.card.id,
        device=describe_device(dev),
        batch_size=batch_size,
        n_images=len(images),
        image_source=", ".join(sorted({str(Path(p).parent) for p in readable})),
        stages={s: _timing(v) for s, v in timings.items()},
        pipeline_images_per_s=chosen.pipeline_images_per_s,
        model_images_per_s=chosen.model_images_per_s,
        peak_memory_mb=_peak_rss_mb(),
        peak_gpu_memory_mb=torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
        environment={
            "chestview": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpu_threads": str(torch.get_num_threads()),
            "cpu_count": str(os.cpu_count() or ""),
            # Other work on the machine over the last minute (Unix): what can make the timings unsteady.
            "load_average": f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "",
            **_runtime_versions(predictors),
        },
        default_backend=default.backend_name,
        repeat=max(1, repeat),
        backends=backends,
        unavailable_backends=unavailable,
    )


def time_forward(predictor: Predictor, batches: list[torch.Tensor], stage: str = "forward",
                 emit: Callable[[BenchProgress], None] = lambda _e: None, stop: Callable[[], bool] = lambda: False,
                 ) -> tuple[float, list[float], np.ndarray, np.ndarray]:
    """Throughput of the forward pass alone (after one warm-up batch), per-image times, probs, maps.

    The one forward timing of the project: ``bench`` and the reduced-precision proof both use it."""
    predictor.forward(batches[0])
    forward_ms, probs_out, maps_out = [], [], []
    n = sum(xb.shape[0] for xb in batches)
    t_model = time.perf_counter()
    for j, xb in enumerate(batches):
        t0 = time.perf_counter()
        probs, maps = predictor.forward(xb)
        forward_ms += [(time.perf_counter() - t0) * 1e3 / xb.shape[0]] * xb.shape[0]
        probs_out.append(probs)
        maps_out.append(maps)
        emit(BenchProgress(stage, j + 1, len(batches)))
        if stop():
            raise ChestviewError("bench: cancelled")
    model_ips = n / (time.perf_counter() - t_model)
    # The probabilities as reported (calibrated when the card says so), for the comparison with torch.
    probs = predictor.calibrate(torch.cat(probs_out).numpy())
    return model_ips, forward_ms, probs, torch.cat(maps_out).numpy()


def _pipeline(predictor: Predictor, paths: list[str], batch_size: int, num_workers: int | None, stage: str,
              emit, stop) -> tuple[float, float]:
    """End to end, from files on disk to finished results (findings, heatmaps, boxes of positives):
    images/s, and images/s of the forward passes alone within that run (from each result's timings)."""
    t0 = time.perf_counter()
    done, forward_ms = 0, 0.0
    for result in predictor.predict_paths(paths, batch_size=batch_size, num_workers=num_workers, should_stop=stop):
        done += 1
        forward_ms += result.timings_ms.get("forward", 0.0)
        emit(BenchProgress(stage, done, len(paths)))
    if stop():
        raise ChestviewError("bench: cancelled")
    return done / (time.perf_counter() - t0), (done / (forward_ms / 1e3) if forward_ms > 0 else 0.0)


def _runtime_versions(predictors: dict[str, Predictor]) -> dict[str, str]:
    import importlib.metadata

    versions = {}
    for name in predictors:
        if name != "torch" and name in BACKENDS:
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                pass
    return versions
