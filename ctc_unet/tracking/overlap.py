"""Greedy overlap tracking over consecutive frames (the authors' release shipped a greedy
tracker), written as CTC results: masks labelled with track ids and ``res_track.txt``.

Each object continues the track of the previous-frame object it overlaps most. When two
objects continue the same track, that track ends and becomes the parent of two daughter
tracks (the two largest overlaps; further ones start tracks of their own). Objects without a
predecessor start new tracks; tracks without a successor end (a gap ends a track).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ctc_unet.data.ctc import TrackRecord
from ctc_unet.data.labels import overlap_pairs


def overlaps(previous: np.ndarray, current: np.ndarray) -> dict[int, tuple[int, int]]:
    """For each object of ``current``: (previous label it overlaps most, overlap in px).

    previous, current: (H, W) label images. Objects with no overlap are left out.
    """
    best: dict[int, tuple[int, int]] = {}
    for (cur, prev), n in sorted(overlap_pairs(current, previous).items()):
        if cur not in best or n > best[cur][1]:
            best[cur] = (prev, n)
    return best


def track(labels: Sequence[np.ndarray], min_overlap: float = 0.1
          ) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Link per-frame instance labels into tracks.

    labels: T arrays (H, W) of instance labels (any ids, 0 = background). Returns T uint16
    arrays whose labels are track ids, consistent over time, and the track records
    (L, B, E, P with 0-based frames). ``min_overlap``: the share of an object's area that must
    overlap its predecessor for a link.
    """
    out: list[np.ndarray] = []
    records: dict[int, list[int]] = {}  # track id -> [begin, end, parent]
    prev_tracks: np.ndarray | None = None
    next_id = 1

    def start(t: int, parent: int) -> int:
        nonlocal next_id
        if next_id > np.iinfo(np.uint16).max:
            raise ValueError("more than 65535 tracks: CTC masks are 16-bit")
        records[next_id] = [t, t, parent]
        next_id += 1
        return next_id - 1

    for t, lab in enumerate(labels):
        lab = np.asarray(lab)
        ids, areas = np.unique(lab[lab > 0], return_counts=True)
        mapping: dict[int, int] = {}
        if prev_tracks is None:
            for i in ids.tolist():
                mapping[i] = start(t, 0)
        else:
            best = overlaps(prev_tracks, lab)
            area = dict(zip(ids.tolist(), areas.tolist(), strict=True))
            claims: dict[int, list[tuple[int, int]]] = {}
            for cur, (prev, n) in best.items():
                if n >= min_overlap * area[cur]:
                    claims.setdefault(prev, []).append((n, cur))
            for prev, objs in claims.items():
                objs.sort(reverse=True)
                if len(objs) == 1:
                    mapping[objs[0][1]] = prev
                    records[prev][1] = t
                else:  # division: the track ends, its two largest successors are daughters
                    for _, cur in objs[:2]:
                        mapping[cur] = start(t, prev)
                    for _, cur in objs[2:]:
                        mapping[cur] = start(t, 0)
            for i in ids.tolist():
                if i not in mapping:
                    mapping[i] = start(t, 0)
        lut = np.zeros(int(lab.max()) + 1, np.uint16)
        for i, tid in mapping.items():
            lut[i] = tid
        prev_tracks = lut[lab]
        out.append(prev_tracks)
    return out, [TrackRecord(k, b, e, p) for k, (b, e, p) in sorted(records.items())]
