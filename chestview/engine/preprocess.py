"""From an :class:`XrayImage` to the tensor a model sees, and the geometry that maps back.

The whole image is resized to ``size x size`` (no crop), so every model map covers the whole
image and a map cell maps back to image pixels by a plain scale. TenCrop test-time augmentation is
the one exception; :func:`ten_crop` returns the crop windows so that maps can be pasted back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from chestview.engine.io.image import XrayImage

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# How a film's gray levels are standardised before the model sees them:
# "window": as the file's window maps them (the model learns the site's processing, brightness included);
# "equalize": histogram-equalised per image, so a monotonic change of the processing curve (gamma,
# brightness, contrast) leaves the input (almost) unchanged -- the model cannot key on brightness.
INTENSITY_MODES = ("window", "equalize")


@dataclass(frozen=True)
class Preprocessing:
    """How a model wants its input: ``(x - mean) / std`` on [0, 1] pixels resized to ``size``.

    ``mean``/``std`` have one value per channel; a gray image is replicated to ``channels``.
    ``intensity`` (see INTENSITY_MODES) is applied to the resized gray image first, by every backend
    alike (it lives here, outside the model graph).
    """

    size: int = 224
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    intensity: str = "window"

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError(f"input size {self.size} is too small")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if len(self.mean) not in (1, self.channels) or len(self.std) not in (1, self.channels):
            raise ValueError("mean and std need one value, or one per channel")
        if self.intensity not in INTENSITY_MODES:
            raise ValueError(f"intensity must be one of {', '.join(INTENSITY_MODES)}, not {self.intensity!r}")

    def to_json(self) -> dict:
        out = {"size": self.size, "channels": self.channels, "mean": list(self.mean), "std": list(self.std)}
        if self.intensity != "window":  # older cards (and their cache keys) stay as they were
            out["intensity"] = self.intensity
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Preprocessing":
        return cls(
            size=int(data["size"]),
            channels=int(data["channels"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
            intensity=str(data.get("intensity", "window")),
        )


def resize_gray(pixels01: np.ndarray | torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize of a (H, W) [0, 1] image to (size, size) or (h, w)."""
    t = torch.as_tensor(pixels01, dtype=torch.float32)
    out_hw = (size, size) if isinstance(size, int) else size
    if tuple(t.shape[-2:]) == tuple(out_hw):
        return t.clone()
    return F.interpolate(t[None, None], size=out_hw, mode="bilinear", antialias=True, align_corners=False)[0, 0]


def equalize(gray: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation of each (H, W) image of a (..., H, W) [0, 1] tensor (scikit-image's
    256-bin ``equalize_hist`` over the image's own range), so that any monotonic remapping of the
    gray levels gives (nearly) the same result."""
    from skimage.exposure import equalize_hist  # deferred: keeps the app's start-up import light

    flat = gray.detach().float().reshape(-1, *gray.shape[-2:]).numpy()
    out = np.empty_like(flat)
    for k, img in enumerate(flat):
        out[k] = equalize_hist(img, nbins=256) if float(img.max() - img.min()) > 1e-6 else img
    return torch.from_numpy(out).reshape(gray.shape)


def normalise_tensor(gray: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
    """(..., H, W) gray [0, 1] -> (..., C, H, W) standardised (``pre.intensity``) and normalised
    as the model expects."""
    if pre.intensity == "equalize":
        gray = equalize(gray)
    x = gray.unsqueeze(-3).expand(*gray.shape[:-2], pre.channels, *gray.shape[-2:])
    mean = torch.tensor(pre.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(pre.std, dtype=torch.float32).view(-1, 1, 1)
    return (x - mean) / std


def _window_covers_pixels(image: XrayImage) -> bool:
    # PNG/JPEG windows span every possible value (0..255) or the data range: windowing never clips.
    return str(image.metadata.get("format", "")).upper() in ("PNG", "JPEG", "JPG")


def model_gray(image: XrayImage, size: int | tuple[int, int]) -> torch.Tensor:
    """The image through its window, resized to ``size``: (h, w) in [0, 1].

    When the window cannot clip (PNG/JPEG), the linear window commutes with the linear resize, so
    the small image is windowed instead of the full-size one: the same numbers up to float
    rounding, at a fraction of the work on a 1024² radiograph.
    """
    if not _window_covers_pixels(image):
        return resize_gray(image.normalised(), size)
    centre, width = image.window
    width = max(float(width), 1e-6)
    small = resize_gray(image.pixels, size)
    return ((small - (centre - width / 2.0)) / width).clamp_(0.0, 1.0)


def prepare(image: XrayImage, pre: Preprocessing) -> torch.Tensor:
    """The model input for one image: (channels, size, size) float32."""
    return normalise_tensor(model_gray(image, pre.size), pre).contiguous()


@dataclass(frozen=True)
class CropWindow:
    """A crop of the resized image: offsets and size in the resized frame, and whether it is mirrored."""

    left: int
    top: int
    size: int
    flipped: bool


def ten_crop_windows(resized: int, crop: int) -> list[CropWindow]:
    """The ten crops of torchvision's TenCrop: four corners and centre, then the same mirrored."""
    far = resized - crop
    mid = int(round(far / 2.0))
    corners = [(0, 0), (far, 0), (0, far), (far, far), (mid, mid)]
    return [CropWindow(x, y, crop, flip) for flip in (False, True) for x, y in corners]


def ten_crop(image: XrayImage, pre: Preprocessing) -> tuple[torch.Tensor, list[CropWindow], int]:
    """TenCrop as in the CheXNet reimplementations: resize to 256/224 of the input size, ten crops.

    Returns (10, C, S, S), the windows, and the resized side length.
    """
    resized = int(round(pre.size * 256 / 224))
    big = model_gray(image, resized)
    crops = []
    windows = ten_crop_windows(resized, pre.size)
    for w in windows:
        c = big[w.top : w.top + w.size, w.left : w.left + w.size]
        crops.append(torch.flip(c, dims=[-1]) if w.flipped else c)
    return normalise_tensor(torch.stack(crops), pre).contiguous(), windows, resized


def merge_crop_maps(maps: torch.Tensor, windows: list[CropWindow], resized: int, grid: int = 64) -> torch.Tensor:
    """Paste per-crop maps (N, C, h, w) back into the whole-image frame and average where crops overlap.

    The result (C, grid, grid) covers the whole (resized, hence whole original) image. Mirrored crops
    are mirrored back first.
    """
    n, c = maps.shape[:2]
    scale = grid / resized
    acc = torch.zeros(c, grid, grid, dtype=torch.float32)
    count = torch.zeros(1, grid, grid, dtype=torch.float32)
    for m, w in zip(maps.float(), windows):
        m = torch.flip(m, dims=[-1]) if w.flipped else m
        x0, y0 = int(round(w.left * scale)), int(round(w.top * scale))
        side = int(round(w.size * scale))
        side = min(side, grid - x0, grid - y0)
        patch = F.interpolate(m[None], size=(side, side), mode="bilinear", align_corners=False)[0]
        acc[:, y0 : y0 + side, x0 : x0 + side] += patch
        count[:, y0 : y0 + side, x0 : x0 + side] += 1
    # Every cell is covered by at least the corner crops when crop >= resized / 2.
    return acc / count.clamp_min(1)
