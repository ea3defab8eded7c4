"""A small synthetic dataset in CTC training layout: the demo's data and the tests' fixture.

Each sequence shows textured elliptical cells on a noisy, unevenly lit background: a pair of
cells that touch along a shared edge, a cell that divides into two daughters, and a few
isolated cells that drift. The true labels of every frame are kept, so tests can compare
against the exact answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries

from ctc_unet.data.ctc import TrackRecord, write_tracks
from ctc_unet.data.images import write_label_tiff
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import staged_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticSequence:
    """images: (T, H, W) uint8; labels: (T, H, W) uint16 true instances, ids = track labels."""

    images: np.ndarray
    labels: np.ndarray
    tracks: list[TrackRecord]


@dataclass
class _Cell:
    label: int
    begin: int
    end: int
    parent: int
    center: np.ndarray  # (2,) y, x at ``begin``
    velocity: np.ndarray  # (2,) px / frame
    axes: tuple[float, float]  # semi-axes (a along theta, b across)
    theta: float
    growth: float = 0.0  # relative growth of the axes per frame


def _render_labels(cells: list[_Cell], t: int, shape: tuple[int, int]) -> np.ndarray:
    """Each pixel goes to the cell whose ellipse covers it most centrally."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    best = np.full(shape, np.inf, np.float32)
    labels = np.zeros(shape, np.uint16)
    for c in cells:
        if not c.begin <= t <= c.end:
            continue
        cy, cx = c.center + c.velocity * (t - c.begin)
        scale = 1.0 + c.growth * (t - c.begin)
        a, b = c.axes[0] * scale, c.axes[1] * scale
        dy, dx = yy - cy, xx - cx
        u = dx * np.cos(c.theta) + dy * np.sin(c.theta)
        v = -dx * np.sin(c.theta) + dy * np.cos(c.theta)
        r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
        take = (r <= 1.0) & (r < best)
        best[take] = r[take]
        labels[take] = c.label
    return labels


def _render_image(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Textured cells with a dark rim on a noisy, unevenly lit background; uint8."""
    h, w = labels.shape
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    phase = rng.uniform(0, 2 * np.pi)
    background = 70 + 12 * np.sin(2 * np.pi * (xx + 0.5 * yy) + phase)
    texture = ndi.gaussian_filter(rng.normal(size=(h, w)), 2.0)
    texture *= 30 / (texture.std() + 1e-8)
    cells = labels > 0
    image = np.where(cells, 150 + texture, background)
    rim = find_boundaries(labels, mode="inner") & cells
    image[rim] -= 70
    image = ndi.gaussian_filter(image, 0.8)
    image += rng.normal(0, 9, size=(h, w))
    return np.clip(image, 0, 255).astype(np.uint8)


def _plan_cells(rng: np.random.Generator, size: int, n_frames: int) -> list[_Cell]:
    """Cells on a jittered grid of slots: one touching pair, one division, drifting singles."""
    slots = 4
    step = size / slots
    order = rng.permutation(slots * slots)
    centers = [np.array([(k // slots + 0.5) * step, (k % slots + 0.5) * step]) for k in order]
    jitter = step * 0.08
    cells: list[_Cell] = []
    label = 1

    # Touching pair: two ellipses side by side, overlapping by a few pixels, moving together.
    c0 = centers.pop()
    theta = rng.uniform(0, np.pi)
    direction = np.array([np.sin(theta), np.cos(theta)])
    a = step * 0.26
    v = rng.normal(0, 0.6, 2)
    for sign in (-1, 1):
        cells.append(_Cell(label, 0, n_frames - 1, 0, c0 + sign * direction * a * 0.85, v,
                           (a, a * 0.8), theta))
        label += 1

    # Division: a mother that grows, then two daughters moving apart along its long axis.
    c1 = centers.pop()
    split = n_frames // 2
    theta = rng.uniform(0, np.pi)
    direction = np.array([np.sin(theta), np.cos(theta)])
    mother = _Cell(label, 0, split - 1, 0, c1, np.zeros(2), (step * 0.24, step * 0.19), theta,
                   growth=0.04)
    cells.append(mother)
    label += 1
    for sign in (-1, 1):
        cells.append(_Cell(label, split, n_frames - 1, mother.label,
                           c1 + sign * direction * step * 0.15, sign * direction * 1.2,
                           (step * 0.15, step * 0.13), theta + rng.normal(0, 0.2)))
        label += 1

    # Isolated cells drifting slowly.
    for c in centers[:6]:
        a = step * rng.uniform(0.17, 0.26)
        cells.append(_Cell(label, 0, n_frames - 1, 0, c + rng.normal(0, jitter, 2),
                           rng.normal(0, 0.8, 2), (a, a * rng.uniform(0.6, 0.9)),
                           rng.uniform(0, np.pi)))
        label += 1
    return cells


def make_sequence(rng: np.random.Generator, size: int = 256, n_frames: int = 10
                  ) -> SyntheticSequence:
    """Simulate one sequence of ``n_frames`` (size, size) frames."""
    cells = _plan_cells(rng, size, n_frames)
    labels = np.stack([_render_labels(cells, t, (size, size)) for t in range(n_frames)])
    images = np.stack([_render_image(lab, rng) for lab in labels])
    tracks = [TrackRecord(c.label, c.begin, c.end, c.parent) for c in cells]
    return SyntheticSequence(images, labels, tracks)


def _markers(labels: np.ndarray, radius: int = 4) -> np.ndarray:
    """TRA-style markers: a small disk at each cell's centroid, clipped to the cell."""
    markers = np.zeros_like(labels)
    yy, xx = np.mgrid[: labels.shape[0], : labels.shape[1]]
    for lab, (cy, cx) in zip(np.unique(labels)[1:], ndi.center_of_mass(
            labels > 0, labels, np.unique(labels)[1:]), strict=True):
        disk = ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2) & (labels == lab)
        markers[disk if disk.any() else labels == lab] = lab
    return markers


