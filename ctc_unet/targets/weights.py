"""The paper's weight map (eq. 2), a pure function of label images:

    w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2))

on background pixels, with d1, d2 the distances to the nearest and second-nearest cell;
computed per cell inside a bounding box grown by the distance beyond which the term is
negligible, so the cost grows with the cells' area, not with (number of cells x image area).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

NEGLIGIBLE = 1e-3  # separation term below this (relative to w0) is treated as 0


def class_weights(target: np.ndarray, valid: np.ndarray | None = None, n_classes: int = 2
                  ) -> np.ndarray:
    """w_c per class: N / (K * n_c) over the valid pixels (1 for absent classes).

    target: (H, W) int class map; valid: (H, W) bool or None. Returns (K,) float32.
    """
    t = target[valid] if valid is not None else target.ravel()
    counts = np.bincount(t.astype(np.int64), minlength=n_classes)[:n_classes].astype(np.float64)
    w = np.ones(n_classes)
    present = counts > 0
    w[present] = t.size / (present.sum() * counts[present])
    return w.astype(np.float32)


def nearest_two_distances(labels: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Distances d1 <= d2 from each pixel to the nearest and second-nearest labelled object.

    labels: (H, W) int. Distances larger than ``cutoff`` are reported as +inf (each object's
    distance transform is computed only inside its bounding box grown by ``cutoff``).
    Returns two (H, W) float32 arrays.
    """
    h, w = labels.shape
    d1 = np.full((h, w), np.inf, np.float32)
    d2 = np.full((h, w), np.inf, np.float32)
    m = math.ceil(cutoff)
    for index, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        ys = slice(max(sl[0].start - m, 0), min(sl[0].stop + m, h))
        xs = slice(max(sl[1].start - m, 0), min(sl[1].stop + m, w))
        dist = ndi.distance_transform_edt(labels[ys, xs] != index).astype(np.float32)
        dist[dist > cutoff] = np.inf
        a, b = d1[ys, xs], d2[ys, xs]
        b[...] = np.minimum(b, np.maximum(a, dist))
        a[...] = np.minimum(a, dist)
    return d1, d2


def separation_cutoff(sigma: float) -> float:
    """d1 + d2 beyond which exp(-(d1+d2)^2 / (2 sigma^2)) < NEGLIGIBLE."""
    return sigma * math.sqrt(2.0 * math.log(1.0 / NEGLIGIBLE))


def weight_map(
    labels: np.ndarray,
    target: np.ndarray,
    w0: float = 10.0,
    sigma: float = 5.0,
    *, ignore: np.ndarray | None = None,
    class_balance: bool = True,
    n_classes: int = 2,
) -> np.ndarray:
    """The paper's weight map (eq. 2).

    labels: (H, W) instance labels *after* removing separation borders (so d1, d2 measure the
    gap that the network must learn); target: (H, W) class map (0 background, 1 cell, 2
    separation border when ``n_classes`` is 3; the separation term lies on every pixel that
    is not cell); ignore: (H, W) bool, pixels that get weight 0. Returns (H, W) float32.
    """
    valid = None if ignore is None else ~ignore
    wc = (class_weights(target, valid, n_classes) if class_balance
          else np.ones(n_classes, np.float32))
    weights = wc[target.astype(np.int64)]
    if w0 > 0 and labels.max() > 0:
        cutoff = separation_cutoff(sigma)
        d1, d2 = nearest_two_distances(labels, cutoff)
        s = d1 + d2
        term = np.zeros_like(weights)
        near = np.isfinite(s) & (target != 1)
        term[near] = w0 * np.exp(-(s[near] ** 2) / (2.0 * sigma**2))
        weights = weights + term
    if ignore is not None:
        weights[ignore] = 0.0
    return weights.astype(np.float32)
