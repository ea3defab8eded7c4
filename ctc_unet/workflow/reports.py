"""The figures and tables ``evaluate`` writes beside its measures, per sequence: per-frame
SEG with overlays of the worst frames, the lineage trees of result and reference, a contact
sheet of the result's divisions, and the reference tracks that CT did not count and why.

Each writer gets the scored sequence loaded once (``ScoredSequence``): the track files parsed,
the scored block and SEG frames, and one reader of the result's masks."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ctc_unet.data.ctc import Sequence, TrackRecord, children, parse_man_track
from ctc_unet.data.images import read_tiff
from ctc_unet.evaluation.clip import clip_tracks
from ctc_unet.evaluation.report import format_table
from ctc_unet.evaluation.seg import seg_scores
from ctc_unet.evaluation.tracks import incomplete_tracks
from ctc_unet.files import write_text_atomic
from ctc_unet.plots import contour_overlay, division_sheet, lineage_plot
from ctc_unet.targets.frames import normalize_image

WORST_FRAMES = 4  # overlays per sequence: the annotated frames with the lowest SEG
MAX_DIVISIONS = 8  # rows of the division contact sheet
DIVISION_WINDOW = 160  # px around the mother


@dataclass(frozen=True, eq=False)  # hashed by identity: its masks are cached per object
class ScoredSequence:
    """One sequence as ``evaluate`` scored it: the CTC sequence (frames and reference), its
    result folder ``res`` and track records, the scored block ``first..last`` and the GT
    frames SEG used (None: every one in the block)."""

    seq: Sequence
    res: Path
    dataset: str
    first: int
    last: int
    seg_frames: frozenset[int] | None
    records: tuple[TrackRecord, ...]
    reference: tuple[TrackRecord, ...]

    @classmethod
    def load(cls, seq: Sequence, res: Path, *, block: tuple[int, int] | None,
             seg_frames: set[int] | None, dataset: str) -> ScoredSequence:
        """``seq``'s result in ``res`` over ``block`` (None: the whole sequence)."""
        first, last = block if block is not None else (min(seq.frames), max(seq.frames))
        return cls(seq, Path(res), dataset, first, last,
                   None if seg_frames is None else frozenset(seg_frames),
                   tuple(parse_man_track(Path(res) / "res_track.txt")), tuple(seq.tracks()))

    @functools.lru_cache(maxsize=8)  # noqa: B019 (a few masks, shared by the writers)
    def mask(self, t: int) -> np.ndarray:
        """The result's mask of frame ``t``."""
        return read_tiff(self.res / f"mask{t:0{self.seq.digits}d}.tif")

    def scored(self, t: int) -> bool:
        """Whether SEG counted frame ``t``."""
        return self.first <= t <= self.last and (self.seg_frames is None
                                                 or t in self.seg_frames)

    def in_block(self, records: tuple[TrackRecord, ...]) -> list[TrackRecord]:
        """``records`` clipped to the block, in the sequence's frame numbers."""
        return [replace(r, begin=r.begin + self.first, end=r.end + self.first)
                for r in clip_tracks(list(records), self.first, self.last)]

    @property
    def name(self) -> str:
        return self.seq.name


