"""Segmentation measures on label arrays (no files): the CTC SEG measure and pixel IoU.

SEG (Ulman et al. 2017; the paper's "IOU" in Table 2): a reference object R is matched to the
result object S with |R & S| > 0.5 |R| (at most one such S exists); its score is the Jaccard
index |R & S| / |R | S|, 0 when unmatched; SEG is the mean over all reference objects.
The CTC's own tools (py-ctcmetrics) compute it from files in ``ctc-unet evaluate``.
"""

from __future__ import annotations

import numpy as np

from ctc_unet.data.labels import contingency


def seg_scores(reference: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Jaccard score of each reference object (0 if unmatched), in label order.

    reference, result: (H, W) integer label images (0 = background). Returns (n_ref,) float.
    """
    ref_ids, res_ids, cm = contingency(reference, result)
    ref_area = cm.sum(axis=1)
    res_area = cm.sum(axis=0)
    keep_ref = ref_ids != 0
    keep_res = res_ids != 0
    cm = cm[keep_ref][:, keep_res]
    ref_area, res_area = ref_area[keep_ref], res_area[keep_res]
    scores = np.zeros(cm.shape[0])
    if cm.size:
        best = cm.argmax(axis=1)
        inter = cm[np.arange(cm.shape[0]), best]
        matched = inter > 0.5 * ref_area
        union = ref_area + res_area[best] - inter
        scores[matched] = inter[matched] / union[matched]
    return scores


def seg_measure(references: list[np.ndarray], results: list[np.ndarray]) -> float:
    """SEG over frames: mean Jaccard over every reference object of every frame."""
    scores = np.concatenate([seg_scores(a, b) for a, b in zip(references, results, strict=True)]
                            or [np.zeros(0)])
    return float(scores.mean()) if scores.size else 0.0


def pixel_iou(reference: np.ndarray, result: np.ndarray, valid: np.ndarray | None = None
              ) -> float:
    """IoU of the foregrounds (> 0) of two (H, W) arrays over the valid pixels."""
    a, b = reference > 0, result > 0
    if valid is not None:
        a, b = a & valid, b & valid
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0
