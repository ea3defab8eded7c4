"""The candidate graph: links between the candidates of nearby frames, with their features.

A link joins a candidate of frame t to one of frame t + 1 that it overlaps or whose centroid
lies within ``max_distance`` px, and (a gap: the cell missed in between) to such a candidate of
frame t + 1 + g, g <= ``max_gap``. Features of a link: the IoU of the two candidates, their centroid
distance in units of the typical cell radius, the absolute log ratio of their areas, and the
gap length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .candidates import FrameCandidates

EDGE_FEATURES = ("iou", "distance", "area_change", "gap")


@dataclass(frozen=True)
class Links:
    """Links as parallel arrays: ``src`` and ``dst`` candidate ids, ``features`` (n, 4) in
    EDGE_FEATURES order."""

    src: np.ndarray
    dst: np.ndarray
    features: np.ndarray

    def __len__(self) -> int:
        return int(self.src.size)


def pixel_matrix(fc: FrameCandidates) -> sparse.csr_matrix:
    """(pixels, candidates of the frame) 0/1: which candidate claims which pixel."""
    n_pix = int(np.prod(fc.levels.shape[1:]))
    rows, cols = [], []
    for level in fc.levels:
        flat = level.ravel()
        hit = np.flatnonzero(flat)
        rows.append(hit)
        cols.append(flat[hit] - 1 - (fc.ids[0] if fc.ids.size else 0))
    r = np.concatenate(rows) if rows else np.zeros(0, int)
    c = np.concatenate(cols) if cols else np.zeros(0, int)
    m = sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n_pix, fc.ids.size))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def build_links(frames: Sequence[FrameCandidates], max_gap: int, max_distance: float
                ) -> Links:
    """Every link of the candidate graph (see the module docstring)."""
    mats = [pixel_matrix(fc) for fc in frames]
    all_areas = np.concatenate([fc.areas for fc in frames]) if frames else np.zeros(0)
    radius = float(np.sqrt(np.median(all_areas) / np.pi)) if all_areas.size else 1.0
    src, dst, feats = [], [], []
    for t, a in enumerate(frames):
        for step in range(1, max_gap + 2):
            if t + step >= len(frames) or not a.ids.size or not frames[t + step].ids.size:
                continue
            b = frames[t + step]
            inter = (mats[t].T @ mats[t + step]).tocoo()
            pairs = {(int(i), int(j)): float(v) for i, j, v in
                     zip(inter.row, inter.col, inter.data, strict=True)}
            # near centroids join overlapping pairs: fast cells, and cells missed in between
            d = np.linalg.norm(a.centroids[:, None, :] - b.centroids[None, :, :], axis=2)
            for i, j in zip(*np.nonzero(d <= max_distance), strict=True):
                pairs.setdefault((int(i), int(j)), 0.0)
            for (i, j), n in pairs.items():
                area_a, area_b = a.areas[i], b.areas[j]
                iou = n / (area_a + area_b - n)
                dist = float(np.linalg.norm(a.centroids[i] - b.centroids[j])) / radius
                src.append(a.ids[i])
                dst.append(b.ids[j])
                feats.append([iou, dist, abs(np.log(area_b / area_a)), float(step - 1)])
    return Links(np.asarray(src, int), np.asarray(dst, int),
                 np.asarray(feats, float).reshape(-1, len(EDGE_FEATURES)))
