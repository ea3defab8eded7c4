"""Cutting a CTC result and its ground truth down to a block of frames, so that the
challenge's own measures (py-ctcmetrics) score exactly those frames.

Frames ``first..last`` are renumbered from 0 (links to the original masks under new names);
each track is clipped to the block; a track that began before the block loses its parent (it
continues there), and a parent whose track is not in the block is dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctc_unet.data.ctc import (
    MASK_RE,
    SEG_RE,
    TRA_RE,
    TrackRecord,
    format_tracks,
    indexed_files,
    parse_man_track,
)

MASK_NAME = "mask{:03d}.tif"


def clip_tracks(records: list[TrackRecord], first: int, last: int) -> list[TrackRecord]:
    """Track records restricted to frames ``first..last`` and renumbered from 0."""
    kept = {r.label: r for r in records if r.begin <= last and r.end >= first}
    out = []
    for r in kept.values():
        parent = r.parent if r.begin >= first and r.parent in kept else 0
        out.append(TrackRecord(r.label, max(r.begin, first) - first,
                               min(r.end, last) - first, parent))
    return out


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(src.resolve(), dst)


def clip_results(res_dir: Path, first: int, last: int, *, digits: int, into: Path) -> Path:
    """``into`` holds masks and res_track.txt of ``res_dir`` for frames first..last."""
    into.mkdir(parents=True)
    masks = indexed_files(res_dir, MASK_RE)
    for t in range(first, last + 1):
        src = masks.get(t, res_dir / f"mask{t:0{digits}d}.tif")
        _link(src, into / MASK_NAME.format(t - first))
    records = clip_tracks(parse_man_track(res_dir / "res_track.txt"), first, last)
    (into / "res_track.txt").write_text(format_tracks(records))
    return into


def clip_ground_truth(gt_dir: Path, first: int, last: int, *, into: Path,
                      seg_dir: Path | None = None, seg_frames: set[int] | None = None) -> Path:
    """``into`` holds TRA (markers, man_track.txt) and SEG of ``gt_dir`` for frames
    first..last; SEG comes from ``seg_dir`` (e.g. the ST's SEG folder) when given, and only
    from ``seg_frames`` when given."""
    (into / "SEG").mkdir(parents=True)
    for t, p in sorted(indexed_files(gt_dir / "TRA", TRA_RE).items()):
        if first <= t <= last:
            _link(p, into / "TRA" / f"man_track{t - first:03d}.tif")
    records = clip_tracks(parse_man_track(gt_dir / "TRA" / "man_track.txt"), first, last)
    (into / "TRA" / "man_track.txt").write_text(format_tracks(records))
    for t, p in sorted(indexed_files(seg_dir or gt_dir / "SEG", SEG_RE).items()):
        if first <= t <= last and (seg_frames is None or t in seg_frames):
            _link(p, into / "SEG" / f"man_seg{t - first:03d}.tif")
    return into
