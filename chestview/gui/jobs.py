"""Qt-free jobs that the app runs in worker threads: loading models, inference, export.

They call the same engine functions as the CLI (``chestview predict``); nothing here knows Qt.
Generators yield progress and are stopped between yields by the worker.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from chestview.engine.backends.precision import refusal
from chestview.engine.colormaps import DEFAULT_COLORMAP, DEFAULT_OPACITY
from chestview.engine.result_cache import ResultCache as DiskResultCache
from chestview.engine.result_cache import cached_results, predict_with_cache, predictor_key
from chestview.gui import timings
from chestview.gui.state import ResultCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InferenceProgress:
    done: int
    total: int
    path: str
    result: Any  # ImageResult


@dataclass(frozen=True)
class ExportProgress:
    done: int
    total: int
    path: str  # the file written (or the source that failed)
    error: str | None = None


class PredictorCache:
    """One Predictor per (model id, device, backend, precision), built on first use (in a worker thread).

    ``backend`` and ``precision`` are the app's settings; a backend that falls back to torch (or a
    precision refused for a model) is logged once, as a warning.
    """

    def __init__(self, backend: str = "auto", precision: str = "f32", site: str = "") -> None:
        self._lock = threading.Lock()
        self._predictors: dict[tuple[str, str, str, str, str], Any] = {}
        self.backend = backend
        self.precision = precision
        self.site = site  # the Settings' site profile name ("" = each model's own operating points)
        self._notes: list[str] = []  # backend notes (a refused precision...) for the Messages panel
        # Its own lock: the window takes the notes on the GUI thread, never waiting for a model load.
        self._notes_lock = threading.Lock()

    def take_notes(self) -> list[str]:
        """The backend notes since the last call (each model's once): the window shows them."""
        with self._notes_lock:
            notes, self._notes = self._notes, []
        return notes

    def get(self, model_id: str, device: str = "auto", box_threshold: int = 180) -> Any:
        # deferred: imports torch; the window opens without it
        from chestview.engine.inference import Predictor
        from chestview.engine.site.profile import profile_for, with_site
        from chestview.engine.zoo import load_model

        key = (model_id, device, self.backend, self.precision, self.site)
        with self._lock:
            pred = self._predictors.get(key)
            if pred is None:
                # lazy: with a cached export the torch module is never built (timm + torchvision: seconds)
                loaded = with_site(load_model(model_id, lazy=True), profile_for(model_id, self.site))
                pred = Predictor(loaded, device=device, boxes="positive",
                                 box_threshold=box_threshold, backend=self.backend, precision=self.precision)
                if pred.backend_note:
                    (log.warning if pred.opened.warn else log.info)("%s", pred.backend_note)
                    if pred.opened.warn:
                        with self._notes_lock:
                            self._notes.append(pred.backend_note)
                self._predictors[key] = pred
                timings.mark("model loaded")
            pred.box_threshold = box_threshold
            return pred

    def clear(self) -> None:
        with self._lock:
            self._predictors.clear()

    def card(self, model_id: str) -> Any:
        """The model's card as the predictor uses it (with the Settings' site profile applied), without
        loading the model."""
        # deferred: imports torch; the window opens without it
        from chestview.engine.site.profile import profile_for
        from chestview.engine.zoo import ModelCard, find_model

        card = ModelCard.load(find_model(model_id))
        profile = profile_for(model_id, self.site)
        return profile.apply(card) if profile is not None else card

    def cache_key(self, model_id: str, device: str = "auto", box_threshold: int = 180) -> str:
        """The result-cache key of what :meth:`get` would build, from the model's card alone: looking
        results up needs no model (no weights read, no backend opened)."""
        # deferred: imports torch; the window opens without it
        from chestview.engine.device import resolve_device
        from chestview.engine.result_cache import settings_key

        with self._lock:
            pred = self._predictors.get((model_id, device, self.backend, self.precision, self.site))
        card = pred.card if pred is not None else self.card(model_id)
        if pred is not None:
            precision = pred.precision
        else:  # a precision the card does not prove runs at f32 (open_reduced): look those results up

            precision = self.precision if refusal(card, self.precision) is None else "f32"
        return settings_key(card, device_type=resolve_device(device).type, box_threshold=box_threshold,
                            boxes="positive", precision=precision)


def drift_job(cache: PredictorCache, model_id: str, results: list) -> Any:
    """The drift report (engine.gate.drift) of a Run all's results; None without a reference."""
    # deferred: imports torch; the window opens without it
    from chestview.engine.gate.drift import folder_drift

    return folder_drift(cache.card(model_id), results)


def preload_job(cache: PredictorCache, model_id: str, device: str, box_threshold: int = 180) -> str:
    """Load the model (and its backend) before the first image asks for it; returns the model id."""
    cache.get(model_id, device, box_threshold)
    return model_id


def describe_device_job(device: str = "auto") -> str:
    # deferred: imports torch; the window opens without it
    from chestview.engine.device import describe_device, resolve_device

    return describe_device(resolve_device(device))


def list_zoo_job() -> tuple[list, list[str]]:
    """(zoo entries, problems) - the models of the bundled and user zoos."""
    # deferred: imports torch; the window opens without it
    from chestview.engine.zoo import list_zoo

    problems: list[str] = []
    return list_zoo(problems), problems


def predict_image_job(cache: PredictorCache, model_id: str, device: str, image, box_threshold: int = 180):
    """The model's result on one loaded image, from the on-disk result cache when it is there; a new
    result is stored there (so the worklist finds it when the folder is opened again)."""
    predictor = cache.get(model_id, device, box_threshold)
    disk = disk_cache()
    digest = disk.file_digests([image.path]).get(image.path) if disk is not None and image.path else None
    if digest is None:
        return predictor.predict_image(image)
    key = disk.key(digest, predictor_key(predictor))
    hit = disk.get(key)
    if hit is not None:
        hit.path = image.path
        return hit
    result = predictor.predict_image(image)
    disk.put(key, result)
    return result


_disk_lock = threading.Lock()
_disk: list[Any] = []


def disk_cache() -> Any:
    """The on-disk result cache shared with ``chestview worklist`` (None when it cannot be opened)."""
    with _disk_lock:
        if not _disk:
            try:
                _disk.append(DiskResultCache())
            except Exception as exc:  # an unwritable cache folder must not stop the app
                import logging

                logging.getLogger(__name__).warning("result cache unavailable: %s", exc)
                _disk.append(None)
        return _disk[0]


def cached_results_job(cache: PredictorCache, model_id: str, device: str, paths: list[str],
                       box_threshold: int = 180) -> tuple[str, dict[str, Any]]:
    """(model id, path -> result) of the paths whose results are on disk already: no model runs."""
    disk = disk_cache()
    if disk is None or not paths:
        return model_id, {}
    hits, _ = cached_results(None, paths, disk, key=cache.cache_key(model_id, device, box_threshold))
    return model_id, hits


def compare_job(cache: PredictorCache, model_ids: list[str], device: str, image,
                box_threshold: int | None = None) -> dict[str, Any]:
    """model id -> result of each model on one image (each at its own box threshold by default)."""
    out = {}
    for model_id in model_ids:
        pred = cache.get(model_id, device, box_threshold or _card_box_threshold(model_id))
        out[model_id] = pred.predict_image(image)
    return out


def _card_box_threshold(model_id: str) -> int:
    # deferred: imports torch; the window opens without it
    from chestview.engine.zoo import ModelCard, find_model

    return ModelCard.load(find_model(model_id)).box_threshold


def predict_paths_job(
    cache: PredictorCache,
    model_id: str,
    device: str,
    paths: list[str],
    results: ResultCache,
    box_threshold: int = 180,
    batch_size: int = 4,
) -> Iterator[InferenceProgress]:
    """Results for every path not yet in memory: from the disk cache where they are there, else
    batched through ``Predictor.predict_paths`` (and stored on disk).

    Decoding runs in the calling (worker) thread (num_workers=0): the app keeps its cores for the UI.
    """
    todo = [p for p in paths if results.result(p, model_id) is None]
    total = len(paths)
    done = total - len(todo)
    if not todo:
        return done
    predictor = cache.get(model_id, device, box_threshold)
    for result in predict_with_cache(predictor, todo, disk_cache(), batch_size=batch_size, num_workers=0):
        done += 1
        yield InferenceProgress(done, total, result.path, result)
    return done


def output_paths(out_dir: Path, source: str, fmt: str, used: set[str]) -> Path:
    # deferred: imports torch; the window opens without it
    from chestview.engine.export import output_name

    return out_dir / output_name(source, used, suffix="." + fmt)


def export_one_job(
    out_path: str,
    image,
    result,
    card,
    *,
    labels: list[str] | None,
    opacity: float,
    colormap: str,
    window: tuple[float, float] | None,
    with_json: bool = True,
    protect: list[str] | None = None,
    settings: dict | None = None,
    measurements: list | None = None,
) -> str:
    """The annotated image of the current view (full resolution; legend = the positive findings,
    warnings burned in) and its JSON report beside it, with every setting that shaped the image."""
    # deferred: imports torch; the window opens without it
    from chestview.engine.export import results_document, write_results_json
    from chestview.engine.render import render_annotated, save_image_atomic
    from chestview.engine.zoo.quality import model_warning_line

    rgb = render_annotated(
        image, result, labels=labels, model_id=card.id, opacity=opacity, colormap=colormap, window=window,
        show_heatmap=opacity > 0, measurements=measurements, model_warning=model_warning_line(card),
    )
    out = save_image_atomic(out_path, rgb, protect=[image.path, *(protect or [])])
    if with_json:
        write_results_json(out.with_suffix(".json"), results_document(card, [_public(result)], settings=settings))
    return str(out)


def export_dicom_job(
    out_dir: str,
    image,
    result,
    card,
    *,
    labels: list[str] | None,
    window: tuple[float, float] | None,
    secondary_capture: bool = False,
    measurements=None,
) -> str:
    """The DICOM objects of the current view (SR, GSPS with this window and the reader's
    ``measurements``, default the film's stored ones; optional SC); a status line."""
    # deferred: imports torch; the window opens without it
    from chestview.engine.dicom_export import DicomExporter

    with DicomExporter(out_dir, card, secondary_capture=secondary_capture) as exporter:
        paths = exporter.export(result, image=image, window=window, labels=labels, measurements=measurements)
    return f"Saved {len(paths)} DICOM objects in {out_dir}"


def _public(result):
    """The result as written to reports: the file name only, not a path that may name the patient."""
    from dataclasses import replace

    return replace(result, path=Path(result.path).name)


def export_batch_job(
    cache: PredictorCache,
    model_id: str,
    device: str,
    paths: list[str],
    results: ResultCache,
    out_dir: str,
    *,
    fmt: str = "png",
    opacity: float = DEFAULT_OPACITY,
    colormap: str = DEFAULT_COLORMAP,
    box_threshold: int = 180,
    include_paths: bool = False,
    settings: dict | None = None,
) -> Iterator[ExportProgress]:
    """Annotated images of every study (positive findings drawn) + one results.json for all of them."""
    # deferred: imports torch; the window opens without it
    from chestview.engine.errors import ChestviewError
    from chestview.engine.explain.box_rule import rebox
    from chestview.engine.export import public_error, results_document, write_results_json
    from chestview.engine.io import load_image
    from chestview.engine.outputs import open_output_folder
    from chestview.engine.render import render_annotated, save_image_atomic
    from chestview.engine.results import ImageResult

    from chestview.engine.zoo.quality import model_warning_line

    predictor = cache.get(model_id, device, box_threshold)
    warning = model_warning_line(predictor.card)
    used: set[str] = set()
    names = {path: output_paths(Path(out_dir), path, fmt, used).name for path in paths}
    written: list[Any] = []
    # Refused (nothing written) when an output would land on a source; locked while it writes.
    with open_output_folder(out_dir, roots=paths, inputs=paths, outputs=names, what="batch export") as out:
        for i, path in enumerate(paths, 1):
            try:
                image = load_image(path)
                result = results.result(path, model_id)
                if result is None:
                    result = predictor.predict_image(image)
                    results.store(path, model_id, result)
                # The one box path: positive findings cut at this export's level by the model's rule.
                result = rebox(result, predictor.box_rule, box_threshold)
                rgb = render_annotated(image, result, model_id=model_id, opacity=opacity, colormap=colormap,
                                       model_warning=warning)
                target = save_image_atomic(out / names[path], rgb, protect=paths)
                written.append(result if include_paths else _public(result))
                yield ExportProgress(i, len(paths), str(target))
            except (ChestviewError, OSError, ValueError) as exc:
                message = str(exc)
                public = message if include_paths else public_error(message, path)
                written.append(ImageResult(path=path if include_paths else Path(path).name, error=public))
                yield ExportProgress(i, len(paths), path, error=message)
        report = out / "results.json"
        doc_settings = {"source": "chestview app", "drawn": "positive findings", **(settings or {})}
        write_results_json(report, results_document(predictor.card, written, settings=doc_settings))
    return str(report)
