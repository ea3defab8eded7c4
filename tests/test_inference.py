"""Overlap-tile inference through MONAI equals one whole-image valid forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ctc_unet.inference.tiling import (
    activation_bytes,
    choose_tile,
    predict_tiled,
    predict_whole,
    tile_plan,
)
from ctc_unet.inference.tta import predict_tta
from ctc_unet.model.geometry import TileSizeError, is_valid, output_size
from ctc_unet.model.unet import UNet


@pytest.fixture(scope="module")
def net() -> UNet:
    torch.manual_seed(0)
    return UNet(base_channels=4, depth=4).eval()


@pytest.mark.parametrize(("shape", "tile"), [
    ((300, 300), 252), ((512, 512), 316), ((520, 696), 380), ((100, 150), 220),
    ((300, 300), 204),
])
def test_tiled_equals_whole_image_forward(net, shape, tile):
    image = np.random.default_rng(sum(shape)).random(shape).astype(np.float32)
    (wy, sy, _), (wx, sx, _) = tile_plan(shape[0], tile, 4), tile_plan(shape[1], tile, 4)
    assert output_size(wy) < shape[0] or output_size(wx) < shape[1]  # several windows
    assert sy % 16 == 0 and sx % 16 == 0
    whole = predict_whole(net, image)
    tiled = predict_tiled(net, image, tile)
    assert tiled.shape == whole.shape == (2, *shape)
    assert np.abs(tiled - whole).max() < 1e-5
    assert np.allclose(tiled.sum(axis=0), 1.0, atol=1e-5)


def test_image_smaller_than_one_tile_and_odd_sizes(net):
    for shape in [(37, 53), (1, 9), (101, 17)]:
        image = np.random.default_rng(1).random(shape).astype(np.float32)
        out = predict_tiled(net, image, 572)
        assert out.shape == (2, *shape)
        assert np.abs(out - predict_whole(net, image)).max() < 1e-5


def test_tile_size_errors(net):
    image = np.zeros((64, 64), np.float32)
    with pytest.raises(TileSizeError, match="572"):
        predict_tiled(net, image, 570)
    with pytest.raises(TileSizeError, match="too small"):
        predict_tiled(net, np.zeros((300, 300), np.float32), 188)


def test_tta_maps_every_view_back():
    image = np.random.default_rng(0).random((40, 56)).astype(np.float32)

    def fake(view: np.ndarray) -> np.ndarray:  # a "network" that returns its input
        return np.stack([view, 1 - view])

    for count in (1, 2, 7, 8):
        assert np.allclose(predict_tta(fake, image, count)[0], image, atol=1e-6)
    with pytest.raises(ValueError):
        predict_tta(fake, image, 9)


def test_tta_with_a_network_is_a_proper_average(net):
    image = np.random.default_rng(3).random((60, 60)).astype(np.float32)
    avg = predict_tta(lambda v: predict_whole(net, v), image, 8)
    assert np.allclose(avg.sum(axis=0), 1.0, atol=1e-5)
    assert not np.allclose(avg, predict_whole(net, image), atol=1e-4)


def test_choose_tile_fits_memory_and_covers_frame():
    assert choose_tile((512, 512), 64, 4, 100 * 2**30) == 700  # one tile covers the frame
    small = choose_tile((2000, 2000), 64, 4, 2 * 2**30)
    assert is_valid(small) and activation_bytes(small, 64, 4) <= 2 * 2**30
    assert activation_bytes(small + 16, 64, 4) > 2 * 2**30
    assert choose_tile((512, 512), 64, 4, 10, max_tile=572) == 188  # smallest valid tile


def test_channels_last_gives_the_same_probabilities():
    torch.manual_seed(0)
    net = UNet(base_channels=8, depth=3).eval()
    image = np.random.default_rng(1).random((100, 130)).astype(np.float32)
    plain = predict_tiled(net, image, 188)
    net.use_channels_last()
    assert net.head.weight.is_contiguous(memory_format=torch.channels_last)
    assert np.abs(predict_tiled(net, image, 188) - plain).max() < 1e-5
