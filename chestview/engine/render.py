"""Annotated images for export and for ``chestview predict``: the image at full resolution with
heatmap(s), labelled boxes, the findings, the model id, the date and "not for clinical use".

Pillow only (the engine never imports Qt), so the CLI and the app export the same pixels.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from chestview.engine.colormaps import BOX_COLOURS, colormap_lut
from chestview.engine.errors import ChestviewError
from chestview.engine.explain.cam import upsample_map
from chestview.engine.io.image import XrayImage
from chestview.engine.results import ImageResult
from chestview.engine.util import atomic_write

NOT_FOR_CLINICAL_USE = "NOT FOR CLINICAL USE"


FLAGGED_BANNER = "Does not look like a frontal chest radiograph - findings not shown"


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def overlay_heatmap(gray_u8: np.ndarray, heat_u8: np.ndarray, *, opacity: float, colormap: str) -> np.ndarray:
    """Blend a colour-mapped heatmap over a gray image; the map's cold end stays transparent."""
    h, w = gray_u8.shape
    heat = upsample_map(heat_u8, (h, w)).astype(np.float32) / 255.0
    colour = colormap_lut(colormap)[np.round(heat * 255).astype(np.uint8)].astype(np.float32)
    base = np.repeat(gray_u8[..., None], 3, axis=2).astype(np.float32)
    alpha = (opacity * np.clip(heat * 1.5 - 0.25, 0.0, 1.0))[..., None]  # fade out the cold half
    return np.round(base * (1 - alpha) + colour * alpha).astype(np.uint8)


def render_annotated(
    image: XrayImage,
    result: ImageResult,
    *,
    labels: list[str] | None = None,
    model_id: str = "",
    opacity: float = 0.45,
    colormap: str = "jet",
    window: tuple[float, float] | None = None,
    show_heatmap: bool = True,
    when: _dt.datetime | None = None,
) -> np.ndarray:
    """(H, W, 3) uint8 at the image's full resolution.

    ``labels``: the findings to draw (heatmap = their pixel-wise maximum, boxes in distinct colours);
    default: the positive findings.
    """
    gray = np.round(image.normalised(window) * 255).astype(np.uint8)
    flagged = result.input_check is not None and result.input_check.flagged
    if labels is None:
        # A flagged input gets its warning instead of positives (unless labels are asked for).
        labels = [] if flagged else [f.label for f in result.findings if f.positive]
    heats = [result.heatmaps[lbl] for lbl in labels if lbl in result.heatmaps]
    rgb = (
        overlay_heatmap(gray, np.maximum.reduce(heats), opacity=opacity, colormap=colormap)
        if show_heatmap and heats
        else np.repeat(gray[..., None], 3, axis=2)
    )
    canvas = Image.fromarray(rgb)
    draw = ImageDraw.Draw(canvas)
    scale = max(image.width, image.height) / 1024
    line = max(2, round(3 * scale))
    font_px = max(12, round(22 * scale))
    font = _font(font_px)
    for i, label in enumerate(labels):
        finding = result.finding(label)
        if finding is None:
            continue
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        for box in finding.boxes:
            draw.rectangle([box.x, box.y, box.x2, box.y2], outline=colour, width=line)
            tag = f"{label} {finding.probability:.2f}"
            tx, ty = box.x + line, max(0.0, box.y - font_px - 2 * line)
            bbox = draw.textbbox((tx, ty), tag, font=font)
            draw.rectangle(bbox, fill=(0, 0, 0))
            draw.text((tx, ty), tag, fill=colour, font=font)
    # Findings list (top-left) and footer.
    lines = [
        f"{f.label}: {f.probability:.2f}{' +' if f.positive else ''}{' (unreliable)' if not f.reliable else ''}"
        for f in result.findings[:6]
    ]
    y = line
    if flagged:
        for warning in (FLAGGED_BANNER, *result.input_check.reason.split("; ")):
            bbox = draw.textbbox((line * 2, y), warning, font=font)
            draw.rectangle([0, y - line, image.width, bbox[3] + line], fill=(160, 0, 0))
            draw.text((line * 2, y), warning, fill=(255, 255, 255), font=font)
            y = bbox[3] + line
        y += line
        lines = [] if not labels else lines
    for text in lines:
        bbox = draw.textbbox((line * 2, y), text, font=font)
        draw.rectangle(bbox, fill=(0, 0, 0))
        draw.text((line * 2, y), text, fill=(255, 255, 255), font=font)
        y = bbox[3] + line
    stamp = (when or _dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    footer = f"chestview · {model_id} · {stamp} · {NOT_FOR_CLINICAL_USE}"
    bbox = draw.textbbox((0, 0), footer, font=font)
    fy = image.height - (bbox[3] - bbox[1]) - 3 * line
    draw.rectangle([0, fy - line, image.width, image.height], fill=(0, 0, 0))
    draw.text((line * 2, fy), footer, fill=(255, 210, 0), font=font)
    return np.asarray(canvas)


def save_image_atomic(path: str | Path, rgb: np.ndarray, *, protect: list[str | Path] = ()) -> Path:
    """Save PNG or JPEG (by extension) atomically; refuse to overwrite any path in ``protect`` (sources)."""
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(suffix)
    if fmt is None:
        raise ChestviewError(f"{path}: export as .png, .jpg or .jpeg")
    resolved = path.resolve()
    if any(resolved == Path(p).resolve() for p in protect):
        raise ChestviewError(f"{path}: refusing to overwrite a source image")
    with atomic_write(path, "wb") as fh:
        Image.fromarray(rgb).save(fh, format=fmt, **({"quality": 92} if fmt == "JPEG" else {"optimize": False}))
    return path
