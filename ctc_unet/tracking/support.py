"""Whether a track is a cell, by what its frames support (pure numpy / scipy): a logistic
model of a lineage's features, learned from a sequence's TRA markers, that drops the tracks
it finds unlikely to be cells.

A *lineage* is a set of tracklets joined by parent links (divisions and bridged gaps). Its
features (``FEATURES``): how many frames it spans (log), whether it is there in the first and
in the last frame, its objects' mean area (log) and area variation, and the mean cell
probability inside its objects. Labels: a lineage is a cell when at least half of its objects
match a TRA marker (the CTC's DET match: the object covers more than half of the marker).

A lineage is dropped when its probability of being a cell is below ``DROP_BELOW`` = 1/11: the
CTC's DET and TRA charge a missed object 10 and a false one 1, so below 1/11 keeping it costs
more than dropping it, in expectation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import minimize

from ctc_unet.data.labels import covering_objects
from ctc_unet.errors import CtcUnetError
from ctc_unet.rundir import read_json

FEATURES = ("log_frames", "first_frame", "last_frame", "log_area", "area_variation",
            "probability")
DROP_BELOW = 1.0 / 11.0
MIN_EXAMPLES = 5  # each class needs this many lineages for a fit


class Tracklet(Protocol):
    """What this module reads of ``tracklets.Tracklet``: a chain of per-frame labels from
    ``start`` to ``end`` and the index of its parent (-1: none)."""

    start: int
    ids: list[int]
    parent: int

    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class TrackSupport:
    """A fitted logistic model: ``weights`` (bias first) on standardized features
    (``mean``, ``scale``), names in ``features``."""

    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    features: tuple[str, ...] = FEATURES
    drop_below: float = DROP_BELOW

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(cell) of (N, F) feature rows."""
        z = (np.asarray(x, float) - np.asarray(self.mean)) / np.asarray(self.scale)
        s = self.weights[0] + z @ np.asarray(self.weights[1:])
        return 1.0 / (1.0 + np.exp(-s))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "weights": list(self.weights),
                "mean": list(self.mean), "scale": list(self.scale),
                "drop_below": self.drop_below}

    @classmethod
    def from_dict(cls, data: dict) -> TrackSupport:
        feats = tuple(data["features"])
        if feats != FEATURES:
            raise ValueError(f"features {list(feats)}, expected {list(FEATURES)}")
        n = len(FEATURES)
        w, m, s = (tuple(float(v) for v in data[k]) for k in ("weights", "mean", "scale"))
        if len(w) != n + 1 or len(m) != n or len(s) != n or not all(
                math.isfinite(v) for v in w + m + s) or min(s) <= 0:
            raise ValueError("weights, mean or scale of the wrong length or not finite")
        return cls(w, m, s, feats, float(data.get("drop_below", DROP_BELOW)))


def object_probability(labels: np.ndarray, prob: np.ndarray) -> dict[int, float]:
    """label -> mean of the (H, W) cell probability over the object of the (H, W) labels."""
    lab = np.asarray(labels).astype(np.int64)
    ids = np.unique(lab[lab > 0])
    if ids.size == 0:
        return {}
    means = ndi.mean(np.asarray(prob, np.float64), lab, ids)
    return {int(i): float(v) for i, v in zip(ids, np.atleast_1d(means), strict=True)}


def lineage_features(objects: Sequence[tuple[int, int]], areas: Sequence[float],
                     probs: Sequence[float], n_frames: int) -> list[float]:
    """The ``FEATURES`` row of a lineage: its objects as (frame, label), their areas and
    mean probabilities, in a sequence of ``n_frames`` frames."""
    frames = [t for t, _ in objects]
    a = np.asarray(areas, float)
    span = max(frames) - min(frames) + 1
    return [math.log(span), float(min(frames) == 0), float(max(frames) == n_frames - 1),
            math.log(max(a.mean(), 1.0)), float(a.std() / max(a.mean(), 1.0)),
            float(np.mean(probs))]


