"""Tracklets (pure numpy / scipy): objects of consecutive frames linked one to one by a
global assignment, chains of links as tracklets, gaps closed, short flicker dropped, and the
tracklets written as CTC masks and track records; steps 1, 2 and the output of
``ctc_unet.tracking.linking``, whose module docstring describes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment

from ctc_unet.config import TrackingConfig
from ctc_unet.data.ctc import TrackRecord
from ctc_unet.data.labels import overlap_pairs


@dataclass
class Tracklet:
    """A chain of objects, one per frame from ``start`` on; ``ids`` are the per-frame labels."""

    start: int
    ids: list[int]
    parent: int = -1  # index of the parent tracklet, -1 = none
    gap_parent: bool = False  # the parent link closes a gap (not a division)
    merged: dict[int, list[int]] = field(default_factory=dict)  # frame -> fragment ids

    @property
    def end(self) -> int:
        return self.start + len(self.ids) - 1


def object_table(labels: np.ndarray) -> dict[int, tuple[int, float, float]]:
    """label -> (area, centroid y, centroid x) of a (H, W) label image."""
    lab = np.asarray(labels).astype(np.int64)
    ids = np.unique(lab[lab > 0])
    if ids.size == 0:
        return {}
    areas = ndi.sum_labels(np.ones_like(lab), lab, ids)
    cents = ndi.center_of_mass(np.ones_like(lab), lab, ids)
    return {int(i): (int(a), float(c[0]), float(c[1]))
            for i, a, c in zip(ids, areas, cents, strict=True)}


def link_frames(prev: dict, cur: dict, inter: dict[tuple[int, int], int], min_iou: float,
                *, lookback: dict[tuple[int, int], float] | None = None,
                cover: float = 0.0) -> dict[int, int]:
    """One-to-one links prev label -> cur label maximising the total IoU over eligible pairs:
    IoU >= min_iou, or (``cover`` > 0) the smaller object at least ``cover`` inside the
    larger. ``lookback`` maps (prev label, cur label) to the IoU of the cur object with the
    prev object's predecessor; an eligible pair scores the larger of its two IoUs."""
    pairs = [(p, c, n / (prev[p][0] + cur[c][0] - n), n / min(prev[p][0], cur[c][0]))
             for (p, c), n in inter.items()]
    pairs = [(p, c, max(iou, (lookback or {}).get((p, c), 0.0)))
             for p, c, iou, inside in pairs
             if iou >= min_iou or (cover > 0 and inside >= cover)]
    if not pairs:
        return {}
    ps = sorted({p for p, _, _ in pairs})
    cs = sorted({c for _, c, _ in pairs})
    cost = np.full((len(ps), len(cs)), 2.0)
    for p, c, iou in pairs:
        cost[ps.index(p), cs.index(c)] = 1.0 - iou
    rows, cols = linear_sum_assignment(cost)
    return {ps[r]: cs[c] for r, c in zip(rows, cols, strict=True) if cost[r, c] < 2.0}


def link_sequence(labels: Sequence[np.ndarray], tables: list[dict], inters: list[dict],
                  cfg: TrackingConfig) -> list[dict[int, int]]:
    """Frame-to-frame links of a whole sequence (``links[t]``: labels of t -> labels of
    t + 1). With ``cfg.link_lookback`` a link also weighs the IoU of the new object with the
    object the track had one frame earlier, so that a track keeps its identity when its
    object splits into halves for a frame and is whole again (either half alone overlaps the
    whole about as much as the other)."""
    links: list[dict[int, int]] = []
    for t in range(len(labels) - 1):
        look = None
        if cfg.link_lookback and t > 0 and links[t - 1]:
            fwd = links[t - 1]
            look = {}
            for (q, c), n in overlap_pairs(labels[t - 1], labels[t + 1]).items():
                if q in fwd:
                    look[(fwd[q], c)] = n / (tables[t - 1][q][0] + tables[t + 1][c][0] - n)
        links.append(link_frames(tables[t], tables[t + 1], inters[t + 1], cfg.min_iou,
                                 lookback=look, cover=cfg.link_cover))
    return links


