"""Label images: counting how the objects of two label images overlap (the one place that
does it, for the SEG and DET measures, the post-processing search and tracking)."""

from __future__ import annotations

from collections import Counter

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


def covering_objects(markers: np.ndarray, mask: np.ndarray) -> dict[int, int]:
    """Marker label -> the object of ``mask`` that covers more than half of the marker (the
    CTC's DET match), -1 where none does. markers, mask: (H, W) label images (0 =
    background)."""
    ref_ids, res_ids, table = contingency(markers, mask)
    area = table.sum(axis=1)
    match = {}
    for r, ref in enumerate(ref_ids):
        if ref == 0:
            continue
        cols = np.nonzero((table[r] > 0.5 * area[r]) & (res_ids > 0))[0]
        match[int(ref)] = int(res_ids[cols[0]]) if cols.size else -1
    return match


def marker_matches(markers: np.ndarray, mask: np.ndarray) -> dict[int, int]:
    """Marker label -> result label as py-ctcmetrics' CT reads one frame: the object that
    covers more than half of the marker, or 0 when none does or that object covers more
    than half of another marker too. markers, mask: (H, W) label images (0 = background)."""
    match = covering_objects(markers, mask)
    shared = Counter(v for v in match.values() if v > 0)
    return {ref: (0 if res > 0 and shared[res] > 1 else res) for ref, res in match.items()}
