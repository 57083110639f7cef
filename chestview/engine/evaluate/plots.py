"""ROC curves drawn with PIL (no plotting library in the engine)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

from chestview.engine.evaluate.metrics import LabelAuroc


def roc_image(r: LabelAuroc, size: int = 240) -> Image.Image:
    """One label's ROC: false-positive rate across, sensitivity up, chance diagonal dashed."""
    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    m = 28  # margin for the axis text
    x0, y0, x1, y1 = m, 18, size - 8, size - m
    to_px = lambda fx, ty: (x0 + fx * (x1 - x0), y1 - ty * (y1 - y0))  # noqa: E731
    d.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    for k in range(0, 20, 2):  # dashed chance line
        d.line([to_px(k / 20, k / 20), to_px((k + 1) / 20, (k + 1) / 20)], fill=(160, 160, 160))
    if len(r.fpr) > 1:
        d.line([to_px(f, t) for f, t in zip(r.fpr, r.tpr)], fill=(200, 30, 30), width=2)
    title = f"{r.label}: " + ("n/a" if not r.scored else f"{r.auroc:.3f} [{r.ci_low:.2f}, {r.ci_high:.2f}]")
    d.text((4, 3), title, fill=(0, 0, 0))
    d.text((x0, y1 + 4), "0", fill=(0, 0, 0))
    d.text((x1 - 6, y1 + 4), "1", fill=(0, 0, 0))
    d.text(((x0 + x1) // 2 - 12, y1 + 12), "1 - spec", fill=(0, 0, 0))
    d.text((4, y0), "sens", fill=(0, 0, 0))
    return img


def roc_grid(rows: Sequence[LabelAuroc], columns: int = 4, size: int = 240) -> Image.Image:
    columns = max(1, min(columns, len(rows)))
    n_rows = max(1, -(-len(rows) // columns))
    grid = Image.new("RGB", (columns * size, n_rows * size), "white")
    for k, r in enumerate(rows):
        grid.paste(roc_image(r, size), ((k % columns) * size, (k // columns) * size))
    return grid


def reliability_image(curves: dict, size: int = 280) -> Image.Image:
    """Reliability diagram: observed frequency against mean predicted probability per bin, before
    (grey) and after (red) calibration; the diagonal is perfect calibration."""
    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    m = 28
    x0, y0, x1, y1 = m, 18, size - 8, size - m
    to_px = lambda fx, ty: (x0 + fx * (x1 - x0), y1 - ty * (y1 - y0))  # noqa: E731
    d.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    d.line([to_px(0, 0), to_px(1, 1)], fill=(190, 190, 190))
    for name, colour in (("before", (140, 140, 140)), ("after", (200, 30, 30))):
        c = curves.get(name) or {}
        pts = [to_px(px, py) for px, py in zip(c.get("mean_predicted", []), c.get("observed", []))]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for x, y in pts:
            d.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
    d.text((4, 3), "abnormality: grey raw, red calibrated", fill=(0, 0, 0))
    d.text(((x0 + x1) // 2 - 30, y1 + 12), "mean predicted", fill=(0, 0, 0))
    d.text((4, y0), "obs.", fill=(0, 0, 0))
    return img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
