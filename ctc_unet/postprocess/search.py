"""Choosing the post-processing (threshold, minimum size) on the validation (choosing) frames,
never on the frames whose scores are reported."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from ctc_unet.config import Config
from ctc_unet.evaluation.det import det_measure
from ctc_unet.evaluation.seg import seg_measure
from ctc_unet.postprocess.instances import instances_from_probability

THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(11))  # 0.30 .. 0.80
MIN_SIZES = (0, 10, 25, 50, 100, 200, 400, 800, 1600)
SCORE_TOLERANCE = 0.005  # settings this close to the best score count as equally good



def search_postprocess(probs: list[np.ndarray], references: list[np.ndarray], cfg: Config,
                       markers: list[np.ndarray] | None = None) -> dict:
    """Threshold and minimum size that maximise a detection-aware score on validation frames.

    With TRA ``markers`` the score is OP_CSB = (SEG + DET) / 2, which punishes false
    positives and misses; without them SEG alone. Among the settings within SCORE_TOLERANCE
    of the best score the largest minimum size wins (fragments become spurious tracks), then
    the threshold nearest 0.5.

    probs: (H, W) cell probabilities; references: (H, W) labels; markers: (H, W) TRA markers.
    Returns the chosen setting with its scores, the measure's name, and every setting tried.
    """
    grid = []
    for threshold, min_size in itertools.product(THRESHOLDS, MIN_SIZES):
        post = replace(cfg.postprocess, threshold=threshold, min_size=min_size)
        preds = [instances_from_probability(p, post, cfg.targets.border_width) for p in probs]
        row = {"threshold": threshold, "min_size": min_size,
               "seg": seg_measure(references, preds)}
        if markers is not None:
            row["det"] = det_measure(markers, preds)
            row["score"] = (row["seg"] + row["det"]) / 2
        else:
            row["score"] = row["seg"]
        grid.append(row)
    top = max(g["score"] for g in grid)
    near = [g for g in grid if g["score"] >= top - SCORE_TOLERANCE]
    best = max(near, key=lambda g: (g["min_size"], -abs(g["threshold"] - 0.5), g["score"]))
    return {**best, "measure": "OP_CSB" if markers is not None else "SEG",
            "frames": len(probs), "grid": grid}
