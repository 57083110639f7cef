import numpy as np
import pytest
import torch

from chestview.engine.io.image import XrayImage
from chestview.engine.preprocess import (
    Preprocessing,
    merge_crop_maps,
    prepare,
    resize_gray,
    ten_crop,
    ten_crop_windows,
)


def _image(h=300, w=200):
    pixels = np.tile(np.linspace(0, 4095, w, dtype=np.float32), (h, 1))
    return XrayImage(path="x", pixels=pixels, window=(2047.5, 4095.0))


def test_prepare_shape_and_normalisation():
    pre = Preprocessing(size=32, channels=3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    x = prepare(_image(), pre)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    # the left edge is black (0 -> -2), the right edge white (1 -> +2)
    assert x[0, :, 0].mean() == pytest.approx(-2.0, abs=0.1)
    assert x[0, :, -1].mean() == pytest.approx(2.0, abs=0.1)
    torch.testing.assert_close(x[0], x[2])


def test_single_channel_and_window_applied():
    pre = Preprocessing(size=16, channels=1, mean=(0.0,), std=(1.0,))
    img = _image()
    x = prepare(img, pre)
    assert x.shape == (1, 16, 16)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_resize_identity():
    a = torch.rand(8, 8)
    torch.testing.assert_close(resize_gray(a, 8), a)


def test_ten_crop_windows_are_torchvision_tencrop():
    wins = ten_crop_windows(256, 224)
    assert len(wins) == 10
    assert {(w.left, w.top) for w in wins[:5]} == {(0, 0), (32, 0), (0, 32), (32, 32), (16, 16)}
    assert [w.flipped for w in wins] == [False] * 5 + [True] * 5


def test_ten_crop_round_trip_of_maps():
    """Maps that are a function of the position in the whole image come back where they were."""
    pre = Preprocessing(size=224, channels=1, mean=(0.0,), std=(1.0,))
    crops, windows, resized = ten_crop(_image(256, 256), pre)
    assert crops.shape == (10, 1, 224, 224)
    # build each crop's "map" as the x-coordinate in the resized frame, sampled on a 28 grid
    maps = []
    for w in windows:
        xs = w.left + (np.arange(28) + 0.5) * (224 / 28)
        if w.flipped:
            xs = xs[::-1]
        maps.append(np.tile(xs, (28, 1))[None])
    merged = merge_crop_maps(torch.tensor(np.stack(maps), dtype=torch.float32), windows, resized, grid=64)
    centres = (np.arange(64) + 0.5) * (256 / 64)
    np.testing.assert_allclose(merged[0, 32].numpy()[4:-4], centres[4:-4], atol=4.0)


def test_crops_of_flipped_windows_are_mirrored():
    pre = Preprocessing(size=224, channels=1, mean=(0.0,), std=(1.0,))
    crops, windows, _ = ten_crop(_image(256, 256), pre)
    # gradient increases left to right; mirrored crops decrease
    assert crops[0, 0, 0, -1] > crops[0, 0, 0, 0]
    assert crops[5, 0, 0, -1] < crops[5, 0, 0, 0]


def test_invalid_preprocessing():
    with pytest.raises(ValueError):
        Preprocessing(size=224, channels=2)


def test_png_fast_path_equals_windowing_the_full_image(samples_dir):
    """For PNG/JPEG the window is applied after the resize; the numbers are those of windowing first."""
    from chestview.engine.io.loader import load_image
    from chestview.engine.preprocess import model_gray

    for name in ("00000661_000.png", "00001075_024.png"):
        image = load_image(samples_dir / name)
        assert image.metadata["format"] == "PNG"
        slow = resize_gray(image.normalised(), 224)
        torch.testing.assert_close(model_gray(image, 224), slow, atol=2e-6, rtol=0)
    dicom = load_image(samples_dir / "cr_mono1_rg1_jpeg2000.dcm")  # a DICOM window may clip: the plain path
    torch.testing.assert_close(model_gray(dicom, 64), resize_gray(dicom.normalised(), 64))
