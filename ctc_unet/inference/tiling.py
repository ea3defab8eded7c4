"""Prediction with the unpadded U-Net (paper Fig. 2): overlap-tile inference with mirror
extrapolation at the border, through MONAI's ``sliding_window_inference``.

MONAI treats a network output smaller than its window as a zoom. Here the predictor's valid
output is placed back at the centre of its window, and a ``process_fn`` gives MONAI an
importance map that is 1 on that centre and 0 on the margin (as MONAI's HoVerNet inferer
does). The image is mirror-padded by the margin and then so far that the windows, spaced by
a multiple of 2**depth, line up exactly: the tiled result then equals one whole-image valid
forward pass (the definition of seamless tiling).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference

from ctc_unet.model.geometry import TileSizeError, input_for_output, is_valid, margin, output_size


def mirror_pad(image: np.ndarray, depth: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Mirror-extrapolate (H, W) or (C, H, W) by the network margin so that one valid forward
    covers it.

    Returns the padded (H', W') or (C, H', W') image (valid input sizes) and the (H, W) to
    crop the output to.
    """
    m = margin(depth)
    h, w = image.shape[-2:]
    hin, win = input_for_output(h, depth), input_for_output(w, depth)
    return _pad_last2(image, (m, hin - h - m), (m, win - w - m)), (h, w)


def _pad_last2(image: np.ndarray, py: tuple[int, int], px: tuple[int, int]) -> np.ndarray:
    return np.pad(image, ((0, 0),) * (image.ndim - 2) + (py, px), mode="reflect")


def as_batch(image: np.ndarray) -> torch.Tensor:
    """(H, W) -> (1, 1, H, W); (C, H, W) -> (1, C, H, W): one network input."""
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (C, H, W) image, got shape {image.shape}")
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    return x[None, None] if image.ndim == 2 else x[None]


@torch.inference_mode()
def predict_whole(model: torch.nn.Module, image: np.ndarray, device: torch.device | str = "cpu"
                  ) -> np.ndarray:
    """Class probabilities (K, H, W) float32 of an (H, W) image (or a (C, H, W) stack of
    input channels) from one valid forward pass over the mirror-padded image."""
    was_training = model.training
    model.eval()
    padded, (h, w) = mirror_pad(image.astype(np.float32), model.depth)
    x = as_batch(padded).to(device)
    prob = torch.softmax(model(x).float(), dim=1)[0, :, :h, :w]
    model.train(was_training)
    return prob.cpu().numpy()


def tile_plan(size: int, tile: int, depth: int) -> tuple[int, int, int]:
    """Window size, stride and padded input length along one axis of ``size`` px.

    The window is ``tile`` or, for small images, the smallest valid window covering the
    image; the stride is its output size rounded down to a multiple of 2**depth.
    """
    window = min(tile, input_for_output(size, depth))
    out = output_size(window, depth)
    stride = out // 2**depth * 2**depth
    if size <= out:
        return window, max(stride, 1), window
    if stride == 0:
        smallest = input_for_output(2**depth, depth)
        raise TileSizeError(f"tile size {tile} is too small for overlap-tile inference at "
                            f"depth {depth}; use at least {smallest}")
    n = math.ceil((size - out) / stride) + 1
    return window, stride, (n - 1) * stride + window


def _valid_center_fn(m: int) -> Callable:
    """``process_fn`` for MONAI: zero-pad each valid output back to its window and weight only
    the centre."""

    def process(outputs, window_data, importance_map):
        out = outputs[0]
        padded = F.pad(out, (m, m, m, m))
        weight = torch.zeros(window_data.shape[-2:], device=out.device, dtype=out.dtype)
        weight[m:-m, m:-m] = 1.0
        return (padded,), weight

    return process


@torch.inference_mode()
def predict_tiled(model: torch.nn.Module, image: np.ndarray, tile: int,
                  device: torch.device | str = "cpu", *, sw_batch_size: int = 1) -> np.ndarray:
    """Class probabilities (K, H, W) float32 of an (H, W) image (or a (C, H, W) stack of
    input channels) by overlap-tile inference through MONAI with windows of at most ``tile``
    px (a valid size)."""
    depth = model.depth
    if not is_valid(tile, depth):
        output_size(tile, depth)  # raises TileSizeError with the nearest valid sizes
    m = margin(depth)
    h, w = image.shape[-2:]
    (wy, sy, py), (wx, sx, px) = tile_plan(h, tile, depth), tile_plan(w, tile, depth)
    x = as_batch(_pad_last2(image.astype(np.float32), (m, py - h - m), (m, px - w - m)))
    # MONAI spaces windows by int(window * (1 - overlap)); aim half a pixel above the stride.
    overlap = (1.0 - (sy + 0.5) / wy, 1.0 - (sx + 0.5) / wx)
    was_training = model.training
    model.eval()

    def predictor(window: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(window.to(device)).float(), dim=1)

    try:
        prob = sliding_window_inference(
            x, roi_size=(wy, wx), sw_batch_size=sw_batch_size, predictor=predictor,
            overlap=overlap, mode="constant", process_fn=_valid_center_fn(m),
            sw_device=device, device="cpu")
    finally:
        model.train(was_training)
    return prob[0, :, m:m + h, m:m + w].numpy().astype(np.float32)


def activation_bytes(tile: int, base_channels: int, depth: int, in_channels: int = 1) -> int:
    """Rough float32 memory of one forward pass over a ``tile`` px window (no gradients):
    every feature map of the network, a conservative bound of what inference holds."""
    total, n = tile * tile * in_channels, tile
    sizes = []
    for level in range(depth):
        c = base_channels * 2**level
        total += c * ((n - 2) ** 2 + (n - 4) ** 2)
        n -= 4
        sizes.append((c, n))
        n //= 2
    c = base_channels * 2**depth
    total += c * ((n - 2) ** 2 + (n - 4) ** 2)
    n -= 4
    for c, _ in reversed(sizes):
        n = 2 * n
        total += c * n * n + 2 * c * n * n + c * ((n - 2) ** 2 + (n - 4) ** 2)
        n -= 4
    return 4 * total


def choose_tile(frame_shape: tuple[int, int], base_channels: int, depth: int,
                budget_bytes: int, *, max_tile: int | None = None) -> int:
    """The largest valid tile up to one covering the whole frame whose forward pass fits
    ``budget_bytes`` (and ``max_tile``, if given)."""
    cover = input_for_output(max(frame_shape), depth)
    limit = min(cover, max_tile) if max_tile else cover
    best = None
    n = input_for_output(1, depth)
    while n <= limit:
        if activation_bytes(n, base_channels, depth) <= budget_bytes:
            best = n
        n += 2**depth
    return best or input_for_output(1, depth)


def memory_budget(device: torch.device) -> int:
    """Bytes a forward pass may use: 70% of free GPU memory, or a quarter of the RAM."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(0.7 * free)
    try:
        return int(0.25 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2 * 2**30
