"""Choosing the post-processing (threshold, minimum size) on the validation (choosing) frames,
never on the frames whose scores are reported."""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import replace

import numpy as np

from ctc_unet.config import Config
from ctc_unet.evaluation.det import det_measure
from ctc_unet.evaluation.seg import seg_measure
from ctc_unet.postprocess.instances import finish_instances, raw_instances

logger = logging.getLogger(__name__)

THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(11))  # 0.30 .. 0.80
MIN_SIZES = (0, 10, 25, 50, 100, 200, 400, 800, 1600)
SCORE_TOLERANCE = 0.005  # settings this close to the best score count as equally good
# Instance rules tried besides the configured one (docs/prediction.md: on DIC-HeLa
# distance-seeded watersheds separated touching cells that components merged), each on a
# coarser grid since a watershed costs about three times a labelling.
RULES = (
    {"method": "watershed", "seeds": "distance", "seed_distance": 2.0},
    {"method": "watershed", "seeds": "distance", "seed_distance": 5.0},
    {"method": "watershed", "seeds": "probability", "seed_threshold": 0.9},
)
RULE_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
RULE_MIN_SIZES = (100, 400, 800, 1600)
RULE_KEYS = ("method", "seeds", "seed_threshold", "seed_distance")
PROGRESS_EVERY_S = 60.0  # a log line at most this often during a long search


def candidates(cfg: Config, rules: bool = True) -> list[dict]:
    """Post-processing settings the search tries: the configured rule on the full grid, and
    (with ``rules``) each of RULES on the coarse grid."""
    base = {k: getattr(cfg.postprocess, k) for k in RULE_KEYS}
    out = [{**base, "threshold": t, "min_size": m}
           for t, m in itertools.product(THRESHOLDS, MIN_SIZES)]
    if rules:
        for rule in RULES:
            out += [{**base, **rule, "threshold": t, "min_size": m}
                    for t, m in itertools.product(RULE_THRESHOLDS, RULE_MIN_SIZES)]
    return out



def search_postprocess(probs: list[np.ndarray], references: list[np.ndarray | None],
                       cfg: Config, markers: list[np.ndarray] | None = None, *,
                       rules: bool = True) -> dict:
    """Instance rule (components or a seeded watershed, see RULES), threshold and minimum size
    that maximise a detection-aware score on validation frames.

    With TRA ``markers`` the score is OP_CSB = (SEG + DET) / 2, which punishes false
    positives and misses; without them SEG alone. Among the settings within SCORE_TOLERANCE
    of the best score the largest minimum size wins (fragments become spurious tracks), then
    the threshold nearest 0.5.

    probs: (H, W) cell probabilities; references: (H, W) labels, None for a frame that has
    markers only (it counts in DET, not in SEG); markers: (H, W) TRA markers. Returns the
    chosen setting with its scores, the measure's name, and every setting tried.
    """
    segmented = [i for i, r in enumerate(references) if r is not None]
    grid, raw, raw_key = [], [], None
    settings = candidates(cfg, rules)
    start = told = time.monotonic()
    for n, setting in enumerate(settings):
        post = replace(cfg.postprocess, **setting)
        key = tuple(setting[k] for k in (*RULE_KEYS, "threshold"))
        if key != raw_key:  # the rule's objects depend on the threshold, not the minimum size
            if n and time.monotonic() - told > PROGRESS_EVERY_S:
                told = time.monotonic()
                logger.info("choosing the post-processing: %d of %d settings tried on %d "
                            "frames (%.0f s)", n, len(settings), len(probs), told - start)
            raw, raw_key = [raw_instances(p, post) for p in probs], key
        preds = [finish_instances(r, post, cfg.targets.border_width) for r in raw]
        row = {**setting, "seg": seg_measure([references[i] for i in segmented],
                                              [preds[i] for i in segmented])}
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


def describe(setting: dict) -> str:
    """The instance rule of a setting in words, e.g. 'watershed (distance seeds, h 2)'."""
    if setting.get("method", "components") == "components":
        return "components"
    if setting.get("seeds") == "distance":
        return f"watershed (distance seeds, h {setting['seed_distance']:g})"
    return f"watershed (seeds p > {setting['seed_threshold']:g})"
