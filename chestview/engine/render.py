"""Annotated images for export and for ``chestview predict``: the image at full resolution with
heatmap(s), labelled boxes, the findings, the model id, the date and "not for clinical use".

Pillow only (the engine never imports Qt), so the CLI and the app export the same pixels.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from chestview.engine.case_call import case_call
from chestview.engine.colormaps import BOX_COLOURS, DEFAULT_COLORMAP, DEFAULT_OPACITY, colormap_lut
from chestview.engine.errors import ChestviewError
from chestview.engine.explain.cam import upsample_map
from chestview.engine.explain.display import combined_heatmap, heat_alpha
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


def overlay_heatmap(gray_u8: np.ndarray, heat: np.ndarray, *, opacity: float, colormap: str) -> np.ndarray:
    """Blend a colour-mapped heatmap over a gray image. ``heat`` is in display units (0..1 float, see
    :mod:`chestview.engine.explain.display`; a uint8 map is read as /255); low heat stays transparent."""
    h, w = gray_u8.shape
    heat = np.asarray(heat)
    unit = upsample_map(heat.astype(np.float32) / (255.0 if heat.dtype == np.uint8 else 1.0), (h, w))
    unit = np.clip(unit, 0.0, 1.0)
    colour = colormap_lut(colormap)[np.round(unit * 255).astype(np.uint8)].astype(np.float32)
    base = np.repeat(gray_u8[..., None], 3, axis=2).astype(np.float32)
    alpha = (opacity * heat_alpha(unit))[..., None]
    return np.round(base * (1 - alpha) + colour * alpha).astype(np.uint8)


NEGATIVE_BOX = (170, 170, 170)
HALO = (0, 0, 0)


def _dashed_rectangle(draw: ImageDraw.ImageDraw, xy: list[float], colour, width: int, dash: int) -> None:
    x0, y0, x1, y1 = xy
    for a, b, horizontal, fixed in ((x0, x1, True, y0), (x0, x1, True, y1), (y0, y1, False, x0), (y0, y1, False, x1)):
        t = a
        while t < b:
            e = min(t + dash, b)
            draw.line([(t, fixed), (e, fixed)] if horizontal else [(fixed, t), (fixed, e)], fill=colour, width=width)
            t += 2 * dash


def legend_lines(result: ImageResult) -> list[str]:
    """The exported legend: the case call (engine.case_call, with its note when a finding disagrees)
    and the positive findings, "diffuse — no box" where a finding's map has no focal region."""
    lines = []
    call = case_call(result)
    if call is not None and (result.abnormality is not None or call.discordant):
        lines.append(f"Case: {call.text}")
        if call.note:
            lines.append(f"Note: {call.note}")
    positives = sorted((f for f in result.findings if f.positive and f.reliable), key=lambda f: -f.probability)
    lines += [f"{f.label.replace('_', ' ')} {f.probability:.2f} + (op. {f.threshold:.2f})"
              + (" - diffuse, no box" if f.diffuse else "") for f in positives]
    if not positives:
        lines.append("No positive finding")
    return lines


def caption_boxes(labels: list[str], result: ImageResult) -> set[tuple[str, int]]:
    """Which boxes carry a caption: one per finding (its best box), so that "all positive findings"
    does not pile labels; the other boxes of a finding share its colour."""
    out = set()
    for label in labels:
        f = result.finding(label)
        if f is not None and f.boxes:
            best = max(range(len(f.boxes)), key=lambda i: f.boxes[i].score)
            out.add((label, best))
    return out