def matched_objects(labels: np.ndarray, markers: np.ndarray) -> set[int]:
    """Labels of the (H, W) ``labels`` that match a marker of the (H, W) ``markers``: the
    object covers more than half of the marker (the CTC's DET match; an object over two
    markers, a merge, counts as cell material too)."""
    return {obj for obj in covering_objects(markers, labels).values() if obj > 0}


def fit_support(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> TrackSupport:
    """Logistic regression of the (N,) 0/1 labels ``y`` on the (N, F) features ``x``
    (standardized, L2 penalty ``l2`` on the weights but not the bias). ValueError when a
    class has fewer than ``MIN_EXAMPLES`` lineages."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if min(n_pos, n_neg) < MIN_EXAMPLES:
        raise ValueError(f"{n_pos} lineages that are cells and {n_neg} that are not: "
                         f"at least {MIN_EXAMPLES} of each are needed")
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ w
        # log(1 + e^s) - y s, written to stay finite for large |s|
        value = np.sum(np.logaddexp(0.0, s) - y * s) + l2 * w[1:] @ w[1:]
        grad = z.T @ (1.0 / (1.0 + np.exp(-s)) - y) + 2.0 * l2 * np.r_[0.0, w[1:]]
        return float(value), grad

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return TrackSupport(tuple(map(float, w)), tuple(map(float, mean)), tuple(map(float, scale)))


def lineages(tracklets: Sequence[Tracklet], removed: set[int]) -> list[list[int]]:
    """The kept tracklets grouped by parent links (a division's family, a gap's two sides),
    each group in tracklet order."""
    def root(k: int) -> int:
        while tracklets[k].parent >= 0 and tracklets[k].parent not in removed:
            k = tracklets[k].parent
        return k
    groups: dict[int, list[int]] = {}
    for k in range(len(tracklets)):
        if k not in removed:
            groups.setdefault(root(k), []).append(k)
    return list(groups.values())


def lineage_rows(tracklets: Sequence[Tracklet], removed: set[int], tables: list[dict],
                 probabilities: Sequence[dict[int, float]]
                 ) -> tuple[list[list[int]], np.ndarray, list[list[tuple[int, int]]]]:
    """Each lineage's tracklets, its (F,) ``support.FEATURES`` row (stacked (N, F)) and its
    objects as (frame, label); ``probabilities``: per frame, label -> mean probability."""
    groups, rows, objects = lineages(tracklets, removed), [], []
    for ks in groups:
        objs = [(t, i) for k in ks for t, i in zip(
            range(tracklets[k].start, tracklets[k].end + 1), tracklets[k].ids, strict=True)]
        rows.append(lineage_features(objs, [tables[t][i][0] for t, i in objs],
                                     [probabilities[t][i] for t, i in objs], len(tables)))
        objects.append(objs)
    return groups, np.asarray(rows, float).reshape(len(rows), len(FEATURES)), objects


def drop_unsupported(tracklets: Sequence[Tracklet], removed: set[int],
                     tables: list[dict], *, probabilities: Sequence[dict[int, float]],
                     support: TrackSupport) -> int:
    """Remove the lineages whose probability of being cells is below ``support.drop_below``;
    returns how many went."""
    groups, rows, _ = lineage_rows(tracklets, removed, tables, probabilities)
    if not groups:
        return 0
    low = support.probability(rows) < support.drop_below
    for ks, drop in zip(groups, low, strict=True):
        if drop:
            removed.update(ks)
    return int(low.sum())


def read_support(path: Path) -> TrackSupport | None:
    """The track support saved at ``path`` (a run's track_support.json), None where there is
    none; CtcUnetError naming the file when it is not one."""
    if not path.is_file():
        return None
    try:
        return TrackSupport.from_dict(read_json(path))
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise CtcUnetError(f"{path}: not a track support written by ctc-unet ({exc})") from None
