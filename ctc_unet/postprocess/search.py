"""Choosing the post-processing (threshold, minimum size) on validation frames."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from ctc_unet.config import Config
from ctc_unet.evaluation.seg import seg_measure
from ctc_unet.postprocess.instances import instances_from_probability

THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(11))  # 0.30 .. 0.80
MIN_SIZES = (0, 10, 25, 50, 100, 200, 400, 800, 1600)
SEG_TOLERANCE = 0.005  # settings this close to the best SEG count as equally good



def search_postprocess(probs: list[np.ndarray], references: list[np.ndarray], cfg: Config
                       ) -> dict:
    """Threshold and minimum size that maximise SEG on validation frames.

    SEG ignores false positives, which DET and TRA punish (small fragments become spurious
    tracks), so among the settings within SEG_TOLERANCE of the best SEG the largest minimum
    size wins, then the threshold nearest 0.5.

    probs: (H, W) cell probabilities; references: (H, W) GT labels. Returns the chosen
    setting, its SEG, and the SEG of every setting tried.
    """
    grid = []
    for threshold, min_size in itertools.product(THRESHOLDS, MIN_SIZES):
        post = replace(cfg.postprocess, threshold=threshold, min_size=min_size)
        preds = [instances_from_probability(p, post, cfg.targets.border_width) for p in probs]
        grid.append({"threshold": threshold, "min_size": min_size,
                     "seg": seg_measure(references, preds)})
    top = max(g["seg"] for g in grid)
    near = [g for g in grid if g["seg"] >= top - SEG_TOLERANCE]
    best = max(near, key=lambda g: (g["min_size"], -abs(g["threshold"] - 0.5), g["seg"]))
    return {**best, "frames": len(probs), "grid": grid}