def write_sequence_reports(scored: ScoredSequence, dest: Path) -> None:
    """Every report of one scored sequence into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    _overlays(scored, dest)
    _lineage(scored, dest)
    _division_sheet(scored, dest)
    _track_losses(scored, dest)


def frame_scores(scored: ScoredSequence) -> list[dict]:
    """SEG of each annotated frame of the scored block, worst first: against the frame's GT
    where it has one, else its silver truth."""
    seq, rows = scored.seq, []
    for t in sorted(set(seq.gt_seg) | set(seq.st_seg)):
        if not scored.scored(t):
            continue
        source = "GT" if t in seq.gt_seg else "ST"
        ref = seq.read_gt_seg(t) if source == "GT" else seq.read_st_seg(t)
        scores = seg_scores(ref, scored.mask(t))
        rows.append({"sequence": seq.name, "frame": t, "reference": source,
                     "SEG": float(np.mean(scores)) if scores.size else None,
                     "objects": int(scores.size)})
    return sorted(rows, key=lambda r: (r["SEG"] is None, r["SEG"] or 0.0, r["frame"]))


def _overlays(scored: ScoredSequence, dest: Path) -> None:
    """Per-frame SEG of the scored block (``frames_<seq>.csv``, worst first) and overlay PNGs
    (reference contours green, prediction magenta) of its ``WORST_FRAMES`` worst frames, so a
    user sees what goes wrong where it goes most wrong."""
    seq = scored.seq
    rows = frame_scores(scored)
    write_text_atomic(dest / f"frames_{seq.name}.csv",
                      format_table(rows, ["sequence", "frame", "reference", "SEG", "objects"]))
    for rank, r in enumerate(rows[:WORST_FRAMES], start=1):
        t, source = r["frame"], r["reference"]
        ref = seq.read_gt_seg(t) if source == "GT" else seq.read_st_seg(t)
        seg = "n/a" if r["SEG"] is None else f"{r['SEG']:.3f}"
        contour_overlay(normalize_image(seq.read_frame(t)), ref, scored.mask(t),
                        dest / "overlays" / f"{seq.name}_t{t:0{seq.digits}d}.png",
                        title=f"{scored.dataset} {seq.name} t={t}: SEG {seg} vs {source}, "
                        f"worst {rank} of {len(rows)}  (green: {source}, magenta: prediction)")


def _lineage(scored: ScoredSequence, dest: Path) -> Path:
    """``lineage_<seq>.png``: the result's lineage trees beside the reference's (TRA), over
    the scored block, so false and missed divisions are seen."""
    panels = [(name, [(r.label, r.begin, r.end, r.parent) for r in scored.in_block(records)])
              for name, records in (("result", scored.records),
                                    ("reference", scored.reference))]
    return lineage_plot(panels, dest / f"lineage_{scored.name}.png",
                        f"{scored.dataset} {scored.name}, frames {scored.first}-{scored.last}")


def _track_losses(scored: ScoredSequence, dest: Path) -> Path:
    """``tracks_<seq>.csv``: every reference track of the scored block that CT does not count
    as complete, and why (missed or merged frames, label changes, a result track of another
    span), so a user sees what the complete-tracks measure lost."""
    frames = range(scored.first, scored.last + 1)
    _, losses = incomplete_tracks(
        (scored.seq.read_gt_tra(t) for t in frames), scored.in_block(scored.reference),
        (scored.mask(t) for t in frames), scored.in_block(scored.records),
        first=scored.first)
    rows = [{"sequence": scored.name, "track": k.label, "begin": k.begin, "end": k.end,
             "cause": k.causes()} for k in losses]
    path = dest / f"tracks_{scored.name}.csv"
    write_text_atomic(path, format_table(rows, ["sequence", "track", "begin", "end", "cause"]))
    return path


def _division_sheet(scored: ScoredSequence, dest: Path) -> Path | None:
    """``divisions_<seq>.png``: each division of the result in the scored block (up to
    MAX_DIVISIONS) as four crops around the mother, from two frames before the split to two
    after, with track ids: a biologist sees at once which divisions are real."""
    seq = scored.seq
    ends = {r.label: r.end for r in scored.records}
    daughters = {m: [k.label for k in kids] for m, kids in children(scored.records).items()
                 if m in ends}
    split = sorted((ends[m], m, d) for m, d in daughters.items() if len(d) >= 2
                   and scored.first <= ends[m] + 1 <= scored.last)[:MAX_DIVISIONS]
    if not split:
        return None
    rows = []
    for end, mother, kids in split:
        ys, xs = np.nonzero(scored.mask(end) == mother)
        cy, cx, half = int(ys.mean()), int(xs.mean()), DIVISION_WINDOW // 2
        window = (slice(max(cy - half, 0), cy + half), slice(max(cx - half, 0), cx + half))
        panels = [(f"t={t}", normalize_image(seq.read_frame(t))[window], scored.mask(t)[window])
                  for t in range(end - 1, end + 3) if t in seq.frames]
        rows.append((f"{mother} -> {', '.join(map(str, sorted(kids)))}", panels))
    return division_sheet(rows, dest / f"divisions_{seq.name}.png",
                          f"{scored.dataset} {seq.name}: divisions of the result, frames "
                          f"{scored.first}-{scored.last} (ids = track labels)")
