"""Separation borders (paper section 3, Fig. 3c): the pixels between touching cells become
background, so the 2-class target keeps touching cells apart. Pure numpy / scipy functions of
(H, W) label images."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import disk


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
