"""Competing segmentations of one frame: the instances of a probability map at several
thresholds (or, for given masks, the masks' own objects), as candidates with features, and the
sets of candidates that claim the same pixels (at most one of each set may be chosen).

A frame's candidates are kept as a stack of label images, one per level, with labels that are
global candidate ids + 1 (0 = none), so that overlaps between the candidates of two frames are
the overlaps of their label images (``ctc_unet.data.labels.overlap_pairs``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage as ndi

from ctc_unet.config import PostprocessConfig
from ctc_unet.postprocess.instances import instances_from_probability

FEATURES = ("mean_probability", "log_area", "relative_area", "level", "level_offset")


@dataclass
class FrameCandidates:
    """The candidates of one frame: ``levels`` (L, H, W) int32 label images whose labels are
    global candidate ids + 1; ``ids``: the frame's candidate ids; ``features``: (n, F) rows in
    FEATURES order; ``areas``, ``centroids`` (n, 2); ``conflicts``: sets of ids that claim a
    common pixel (at most one of each may be chosen)."""

    t: int
    levels: np.ndarray
    ids: np.ndarray
    features: np.ndarray
    areas: np.ndarray
    centroids: np.ndarray
    conflicts: list[tuple[int, ...]]

    def mask(self, cid: int) -> np.ndarray:
        """(H, W) bool pixels of candidate ``cid``."""
        return (self.levels == cid + 1).any(axis=0)


def threshold_levels(threshold: float, spread: Sequence[float]) -> list[float]:
    """The thresholds whose instances compete: ``threshold`` shifted by each of ``spread``,
    kept inside (0.05, 0.95), without repeats."""
    return sorted({round(min(max(threshold + s, 0.05), 0.95), 3) for s in spread})


def frame_candidates(t: int, layers: Sequence[np.ndarray], first_id: int,
                     prob: np.ndarray | None = None, typical_area: float | None = None,
                     chosen_level: int = 0) -> FrameCandidates:
    """Candidates of frame ``t`` from label images ``layers`` (one per level, any ids, 0 =
    background): each distinct object is a candidate (an object found alike at two levels is
    one candidate), numbered from ``first_id``. ``prob``: the cell probability (H, W) for
    the mean-probability feature (1 without); ``typical_area``: for the relative area;
    ``chosen_level``: the index of the chosen threshold's layer."""
    stack, seen, rows, areas, cents = [], {}, [], [], []
    next_id = first_id
    for level, labels in enumerate(layers):
        labels = np.asarray(labels)
        out = np.zeros(labels.shape, np.int32)
        for lab, box in enumerate(ndi.find_objects(labels), start=1):
            if box is None:
                continue
            local = labels[box] == lab
            ys, xs = np.nonzero(local)
            ys, xs = ys + box[0].start, xs + box[1].start
            key = hashlib.sha1((ys * labels.shape[1] + xs).tobytes()).digest()
            cid = seen.get(key)
            if cid is not None:
                row = rows[cid - first_id]
                row[4] = min(row[4], float(abs(level - chosen_level)))
            else:
                cid = seen[key] = next_id
                next_id += 1
                area = float(ys.size)
                mean_p = float(prob[ys, xs].mean()) if prob is not None else 1.0
                rel = area / typical_area if typical_area else 1.0
                rows.append([mean_p, np.log(area), rel, float(level),
                             float(abs(level - chosen_level))])
                areas.append(area)
                cents.append((ys.mean(), xs.mean()))
            out[ys, xs] = cid + 1
        stack.append(out)
    levels = np.stack(stack) if stack else np.zeros((0, 1, 1), np.int32)
    ids = np.arange(first_id, next_id)
    return FrameCandidates(t, levels, ids, np.asarray(rows, float).reshape(-1, len(FEATURES)),
                           np.asarray(areas, float), np.asarray(cents, float).reshape(-1, 2),
                           conflict_sets(levels))


def conflict_sets(levels: np.ndarray) -> list[tuple[int, ...]]:
    """The sets of candidates (ids) that cover a common pixel, each at most once: for every
    pixel the candidates of all levels that claim it; sets of one are no conflict."""
    if levels.shape[0] < 2:
        return []
    flat = levels.reshape(levels.shape[0], -1).T  # (pixels, L)
    flat = flat[(flat > 0).sum(axis=1) > 1]
    if not flat.size:
        return []
    rows = np.unique(np.sort(flat, axis=1), axis=0)
    out = set()
    for row in rows:
        ids = tuple(sorted({int(v) - 1 for v in row if v > 0}))
        if len(ids) > 1:
            out.add(ids)
    return sorted(out)


def probability_candidates(probs: Sequence[np.ndarray], post: PostprocessConfig,
                           border_width: int, spread: Sequence[float]
                           ) -> list[FrameCandidates]:
    """Candidates of every frame: the instances of the chosen post-processing at each
    threshold of ``threshold_levels(post.threshold, spread)`` (``spread`` holds 0)."""
    levels = threshold_levels(post.threshold, spread)
    chosen = int(np.argmin([abs(lv - post.threshold) for lv in levels]))
    layered = [[instances_from_probability(p, replace(post, threshold=lv), border_width)
                for lv in levels] for p in probs]
    areas = [a for layers in layered for a in np.bincount(layers[len(levels) // 2].ravel())[1:]
             if a > 0]
    typical = float(np.median(areas)) if areas else None
    out, first = [], 0
    for t, (p, layers) in enumerate(zip(probs, layered, strict=True)):
        fc = frame_candidates(t, layers, first, p, typical, chosen)
        out.append(fc)
        first += fc.ids.size
    return out


def mask_candidates(masks: Sequence[np.ndarray]) -> list[FrameCandidates]:
    """Given masks as candidates: one level, each object one candidate, no conflicts."""
    areas = [a for m in masks for a in np.bincount(np.asarray(m).ravel())[1:] if a > 0]
    typical = float(np.median(areas)) if areas else None
    out, first = [], 0
    for t, m in enumerate(masks):
        fc = frame_candidates(t, [m], first, None, typical)
        out.append(fc)
        first += fc.ids.size
    return out
