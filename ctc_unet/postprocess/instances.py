"""Instance labels from the predicted cell probability (pure numpy / scipy / scikit-image).

Cell probability > threshold -> 4-connected components (the predicted separation borders keep
touching cells apart) -> drop components below a minimum size -> give the border pixels
between two cells back to them (each to the nearest) -> fill holes -> relabel 1..N (uint16).

``method: watershed`` replaces the components by a marker-controlled watershed inside the
predicted foreground, so that one gap in a predicted border no longer merges two cells: seeds
are the confident interiors (probability > ``seed_threshold``, holes filled, so a textured
nucleus does not split its cell) or the h-maxima of the distance to the background; every
foreground component without a seed stays one object.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label as connected_components
from skimage.morphology import disk, h_maxima
from skimage.segmentation import expand_labels, relabel_sequential, watershed

from ctc_unet.config import PostprocessConfig


def remove_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Zero the objects of (H, W) ``labels`` with fewer than ``min_size`` pixels."""
    if min_size <= 1 or labels.max() == 0:
        return labels
    sizes = np.bincount(labels.ravel())
    small = sizes < min_size
    small[0] = False
    out = labels.copy()
    out[small[labels]] = 0
    return out


def restore_borders(labels: np.ndarray, width: int) -> np.ndarray:
    """Give background pixels that lie within ``width`` px of two different objects to the
    nearer one; free cell edges (next to background only) do not grow.

    labels: (H, W) int. Returns a new (H, W) array.
    """
    if width <= 0 or labels.max() == 0:
        return labels
    lab = labels.astype(np.int64)
    grown = expand_labels(lab, distance=width)
    fp = disk(width).astype(bool) if width > 1 else np.ones((3, 3), bool)
    hi = ndi.maximum_filter(lab, footprint=fp, mode="nearest")
    lo = ndi.minimum_filter(np.where(lab > 0, lab, lab.max() + 1), footprint=fp, mode="nearest")
    between = (lab == 0) & (grown > 0) & (hi > 0) & (hi != lo) & (lo <= lab.max())
    out = lab.copy()
    out[between] = grown[between]
    return out


def fill_holes(labels: np.ndarray) -> np.ndarray:
    """Assign background pixels enclosed by objects to the nearest object."""
    holes = ndi.binary_fill_holes(labels > 0) & (labels == 0)
    if not holes.any():
        return labels
    _, (iy, ix) = ndi.distance_transform_edt(labels == 0, return_indices=True)
    out = labels.copy()
    out[holes] = labels[iy[holes], ix[holes]]
    return out


def watershed_seeds(prob: np.ndarray, foreground: np.ndarray, cfg: PostprocessConfig
                    ) -> np.ndarray:
    """Seed labels (H, W) int64 for ``seeded_watershed``, inside ``foreground`` (H, W) bool."""
    if cfg.seeds == "distance":
        dist = ndi.distance_transform_edt(ndi.binary_fill_holes(foreground))
        peaks = h_maxima(dist, cfg.seed_distance) if cfg.seed_distance > 0 else dist > 0
        return connected_components(peaks & foreground, connectivity=2).astype(np.int64)
    confident = ndi.binary_fill_holes(prob > max(cfg.seed_threshold, cfg.threshold))
    return connected_components(confident & foreground, connectivity=1).astype(np.int64)


def seeded_watershed(prob: np.ndarray, cfg: PostprocessConfig) -> np.ndarray:
    """Instances (H, W) int64 of a marker-controlled watershed of ``1 - prob`` inside
    ``prob > threshold`` (its holes filled when ``fill_holes``, so that a cell's textured
    interior is flooded with it); regions that hold no seed keep their own label."""
    foreground = prob > cfg.threshold
    region = ndi.binary_fill_holes(foreground) if cfg.fill_holes else foreground
    seeds = watershed_seeds(prob, region, cfg)
    labels = watershed(1.0 - prob, seeds, mask=region, connectivity=1).astype(np.int64)
    orphans = connected_components(region & (labels == 0), connectivity=1)
    labels[orphans > 0] = orphans[orphans > 0] + labels.max()
    return labels


def raw_instances(prob: np.ndarray, cfg: PostprocessConfig) -> np.ndarray:
    """Objects (H, W) int64 of the instance rule alone (components or seeded watershed at the
    threshold), before the minimum size and the clean-up of ``finish_instances``."""
    if cfg.method == "watershed":
        return seeded_watershed(prob, cfg)
    return connected_components(prob > cfg.threshold, connectivity=1).astype(np.int64)


def instances_from_probability(prob: np.ndarray, cfg: PostprocessConfig,
                               border_width: int = 2) -> np.ndarray:
    """Instance labels (H, W) uint16, 1..N, from a (H, W) cell probability."""
    return finish_instances(raw_instances(prob, cfg), cfg, border_width)


def finish_instances(labels: np.ndarray, cfg: PostprocessConfig, border_width: int = 2
                     ) -> np.ndarray:
    """``raw_instances`` -> objects below ``min_size`` dropped, border pixels between two
    cells given back, holes filled, relabelled 1..N; (H, W) uint16."""
    labels = remove_small(labels, cfg.min_size)
    if cfg.restore_borders:
        labels = restore_borders(labels, max(1, math.ceil(border_width)))
    if cfg.fill_holes:
        labels = fill_holes(labels)
    relabelled, _, _ = relabel_sequential(labels)
    return relabelled.astype(np.uint16)
