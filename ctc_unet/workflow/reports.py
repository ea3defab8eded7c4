"""The figures and tables ``evaluate`` writes beside its measures, per sequence: per-frame
SEG with overlays of the worst frames, the lineage trees of result and reference, a contact
sheet of the result's divisions, and the reference tracks that CT did not count and why."""

from __future__ import annotations

from pathlib import Path


def write_sequence_reports(seq, res: Path, block: tuple[int, int] | None,
                           seg_frames: set[int] | None, dest: Path, dataset: str) -> None:
    """Every report of one scored sequence (``seq`` a CTC Sequence, ``res`` its XX_RES, the
    scored ``block`` and SEG frames as ``evaluate`` selected them) into ``dest``."""
    _overlays(seq, res, block, seg_frames, dest, dataset)
    _lineage(seq, res, block, dest, dataset)
    _division_sheet(seq, res, block, dest, dataset)
    _track_losses(seq, res, block, dest)


WORST_FRAMES = 4  # overlays per sequence: the annotated frames with the lowest SEG


def frame_scores(seq, res: Path, block, seg_frames) -> list[dict]:
    """SEG of each annotated frame of the scored block, worst first: against the frame's GT
    where it has one, else its silver truth (``seq`` a CTC Sequence, ``res`` its XX_RES)."""
    import numpy as np

    from ctc_unet.data.images import read_tiff
    from ctc_unet.evaluation.seg import seg_scores

    def inside(t: int) -> bool:
        return (block is None or block[0] <= t <= block[1]) and (
            seg_frames is None or t in seg_frames)

    rows = []
    for t in sorted(set(seq.gt_seg) | set(seq.st_seg)):
        if not inside(t):
            continue
        source = "GT" if t in seq.gt_seg else "ST"
        ref = seq.read_gt_seg(t) if source == "GT" else seq.read_st_seg(t)
        scores = seg_scores(ref, read_tiff(res / f"mask{t:0{seq.digits}d}.tif"))
        rows.append({"sequence": seq.name, "frame": t, "reference": source,
                     "SEG": float(np.mean(scores)) if scores.size else None,
                     "objects": int(scores.size)})
    return sorted(rows, key=lambda r: (r["SEG"] is None, r["SEG"] or 0.0, r["frame"]))


def _overlays(seq, res: Path, block, seg_frames, dest: Path, dataset: str) -> None:
    """Per-frame SEG of the scored block (``frames_<seq>.csv``, worst first) and overlay PNGs
    (reference contours green, prediction magenta) of its ``WORST_FRAMES`` worst frames, so a
    user sees what goes wrong where it goes most wrong."""
    from ctc_unet.data.images import read_tiff
    from ctc_unet.evaluation.report import format_table
    from ctc_unet.files import write_text_atomic
    from ctc_unet.plots import contour_overlay
    from ctc_unet.targets.frames import normalize_image

    rows = frame_scores(seq, res, block, seg_frames)
    dest.mkdir(parents=True, exist_ok=True)
    write_text_atomic(dest / f"frames_{seq.name}.csv",
                      format_table(rows, ["sequence", "frame", "reference", "SEG", "objects"]))
    for rank, r in enumerate(rows[:WORST_FRAMES], start=1):
        t, source = r["frame"], r["reference"]
        ref = seq.read_gt_seg(t) if source == "GT" else seq.read_st_seg(t)
        seg = "n/a" if r["SEG"] is None else f"{r['SEG']:.3f}"
        contour_overlay(normalize_image(seq.read_frame(t)), ref,
                        read_tiff(res / f"mask{t:0{seq.digits}d}.tif"),
                        dest / "overlays" / f"{seq.name}_t{t:0{seq.digits}d}.png",
                        f"{dataset} {seq.name} t={t}: SEG {seg} vs {source}, worst {rank} of "
                        f"{len(rows)}  (green: {source}, magenta: prediction)")