def build_tracklets(tables: list[dict], links: list[dict[int, int]]) -> list[Tracklet]:
    """Chains of frame-to-frame links; ``links[t]`` maps labels of t to labels of t + 1."""
    tracklets: list[Tracklet] = []
    open_: dict[int, int] = {}  # label in the current frame -> tracklet index
    for t, table in enumerate(tables):
        nxt: dict[int, int] = {}
        back = {c: p for p, c in links[t - 1].items()} if t else {}  # cur label -> prev label
        for lab in table:
            prev = back.get(lab)
            if prev is not None and prev in open_:
                k = open_[prev]
                tracklets[k].ids.append(lab)
            else:
                tracklets.append(Tracklet(t, [lab]))
                k = len(tracklets) - 1
            nxt[lab] = k
        open_ = nxt
    return tracklets


def close_gaps(tracklets: list[Tracklet], tables: list[dict], cfg: TrackingConfig,
               removed: set[int]) -> None:
    """Continue ended tracklets (without daughters) with ones starting 2..max_gap+1 frames
    later within max_gap_distance px, by a global assignment on centroid distance."""
    if cfg.max_gap < 1:
        return
    parents = {tr.parent for tr in tracklets}
    live = [k for k in range(len(tracklets)) if k not in removed]
    ends = [k for k in live if tracklets[k].end < len(tables) - 1 and k not in parents]
    starts = [k for k in live if tracklets[k].start > 0 and tracklets[k].parent < 0]
    cand = []
    for a in ends:
        ta = tracklets[a]
        _, ya, xa = tables[ta.end][ta.ids[-1]]
        for b in starts:
            tb = tracklets[b]
            if 2 <= tb.start - ta.end <= cfg.max_gap + 1:
                _, yb, xb = tables[tb.start][tb.ids[0]]
                d = float(np.hypot(ya - yb, xa - xb))
                if d <= cfg.max_gap_distance:
                    cand.append((a, b, d))
    if not cand:
        return
    ra, rb = sorted({a for a, _, _ in cand}), sorted({b for _, b, _ in cand})
    cost = np.full((len(ra), len(rb)), np.inf)
    for a, b, d in cand:
        cost[ra.index(a), rb.index(b)] = d
    big = 10.0 * (cfg.max_gap_distance + 1)
    rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, big))
    for r, c in zip(rows, cols, strict=True):
        if np.isfinite(cost[r, c]):
            tracklets[rb[c]].parent, tracklets[rb[c]].gap_parent = ra[r], True


def remove_flicker(tracklets: list[Tracklet], removed: set[int], n_frames: int,
                   min_frames: int) -> None:
    """Drop tracklets shorter than ``min_frames`` that have no parent and no children and lie
    strictly inside the sequence."""
    parents = {tr.parent for k, tr in enumerate(tracklets) if k not in removed}
    for k, tr in enumerate(tracklets):
        if (k not in removed and len(tr.ids) < min_frames and tr.parent < 0
                and k not in parents and tr.start > 0 and tr.end < n_frames - 1):
            removed.add(k)


def to_ctc(tracklets: list[Tracklet], removed: set[int], labels: Sequence
           ) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Masks labelled with track ids (uint16) and the track records, tracks numbered 1..N in
    order of their first frame."""
    keep = sorted((k for k in range(len(tracklets)) if k not in removed),
                  key=lambda k: (tracklets[k].start, k))
    if len(keep) > np.iinfo(np.uint16).max:
        raise ValueError("more than 65535 tracks: CTC masks are 16-bit")
    ids = {k: i + 1 for i, k in enumerate(keep)}
    luts = [np.zeros(int(np.asarray(lab).max()) + 1, np.uint16) for lab in labels]
    records = []
    for k in keep:
        tr = tracklets[k]
        for t, lab in zip(range(tr.start, tr.end + 1), tr.ids, strict=True):
            luts[t][lab] = ids[k]
            for frag in tr.merged.get(t, []):
                luts[t][frag] = ids[k]
        records.append(TrackRecord(ids[k], tr.start, tr.end, ids.get(tr.parent, 0)))
    masks = [lut[np.asarray(lab).astype(np.int64)] for lut, lab in zip(luts, labels,
                                                                        strict=True)]
    return masks, records