def _silver(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Silver truth: the true cells, each randomly eroded or grown by one pixel."""
    out = labels.copy()
    for lab in np.unique(labels)[1:]:
        cell = labels == lab
        change = rng.integers(-1, 2)
        if change < 0:
            out[cell & ~ndi.binary_erosion(cell)] = 0
        elif change > 0:
            out[ndi.binary_dilation(cell) & (labels == 0)] = lab
    return out


def write_synthetic_dataset(
    out: Path,
    seed: int = 0,
    *, n_sequences: int = 2,
    n_frames: int = 10,
    size: int = 256,
    gt_every: int = 3,
) -> Path:
    """Write a synthetic CTC training dataset to ``out`` (created atomically).

    GT SEG is written every ``gt_every`` frames; in sequence 01 one of those frames is only
    partly annotated (two tracked cells get a mask, the others none). TRA markers, ``man_track.txt``
    and ST SEG cover every frame.
    """
    out = Path(out)
    if out.exists():
        raise CtcUnetError(f"{out}: already exists; choose another folder or remove it")
    rng = np.random.default_rng(seed)
    with staged_dir(out) as staging:
        for s in range(1, n_sequences + 1):
            name = f"{s:02d}"
            seq = make_sequence(rng, size, n_frames)
            (staging / name).mkdir()
            gt_frames = list(range(1, n_frames, gt_every))
            partial = gt_frames[len(gt_frames) // 2] if s == 1 else None
            for t in range(n_frames):
                tifffile.imwrite(staging / name / f"t{t:03d}.tif", seq.images[t])
                lab = seq.labels[t]
                write_label_tiff(staging / f"{name}_GT" / "TRA" / f"man_track{t:03d}.tif",
                                 _markers(lab))
                write_label_tiff(staging / f"{name}_ST" / "SEG" / f"man_seg{t:03d}.tif",
                                 _silver(lab, rng))
                if t in gt_frames:
                    seg = lab.copy()
                    if t == partial:
                        keep = np.unique(lab)[1:3]
                        seg[~np.isin(lab, keep)] = 0
                    write_label_tiff(staging / f"{name}_GT" / "SEG" / f"man_seg{t:03d}.tif",
                                     seg)
            write_tracks(staging / f"{name}_GT" / "TRA" / "man_track.txt", seq.tracks)
    logger.info("wrote synthetic dataset (%d sequences x %d frames) to %s", n_sequences,
                n_frames, out)
    return out
