"""Evaluation: CTC measures through py-ctcmetrics, ISBI 2012 Rand and pixel error.

CTC (per sequence): SEG (the paper's "IOU" of Table 2), DET, TRA, OP_CSB = (SEG + DET) / 2 and
OP_CTB = (SEG + TRA) / 2, computed by py-ctcmetrics from the ``XX_RES`` and ``XX_GT`` folders.
SEG can be restricted to some GT frames (e.g. a run's held-out validation frames).

ISBI 2012: the foreground-restricted Rand error of the challenge, 1 - max over thresholds
0.1..0.9 of the Rand F-score (scikit-image's ``adapted_rand_error``: GT label 0, the membrane, is
ignored), with cells the connected components of the thresholded cell probability; and the
pixel error, 1 - accuracy of the map thresholded at 0.5. The warping error (which needs
simple-point topology checks) is not implemented.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from skimage.measure import label as connected_components
from skimage.metrics import adapted_rand_error

from ctc_unet.dataio import SEG_RE
from ctc_unet.errors import DataError

logger = logging.getLogger(__name__)

CTC_MEASURES = ("SEG", "DET", "TRA", "OP_CSB", "OP_CTB")
ISBI_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))


def _subset_gt(gt_dir: Path, frames: Iterable[int], into: Path) -> Path:
    """A GT folder whose SEG holds only ``frames`` (links to the originals) and the full TRA."""
    keep = set(frames)
    (into / "SEG").mkdir(parents=True)
    os.symlink((gt_dir / "TRA").resolve(), into / "TRA")
    for p in sorted((gt_dir / "SEG").iterdir()):
        m = SEG_RE.match(p.name)
        if m and int(m.group(1)) in keep:
            os.symlink(p.resolve(), into / "SEG" / p.name)
    return into


def evaluate_ctc_sequence(res_dir: Path, gt_dir: Path, seg_frames: Iterable[int] | None = None
                          ) -> dict[str, float]:
    """CTC measures of one ``XX_RES`` folder against its ``XX_GT`` folder (py-ctcmetrics)."""
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    for need in (res_dir / "res_track.txt", gt_dir / "TRA" / "man_track.txt"):
        if not need.is_file():
            raise DataError(f"{need}: file not found")
    if not any((gt_dir / "SEG").glob("man_seg*.tif")):
        raise DataError(f"{gt_dir / 'SEG'}: no GT segmentation to evaluate SEG against")
    n_res = len(list(res_dir.glob("mask*.tif")))
    n_tra = len(list((gt_dir / "TRA").glob("man_track*.tif")))
    if n_res != n_tra:
        raise DataError(f"{res_dir}: {n_res} result masks but {n_tra} frames in {gt_dir / 'TRA'}")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        gt = gt_dir if seg_frames is None else _subset_gt(gt_dir, seg_frames, Path(tmp) / "GT")
        results = evaluate_sequence(str(res_dir), str(gt), metrics=list(CTC_MEASURES),
                                    threads=1)
    out = {k: float(results[k]) for k in CTC_MEASURES if results.get(k) is not None}
    out["Valid"] = float(results.get("Valid", 1))
    return out


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


def format_table(rows: list[dict], columns: list[str]) -> str:
    """CSV text of ``rows`` with ``columns``."""
    lines = [",".join(columns)]
    for r in rows:
        lines.append(",".join("" if r.get(c) is None else
                              (f"{r[c]:.6f}" if isinstance(r[c], float) else str(r[c]))
                              for c in columns))
    return "\n".join(lines) + "\n"
