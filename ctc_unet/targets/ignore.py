"""Partly annotated GT frames: where tracked cells have no GT mask. Those pixels get weight 0
(neither taught as cell nor as background)."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi


def marker_band(markers: np.ndarray, reach: float, margin: int = 5) -> np.ndarray:
    """Where a frame annotated by TRA markers alone is unknown: (H, W) bool, the pixels within
    ``reach`` + ``margin`` px of a marker that are not marker pixels. The marker pixels are
    cell, the pixels beyond are background: ``reach`` is how far a cell extends from its
    centre (``cell_reach``), so no cell reaches past the band."""
    inside = markers > 0
    if not inside.any():
        return np.zeros(markers.shape, bool)
    return (ndi.distance_transform_edt(~inside) <= reach + margin) & ~inside


REACH_QUANTILE = 0.95  # of the cells' reach: elongated and large cells are covered too


def cell_reach(masks: list[np.ndarray]) -> float:
    """How far a cell extends from its centroid, in px: the ``REACH_QUANTILE`` quantile,
    over the objects of ``masks``, of each object's largest centroid-to-pixel distance."""
    reach = []
    for m in masks:
        m = np.asarray(m)
        ys, xs = np.nonzero(m)
        if not ys.size:
            continue
        labels = m[ys, xs]
        n = np.bincount(labels)
        cy = np.bincount(labels, ys)[labels] / n[labels]
        cx = np.bincount(labels, xs)[labels] / n[labels]
        dist = np.hypot(ys - cy, xs - cx)
        far = np.zeros(n.size)
        np.maximum.at(far, labels, dist)
        reach += far[n > 0].tolist()  # labels > 0 only: the pixels are the objects'
    return float(np.quantile(reach, REACH_QUANTILE)) if reach else 0.0


def unannotated_mask(seg: np.ndarray, markers: np.ndarray, margin: int = 5,
                     silver: np.ndarray | None = None) -> np.ndarray:
    """Pixels around tracked cells that have no GT mask in a partly annotated frame.

    seg: (H, W) GT labels; markers: (H, W) TRA markers; silver: optional (H, W) ST labels.
    A marker that touches no GT object marks an unannotated cell. Its extent is the ST object
    under the marker when ST is given, else a disk of the median GT cell radius (or the
    marker's own radius if larger) around the marker; either is grown by ``margin`` px and
    GT cells are left out. Returns (H, W) bool.
    """
    ids = np.unique(markers)
    ids = ids[ids > 0]
    covered = np.unique(markers[(markers > 0) & (seg > 0)])
    missing = ids[~np.isin(ids, covered)]
    if missing.size == 0:
        return np.zeros(seg.shape, bool)
    areas = np.bincount(seg.ravel())[1:]
    areas = areas[areas > 0]
    radius = math.sqrt(np.median(areas) / math.pi) if areas.size else 0.0
    extent = np.zeros(seg.shape, bool)
    for lab in missing:
        m = markers == lab
        if silver is not None:
            under = np.unique(silver[m])
            under = under[under > 0]
            if under.size:
                extent |= np.isin(silver, under)
                continue
        r = max(radius, math.sqrt(m.sum() / math.pi))
        extent |= ndi.distance_transform_edt(~m) <= r
    grown = ndi.distance_transform_edt(~extent) <= margin
    return grown & (seg == 0)
