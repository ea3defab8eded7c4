"""Training targets of the U-Net paper (section 3): separation borders and weight maps.

Pure numpy / scipy / scikit-image functions of label images.

- ``separation_borders``: pixels between touching cells become background, so the 2-class
  target (0 = background/border, 1 = cell) keeps touching cells apart.
- ``weight_map``: w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2)) on background
  pixels, with d1, d2 the distances to the nearest and second-nearest cell; computed per cell
  inside a bounding box grown by the distance beyond which the term is negligible, so the cost
  grows with the cells' area, not with (number of cells x image area).
- ``unannotated_mask``: where tracked cells have no GT mask (partly annotated frames); those
  pixels get weight 0 (neither taught as cell nor as background).
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import disk

from ctc_unet.config import TargetConfig

logger = logging.getLogger(__name__)

NEGLIGIBLE = 1e-3  # separation term below this (relative to w0) is treated as 0


def _footprint(radius: int) -> np.ndarray:
    # A 3x3 square at radius 1 so that diagonal contacts are cut too (8-connectivity).
    return np.ones((3, 3), bool) if radius == 1 else disk(radius).astype(bool)


def separation_borders(labels: np.ndarray, width: int = 2) -> np.ndarray:
    """Pixels of cells that touch a *different* cell, about ``width`` px in all.

    labels: (H, W) int instance labels, 0 = background. Returns (H, W) bool. For an even width
    both cells give up width/2 px; for an odd width the cell with the higher label gives up
    one more pixel than its neighbour.
    """
    if width <= 0:
        return np.zeros(labels.shape, bool)
    lab = labels.astype(np.int64)
    fg = lab > 0
    no_bg = np.where(fg, lab, lab.max() + 1)  # background never counts as a neighbour
    r_hi, r_lo = (width + 1) // 2, width // 2  # reach towards lower / higher labels
    border = fg & (ndi.minimum_filter(no_bg, footprint=_footprint(r_hi), mode="nearest") < lab)
    if r_lo:
        border |= fg & (ndi.maximum_filter(lab, footprint=_footprint(r_lo), mode="nearest") > lab)
    return border


def two_class_target(labels: np.ndarray, width: int = 2) -> np.ndarray:
    """(H, W) uint8: 1 for cell, 0 for background and separation borders."""
    return ((labels > 0) & ~separation_borders(labels, width)).astype(np.uint8)


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
    ignore: np.ndarray | None = None,
    class_balance: bool = True,
) -> np.ndarray:
    """The paper's weight map (eq. 2).

    labels: (H, W) instance labels *after* removing separation borders (so d1, d2 measure the
    gap that the network must learn); target: (H, W) 0/1 class map; ignore: (H, W) bool,
    pixels that get weight 0. Returns (H, W) float32.
    """
    valid = None if ignore is None else ~ignore
    wc = class_weights(target, valid) if class_balance else np.ones(2, np.float32)
    weights = wc[target.astype(np.int64)]
    if w0 > 0 and labels.max() > 0:
        cutoff = separation_cutoff(sigma)
        d1, d2 = nearest_two_distances(labels, cutoff)
        s = d1 + d2
        term = np.zeros_like(weights)
        near = np.isfinite(s) & (target == 0)
        term[near] = w0 * np.exp(-(s[near] ** 2) / (2.0 * sigma**2))
        weights = weights + term
    if ignore is not None:
        weights[ignore] = 0.0
    return weights.astype(np.float32)


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


def make_targets(labels: np.ndarray, cfg: TargetConfig, ignore: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Target (H, W) uint8 and weights (H, W) float32 for instance labels (H, W)."""
    border = separation_borders(labels, cfg.border_width)
    inner = np.where(border, 0, labels)
    target = (inner > 0).astype(np.uint8)
    weights = weight_map(inner, target, cfg.w0, cfg.sigma, ignore, cfg.class_balance)
    return target, weights


def target_key(labels: np.ndarray, ignore: np.ndarray | None, cfg: TargetConfig) -> str:
    """Content key of a target: labels, ignore mask and the parameters that shape them."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(labels.astype(np.int64)).tobytes())
    h.update(str(labels.shape).encode())
    if ignore is not None:
        h.update(np.packbits(ignore).tobytes())
    params = (cfg.border_width, cfg.w0, cfg.sigma, cfg.class_balance, NEGLIGIBLE)
    h.update(repr(params).encode())
    return h.hexdigest()[:32]


def cached_targets(cache_dir: Path | None, labels: np.ndarray, cfg: TargetConfig,
                   ignore: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``make_targets`` with an on-disk cache keyed by content (computed once per frame)."""
    if cache_dir is None:
        return make_targets(labels, cfg, ignore)
    key = target_key(labels, ignore, cfg)
    path = Path(cache_dir) / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path) as z:
                return z["target"], z["weights"]
        except (OSError, ValueError, KeyError):
            logger.warning("unreadable target cache %s; recomputing", path)
    target, weights = make_targets(labels, cfg, ignore)
    from ctc_unet.dataio import atomic_write

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, target=target, weights=weights)

    atomic_write(path, write)
    return target, weights