def render_annotated(
    image: XrayImage,
    result: ImageResult,
    *,
    labels: list[str] | None = None,
    model_id: str = "",
    opacity: float = DEFAULT_OPACITY,
    colormap: str = DEFAULT_COLORMAP,
    window: tuple[float, float] | None = None,
    show_heatmap: bool = True,
    warnings: list[str] | None = None,
    measurements: list[tuple] | None = None,
    when: _dt.datetime | None = None,
    model_warning: str = "",
) -> np.ndarray:
    """(H, W, 3) uint8 at the image's full resolution, as the app shows it.

    ``labels``: the findings to draw (heatmap = the maximum of their scaled maps; boxes of positive
    findings in distinct colours with a dark halo, of negative ones thin, dashed and grey); default:
    the positive findings. The legend lists the positive findings; ``warnings`` (default: the
    result's and the image's) are burned in; ``measurements``: ((x1, y1, x2, y2), caption[, (r, g, b)])
    lines (a point: its caption only); ``model_warning``: the model's quality warning
    (engine.zoo.quality), burned in with them.
    """
    gray = np.round(image.normalised(window) * 255).astype(np.uint8)
    flagged = result.input_check is not None and result.input_check.flagged
    # A flagged input shows its banner instead of positives unless findings were asked for by name.
    hide_positives = flagged and not labels
    if labels is None:
        # A flagged input gets its warning instead of positives (unless labels are asked for).
        labels = [] if flagged else [f.label for f in result.findings if f.positive]
    heat = combined_heatmap(result, labels) if show_heatmap else None
    rgb = (
        overlay_heatmap(gray, heat, opacity=opacity, colormap=colormap)
        if heat is not None
        else np.repeat(gray[..., None], 3, axis=2)
    )
    canvas = Image.fromarray(rgb)
    draw = ImageDraw.Draw(canvas)
    scale = max(image.width, image.height) / 1024
    line = max(2, round(3 * scale))
    font_px = max(12, round(22 * scale))
    font = _font(font_px)
    captioned = caption_boxes(labels, result)
    placed: list[tuple[float, float, float, float]] = []
    colour_index = 0
    for label in labels:
        finding = result.finding(label)
        if finding is None:
            continue
        if finding.positive:
            colour = BOX_COLOURS[colour_index % len(BOX_COLOURS)]
            colour_index += bool(finding.boxes)  # as on screen: a diffuse finding spends no colour
        else:
            colour = NEGATIVE_BOX
        for i, box in enumerate(finding.boxes):
            xy = [box.x, box.y, box.x2, box.y2]
            if finding.positive:
                draw.rectangle(xy, outline=HALO, width=line + 2 * max(1, line // 2))
                draw.rectangle(xy, outline=colour, width=line)
            else:
                _dashed_rectangle(draw, xy, colour, max(1, line // 2), dash=4 * line)
            if (label, i) not in captioned:
                continue
            tag = f"{label.replace('_', ' ')} {finding.probability:.2f}{'' if finding.positive else ' (negative)'}"
            tx, ty = box.x + line, max(0.0, box.y - font_px - 2 * line)
            bbox = draw.textbbox((tx, ty), tag, font=font)
            while any(_overlap(bbox, o) for o in placed) and bbox[3] < image.height:
                ty = max(p[3] for p in placed if _overlap(bbox, p)) + line
                bbox = draw.textbbox((tx, ty), tag, font=font)
            placed.append(bbox)
            draw.rectangle([bbox[0] - line, bbox[1] - line, bbox[2] + line, bbox[3] + line], fill=(0, 0, 0))
            draw.text((tx, ty), tag, fill=colour, font=font)
    for m in measurements or []:
        (x1, y1, x2, y2), caption = m[0], m[1]
        ink = tuple(m[2]) if len(m) > 2 else (0, 230, 230)  # the colour it has on screen
        if (x1, y1) != (x2, y2):  # a text note is a point: its caption only
            draw.line([(x1, y1), (x2, y2)], fill=HALO, width=line + 2)
            draw.line([(x1, y1), (x2, y2)], fill=ink, width=max(1, line // 2 + 1))
        if not caption:
            continue
        # Caption below the end of the line, kept inside the image.
        w_text = draw.textbbox((0, 0), caption, font=font)[2]
        tx = min(max(line, x2 - w_text / 2), image.width - w_text - line)
        ty = min(y2 + 2 * line, image.height - 2 * font_px - 6 * line)
        bbox = draw.textbbox((tx, ty), caption, font=font)
        draw.rectangle(bbox, fill=(0, 0, 0))
        draw.text((tx, ty), caption, fill=ink, font=font)
    # Legend (top-left): abnormality and the positive findings, then the warnings.
    if warnings is None:
        warnings = list(dict.fromkeys([*result.warnings, *image.warnings]))
    if model_warning:
        warnings = [*warnings, model_warning]
    y = line
    if flagged:
        # The banner first: what is probably not a chest film, and why.
        for warning in (FLAGGED_BANNER, *result.input_check.reason.split("; ")):
            bbox = draw.textbbox((line * 2, y), warning, font=font)
            draw.rectangle([0, y - line, image.width, bbox[3] + line], fill=(160, 0, 0))
            draw.text((line * 2, y), warning, fill=(255, 255, 255), font=font)
            y = bbox[3] + line
        y += line
    legend = [] if hide_positives else legend_lines(result)
    for text, fill in [(t, (255, 255, 255)) for t in legend] + [(f"! {w}", (255, 190, 0)) for w in warnings]:
        bbox = draw.textbbox((line * 2, y), text, font=font)
        draw.rectangle([bbox[0] - line, bbox[1] - line, bbox[2] + line, bbox[3] + line], fill=(0, 0, 0))
        draw.text((line * 2, y), text, fill=fill, font=font)
        y = bbox[3] + 2 * line
    stamp = (when or _dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    footer = f"chestview · {model_id} · {stamp} · {NOT_FOR_CLINICAL_USE}"
    bbox = draw.textbbox((0, 0), footer, font=font)
    fy = image.height - (bbox[3] - bbox[1]) - 3 * line
    draw.rectangle([0, fy - line, image.width, image.height], fill=(0, 0, 0))
    draw.text((line * 2, fy), footer, fill=(255, 210, 0), font=font)
    return np.asarray(canvas)


def _overlap(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


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
