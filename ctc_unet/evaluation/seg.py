"""Segmentation measures on label arrays (no files): the CTC SEG measure and pixel IoU.

SEG (Ulman et al. 2017; the paper's "IOU" in Table 2): a reference object R is matched to the
result object S with |R & S| > 0.5 |R| (at most one such S exists); its score is the Jaccard
index |R & S| / |R | S|, 0 when unmatched; SEG is the mean over all reference objects.
The CTC's own tools (py-ctcmetrics) compute it from files in ``ctc-unet evaluate``.
"""

from __future__ import annotations

import numpy as np

MAX_TABLE = 1 << 22  # label pairs counted with one bincount up to this many cells


def contingency(reference: np.ndarray, result: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlap table of two (H, W) label images: (ref_ids, res_ids, counts) with counts[i, j]
    the pixels labelled ref_ids[i] in ``reference`` and res_ids[j] in ``result``; the ids are
    the labels present, 0 included. One bincount over pixel pairs when the labels are small
    (the usual case: no sort of the pixels), else np.unique."""
    ref = np.asarray(reference).astype(np.int64).ravel()
    res = np.asarray(result).astype(np.int64).ravel()
    if ref.size and min(ref.min(), res.min()) >= 0:
        nr, ns = int(ref.max()) + 1, int(res.max()) + 1
        if nr * ns <= MAX_TABLE:
            table = np.bincount(ref * ns + res, minlength=nr * ns).reshape(nr, ns)
            ref_ids, res_ids = np.flatnonzero(table.sum(1)), np.flatnonzero(table.sum(0))
            return ref_ids, res_ids, table[np.ix_(ref_ids, res_ids)]
    ref_ids, ref_idx = np.unique(ref, return_inverse=True)
    res_ids, res_idx = np.unique(res, return_inverse=True)
    table = np.zeros((ref_ids.size, res_ids.size), np.int64)
    np.add.at(table, (ref_idx, res_idx), 1)
    return ref_ids, res_ids, table


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