def _lineage(seq, res: Path, block, dest: Path, dataset: str) -> Path:
    """``lineage_<seq>.png``: the result's lineage trees beside the reference's (TRA), over
    the scored block, so false and missed divisions are seen."""
    from ctc_unet.data.ctc import parse_man_track
    from ctc_unet.evaluation.clip import clip_tracks
    from ctc_unet.plots import lineage_plot

    first, last = block if block is not None else (min(seq.frames), max(seq.frames))
    panels = []
    for name, path in (("result", res / "res_track.txt"), ("reference", seq.tracks_file)):
        records = clip_tracks(parse_man_track(path), first, last)
        panels.append((name, [(r.label, r.begin + first, r.end + first, r.parent)
                              for r in records]))
    return lineage_plot(panels, dest / f"lineage_{seq.name}.png",
                        f"{dataset} {seq.name}, frames {first}-{last}")


def _track_losses(seq, res: Path, block, dest: Path) -> Path:
    """``tracks_<seq>.csv``: every reference track of the scored block that CT does not count
    as complete, and why (missed or merged frames, label changes, a result track of another
    span), so a user sees what the complete-tracks measure lost."""
    from dataclasses import replace

    from ctc_unet.data.ctc import parse_man_track
    from ctc_unet.data.images import read_tiff
    from ctc_unet.evaluation.clip import clip_tracks
    from ctc_unet.evaluation.report import format_table
    from ctc_unet.evaluation.tracks import incomplete_tracks
    from ctc_unet.files import write_text_atomic

    first, last = block if block is not None else (min(seq.frames), max(seq.frames))

    def span(records: list) -> list:
        return [replace(r, begin=r.begin + first, end=r.end + first)
                for r in clip_tracks(records, first, last)]

    frames = range(first, last + 1)
    _, losses = incomplete_tracks(
        (seq.read_gt_tra(t) for t in frames), span(seq.tracks()),
        (read_tiff(res / f"mask{t:0{seq.digits}d}.tif") for t in frames),
        span(parse_man_track(res / "res_track.txt")), first)
    rows = [{"sequence": seq.name, "track": k.label, "begin": k.begin, "end": k.end,
             "cause": k.causes()} for k in losses]
    path = dest / f"tracks_{seq.name}.csv"
    write_text_atomic(path, format_table(rows, ["sequence", "track", "begin", "end", "cause"]))
    return path


MAX_DIVISIONS = 8  # rows of the division contact sheet
DIVISION_WINDOW = 160  # px around the mother


def _division_sheet(seq, res: Path, block, dest: Path, dataset: str) -> Path | None:
    """``divisions_<seq>.png``: each division of the result in the scored block (up to
    MAX_DIVISIONS) as four crops around the mother, from two frames before the split to two
    after, with track ids: a biologist sees at once which divisions are real."""
    import numpy as np

    from ctc_unet.data.ctc import children, parse_man_track
    from ctc_unet.data.images import read_tiff
    from ctc_unet.plots import division_sheet
    from ctc_unet.targets.frames import normalize_image

    first, last = block if block is not None else (min(seq.frames), max(seq.frames))
    records = parse_man_track(res / "res_track.txt")
    ends = {r.label: r.end for r in records}
    daughters = {m: [k.label for k in kids] for m, kids in children(records).items()
                 if m in ends}
    split = sorted((ends[m], m, d) for m, d in daughters.items()
                   if len(d) >= 2 and first <= ends[m] + 1 <= last)[:MAX_DIVISIONS]
    if not split:
        return None

    def mask(t: int) -> np.ndarray:
        return read_tiff(res / f"mask{t:0{seq.digits}d}.tif")

    rows = []
    for end, mother, kids in split:
        ys, xs = np.nonzero(mask(end) == mother)
        cy, cx, half = int(ys.mean()), int(xs.mean()), DIVISION_WINDOW // 2
        panels = []
        for t in range(end - 1, end + 3):
            if t not in seq.frames:
                continue
            image, labels = normalize_image(seq.read_frame(t)), mask(t)
            window = (slice(max(cy - half, 0), cy + half), slice(max(cx - half, 0), cx + half))
            panels.append((f"t={t}", image[window], labels[window]))
        rows.append((f"{mother} -> {', '.join(map(str, sorted(kids)))}", panels))
    return division_sheet(rows, dest / f"divisions_{seq.name}.png",
                          f"{dataset} {seq.name}: divisions of the result, frames "
                          f"{first}-{last} (ids = track labels)")
