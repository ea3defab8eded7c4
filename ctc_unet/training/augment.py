"""Data augmentation of the U-Net paper (section 3.1) as MONAI dictionary transforms.

``RandTileSampled`` draws one training tile in a single resampling: a random position (shift),
rotation (any angle and 90-degree steps), flips and the paper's elastic deformation (random
displacements on a coarse 3x3 grid, Gaussian with 10 px std, interpolated bicubically to every
pixel), and optionally a zoom. Pixels outside the frame are mirrored. The image is resampled
bicubically (or bilinearly), labels with nearest neighbour, weights linearly. MONAI's
intensity transforms add gray-value changes (and optionally a Gaussian blur), and a centre
crop cuts labels and weights to the network's output window.

MONAI's ``Rand2DElasticd`` places its control points on a spacing that reaches beyond the
image edge and is not the paper's 3x3 grid, hence the transform here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import (
    Compose,
    EnsureTyped,
    MapTransform,
    RandAdjustContrastd,
    RandGaussianNoised,
    RandGaussianSmoothd,
    Randomizable,
    RandScaleIntensityd,
    RandShiftIntensityd,
)

from ctc_unet.config import AugmentConfig

IMAGE, LABEL, WEIGHT = "image", "label", "weight"


@functools.lru_cache(maxsize=16)
def _cubic_basis(n_in: int, n_out: int) -> torch.Tensor:
    """(n_in, n_out): the bicubic (align_corners=True) weights of each coarse point."""
    eye = torch.eye(n_in)[:, None, :, None]  # (n_in, 1, n_in, 1): one unit impulse per row
    return F.interpolate(eye, size=(n_out, 1), mode="bicubic", align_corners=True)[:, 0, :, 0]


def coarse_displacement(shape: tuple[int, int], grid: int, std: float,
                        rng: np.random.RandomState) -> torch.Tensor:
    """Dense displacement field (2, H, W) in px from a (2, grid, grid) Gaussian grid,
    interpolated bicubically with the grid's corner points on the corner pixels."""
    coarse = torch.from_numpy(rng.normal(0.0, std, size=(2, grid, grid)).astype(np.float32))
    by, bx = _cubic_basis(grid, shape[0]), _cubic_basis(grid, shape[1])
    return torch.einsum("iy,cij,jx->cyx", by, coarse, bx)


def sampling_grid(
    frame_shape: tuple[int, int],
    tile: tuple[int, int],
    center: tuple[float, float],
    angle: float = 0.0,
    *, flip: bool = False,
    displacement: torch.Tensor | None = None,
    scale: float = 1.0,
) -> torch.Tensor:
    """Where each tile pixel samples the frame, as a grid for ``grid_sample``.

    The tile pixel at offset (dy, dx) from the tile centre reads frame position
    center + scale R(angle) @ (dy, flip ? -dx : dx) + displacement. Returns (1, th, tw, 2)
    in normalized (x, y) coordinates with align_corners=True.
    """
    th, tw = tile
    h, w = frame_shape
    sx, sy = 2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)  # px -> normalized frame units
    # normalized tile units -> px offsets in the frame
    hx, hy = scale * (tw - 1) / 2, scale * (th - 1) / 2
    c, s = math.cos(angle), math.sin(angle)
    f = -1.0 if flip else 1.0
    # x = cx + s*oy + c*f*ox, y = cy + c*oy - s*f*ox, with ox = u*hx, oy = v*hy
    theta = torch.tensor([[sx * c * f * hx, sx * s * hy, sx * center[1] - 1.0],
                          [-sy * s * f * hx, sy * c * hy, sy * center[0] - 1.0]],
                         dtype=torch.float32)
    grid = F.affine_grid(theta[None], [1, 1, th, tw], align_corners=True)
    if displacement is not None:
        grid[0, ..., 0] += displacement[1] * sx
        grid[0, ..., 1] += displacement[0] * sy
    return grid


