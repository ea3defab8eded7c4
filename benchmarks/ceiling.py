"""The best tracking a set of masks allows: the reference's own links laid on the masks.

A tracker only labels and links the objects it is given, so the objects that miss, merge or
invent markers cost TRA whatever it does. This module builds the labelling that costs nothing
else, the ceiling against which a tracker's TRA (and CT, BC) is read (benchmarks/bench_tracking.py
adds it to every scored block).

It follows py-ctcmetrics' AOGM (``ctc_metrics.utils.representations``:
``count_acyclic_graph_correction_operations`` and ``create_edge_mapping``): a marker R is
matched by the object S with |R & S| > 0.5 |R|; an object matching exactly one marker is a
true positive; only edges between true positives are compared, a track link joins one label in
consecutive frames, a parent link joins a parent's last node to its child's first. So the
ceiling gives every true-positive object its marker's track, cut where the reference track's
node is not a true positive (no link can be right across it, and a link across it would be an
extra edge), restores a parent link only where both of its reference ends are true positives,
and gives every other object a one-frame track of its own (edges to it are never compared).
No labelling of the same masks has fewer edge errors: it has none to delete or relabel, and
adds every reference edge whose ends the masks detect.
"""

from __future__ import annotations

import numpy as np

from ctc_unet.data.ctc import TrackRecord
from ctc_unet.data.labels import marker_matches


def true_positives(markers: np.ndarray, mask: np.ndarray) -> dict[int, int]:
    """Marker label -> object label for the objects of ``mask`` that match exactly one marker.

    markers, mask: (H, W) label images of one frame (0 = background).
    """
    return _matches(markers, mask)[0]


def _matches(markers: np.ndarray, mask: np.ndarray) -> tuple[dict[int, int], list[int]]:
    """``true_positives`` and the object labels of ``mask``."""
    tp = {m: obj for m, obj in marker_matches(markers, mask).items() if obj > 0}
    return tp, [int(i) for i in np.unique(mask) if i > 0]


def ceiling_tracks(masks: list[np.ndarray], markers: list[np.ndarray],
                   reference: list[TrackRecord]) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Relabel ``masks`` with the reference's links wherever the masks allow them.

    masks, markers: per frame (index = frame number) (H, W) label images of the result and
    of the reference markers; reference: the markers' track records (frames 0-based, as the
    lists). Returns the relabelled masks (same objects, new labels) and their track records.
    """
    ref = {r.label: r for r in reference}
    out, records = [], {}  # records: label -> [begin, end, parent]
    node: dict[tuple[int, int], int] = {}  # (marker label, frame) -> output label
    for t, (mask, mark) in enumerate(zip(masks, markers, strict=True)):
        matched, objects = _matches(mark, mask)
        tp = {obj: m for m, obj in matched.items()}
        lut = np.zeros(int(mask.max()) + 1, np.int32)
        for obj in objects:
            m = tp.get(obj)
            label = node.get((m, t - 1)) if m is not None else None
            if label is None:
                label = len(records) + 1
                records[label] = [t, t, _parent(ref.get(m), t, ref, node)]
            records[label][1] = t
            if m is not None:
                node[(m, t)] = label
            lut[obj] = label
        out.append(lut[mask])
    tracks = [TrackRecord(k, b, e, p) for k, (b, e, p) in records.items()]
    return out, tracks


def _parent(record: TrackRecord | None, t: int, ref: dict[int, TrackRecord],
            node: dict[tuple[int, int], int]) -> int:
    """The output label of the reference parent's last node when ``record`` (the reference
    track of a true-positive object) begins at ``t`` and that node is a true positive; else 0."""
    if record is None or record.begin != t or record.parent not in ref:
        return 0
    return node.get((record.parent, ref[record.parent].end), 0)
