"""ISBI 2012 measures."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from skimage.measure import label as connected_components
from skimage.metrics import adapted_rand_error

ISBI_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))


def isbi_measures(prob_cell: np.ndarray, labels: np.ndarray,
                  thresholds: Iterable[float] = ISBI_THRESHOLDS) -> dict[str, float]:
    """Rand error and pixel error of cell probabilities against ISBI 2012 labels.

    prob_cell: (Z, H, W) or (H, W) cell-interior probability; labels: same shape, 1 (or 255)
    for cell and 0 for membrane. Returns rand_error, rand_threshold, pixel_error and the Rand
    F-score per threshold.
    """
    prob = np.atleast_3d(prob_cell) if prob_cell.ndim == 2 else prob_cell
    truth = (labels > 0).reshape(prob.shape)
    gt_regions = np.stack([connected_components(s, connectivity=1) for s in truth])
    scores = {}
    for t in thresholds:
        seg = np.stack([connected_components(s > t, connectivity=1) for s in prob])
        error, _, _ = adapted_rand_error(gt_regions, seg)
        scores[float(t)] = 1.0 - float(error)
    best = max(scores, key=scores.get)
    return {"rand_error": 1.0 - scores[best], "rand_threshold": best,
            "pixel_error": float(np.mean((prob > 0.5) != truth)),
            "rand_f_by_threshold": scores}