def resample(array: np.ndarray | torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    """Sample a (C, H, W) array at ``grid`` with mirrored borders; returns (C, th, tw)."""
    t = torch.as_tensor(np.asarray(array) if not isinstance(array, torch.Tensor) else array)
    out = F.grid_sample(t[None].float(), grid, mode=mode, padding_mode="reflection",
                        align_corners=True)
    return out[0]


class RandTileSampled(Randomizable, MapTransform):
    """Draw one augmented ``tile_size`` tile from (C, H, W) arrays under ``keys``.

    ``modes`` gives the interpolation per key ("bicubic", "bilinear" or "nearest"). Keys in
    ``crop_keys`` (labels, weights) are sampled only on the centred ``output_size`` window,
    the part of the tile that the unpadded network predicts. With ``cfg.cell_sampling`` > 0
    the tile centre is, with that probability, a random pixel of class 1 (cell) of the
    (1, H, W) class map under ``cell_key``.
    """

    def __init__(self, keys: KeysCollection, modes: Sequence[str], tile_size: tuple[int, int],
                 cfg: AugmentConfig, output_size: tuple[int, int] | None = None,
                 crop_keys: KeysCollection = (), cell_key: str = LABEL) -> None:
        MapTransform.__init__(self, keys)
        self.cell_key = cell_key
        if len(modes) != len(self.keys):
            raise ValueError("one interpolation mode per key is needed")
        self.modes = tuple(modes)
        self.tile_size = tuple(tile_size)
        self.output_size = tuple(output_size or tile_size)
        margins = [t - o for t, o in zip(self.tile_size, self.output_size, strict=True)]
        if any(m < 0 or m % 2 for m in margins):
            raise ValueError(f"output window {self.output_size} must be centred in the tile "
                             f"{self.tile_size} (an even, non-negative margin)")
        self._margin = (margins[0] // 2, margins[1] // 2)
        self.crop_keys = {crop_keys} if isinstance(crop_keys, str) else set(crop_keys)
        self.cfg = cfg

    def randomize(self, data: tuple[tuple[int, int], np.ndarray | None]) -> None:
        (h, w), cells = data
        cfg, r = self.cfg, self.R
        self._center = ((r.uniform(0, h - 1), r.uniform(0, w - 1)) if cfg.shift
                        else ((h - 1) / 2, (w - 1) / 2))
        # drawn only when asked for, so that uniform sampling keeps its random sequence
        if cfg.cell_sampling > 0 and r.rand() < cfg.cell_sampling and cells is not None \
                and cells.size:
            self._center = tuple(float(v) for v in np.unravel_index(
                cells[r.randint(cells.size)], (h, w)))
        angle = 0.0
        if r.rand() < cfg.rotate_prob:
            angle += math.radians(r.uniform(-cfg.rotate_range, cfg.rotate_range))
        if r.rand() < cfg.rot90_prob:
            angle += r.randint(1, 4) * math.pi / 2
        self._angle = angle
        self._flip = bool(r.rand() < cfg.flip_prob)
        # drawn only when enabled, so that runs without it keep their random sequence
        self._scale = 1.0
        if cfg.scale_prob > 0 and r.rand() < cfg.scale_prob:
            lo, hi = (math.log(v) for v in cfg.scale_range)
            self._scale = math.exp(r.uniform(lo, hi))
        self._displacement = (coarse_displacement(self.tile_size, cfg.elastic_grid,
                                                  cfg.elastic_std, r)
                              if r.rand() < cfg.elastic_prob and cfg.elastic_std > 0 else None)

    def __call__(self, data: Mapping[Hashable, np.ndarray]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        shape = tuple(np.asarray(d[self.keys[0]]).shape[-2:])
        cells = (np.flatnonzero(np.asarray(d[self.cell_key])[0] == 1)
                 if self.cfg.cell_sampling > 0 and self.cell_key in d else None)
        self.randomize((shape, cells))
        grid = sampling_grid(shape, self.tile_size, self._center, self._angle, flip=self._flip,
                             displacement=self._displacement, scale=self._scale)
        (my, mx), (oh, ow) = self._margin, self.output_size
        window = grid[:, my:my + oh, mx:mx + ow]
        for key, mode in zip(self.keys, self.modes, strict=True):
            d[key] = resample(d[key], window if key in self.crop_keys else grid, mode)
        return d


def make_augmentation(cfg: AugmentConfig, tile_size: int, output_size: int,
                      seed: int = 0) -> Compose:
    """The training-sample pipeline: dict of (1, H, W) ``image``, ``label``, ``weight`` ->
    image (1, tile, tile), label and weight (1, out, out) float tensors (the centred window
    that the network predicts)."""
    r0, r1 = cfg.contrast_range
    # blur before the noise (the optics, then the camera); only when enabled, so that runs
    # without it keep the random states that Compose hands to the other transforms
    blur = ([RandGaussianSmoothd(IMAGE, sigma_x=cfg.blur_range, sigma_y=cfg.blur_range,
                                 prob=cfg.blur_prob)] if cfg.blur_prob > 0 else [])
    transforms = [
        RandTileSampled([IMAGE, LABEL, WEIGHT], [cfg.image_interp, "nearest", "bilinear"],
                        (tile_size, tile_size), cfg, (output_size, output_size),
                        crop_keys=[LABEL, WEIGHT]),
        RandScaleIntensityd(IMAGE, factors=(r0 - 1.0, r1 - 1.0), prob=cfg.contrast_prob),
        RandShiftIntensityd(IMAGE, offsets=cfg.brightness_range, prob=cfg.brightness_prob),
        RandAdjustContrastd(IMAGE, gamma=cfg.gamma_range, prob=cfg.gamma_prob),
        *blur,
        RandGaussianNoised(IMAGE, std=cfg.noise_std, prob=cfg.noise_prob),
        EnsureTyped([IMAGE, LABEL, WEIGHT], data_type="tensor", dtype=torch.float32,
                    track_meta=False),
    ]
    return Compose(transforms).set_random_state(seed=seed)


def sample_seed(seed: int, index: int, stream: int = 0) -> int:
    """A seed for sample ``index`` of a run seeded with ``seed``; ``stream`` tells apart the
    random draws of one sample (0: frame and tile position, 1: augmentation). The same
    triple gives the same seed, in any process and after any resume."""
    return int(np.random.SeedSequence([seed, index, stream]).generate_state(1)[0])
