"""Label images: counting how the objects of two label images overlap (the one place that
does it, for the SEG and DET measures, the post-processing search and tracking)."""

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


def overlap_pairs(a: np.ndarray, b: np.ndarray) -> dict[tuple[int, int], int]:
    """(label in a, label in b) -> overlapping pixels, for two (H, W) label images; pairs
    with background (label 0) on either side are left out."""
    a_ids, b_ids, table = contingency(a, b)
    rows, cols = np.nonzero(table)
    return {(int(a_ids[r]), int(b_ids[c])): int(table[r, c]) for r, c in zip(rows, cols,
                                                                          strict=True)
            if a_ids[r] != 0 and b_ids[c] != 0}
