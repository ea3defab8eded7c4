"""Evaluating a trained run: predict the frames that have ground truth, then score them (CTC
measures through py-ctcmetrics, or ISBI 2012 measures), with overlay pictures."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ctc_unet.rundir import RunDir

logger = logging.getLogger(__name__)


FRAME_CHOICES = "all, choose (alias val), report, or FIRST-LAST"


def frame_selection(run: RunDir | None, frames: str, sequences: list[str]
                    ) -> dict[str, tuple[tuple[int, int] | None, set[int] | None]]:
    """Per sequence: the block of frames to score (None = all) and the GT frames SEG may use
    (None = every one in the block).

    ``choose``/``val`` and ``report`` come from the run's split.json: with a held-out block,
    the block of its choosing or reporting frames; without one (older runs), ``choose`` scores
    SEG on the validation GT frames of the whole sequence.
    """
    from ctc_unet.errors import CtcUnetError

    if frames == "all":
        return {s: (None, None) for s in sequences}
    if "-" in frames and frames.replace("-", "").isdigit() and frames.count("-") == 1:
        first, last = (int(x) for x in frames.split("-"))
        if first > last:
            raise CtcUnetError(f"--frames {frames}: the first frame comes after the last")
        return {s: ((first, last), None) for s in sequences}
    if frames not in ("choose", "val", "report"):
        raise CtcUnetError(f"--frames must be {FRAME_CHOICES}; got {frames!r}")
    if run is None:
        raise CtcUnetError(f"--frames {frames} needs a run directory (its split.json)")

    split = run.load_split()
    refs = split.report if frames == "report" else split.val
    out: dict[str, tuple[tuple[int, int] | None, set[int] | None]] = {}
    for name in sequences:
        if frames == "report" and name in split.report_sequences:
            out[name] = (None, None)  # reported on whole: every frame, every TRA marker
            continue
        ts = sorted(r.t for r in refs if r.sequence == name)
        if not ts:
            continue
        if split.report:  # a held-out block: score its choosing or reporting part
            out[name] = ((ts[0], ts[-1]), None)
        else:
            out[name] = (None, set(ts))
    if not out:
        what = ("sets no frames apart for reporting (a refit on every annotated frame, "
                "whose parent's scores stand for it, or a run from before the validation "
                "protocol); give --frames FIRST-LAST" if frames == "report"
                else "holds out no frame")
        raise CtcUnetError(f"{run.root}: the run {what} of {', '.join(sequences)}")
    return out


def evaluate_ctc_run(run: RunDir | None, path: Path, root: Path, sequence: list[str] | None,
                     frames: str, out: Path | None, device: torch.device,
                     interactive: bool = False) -> tuple[list[dict], Path]:
    """Score CTC results against the GT of ``root`` (predicting them first when ``run`` is a
    RunDir) on the frames ``frames`` selects; returns the rows and the folder for
    evaluation.json/.csv and overlays."""
    from ctc_unet.data.ctc import open_ctc_dataset, res_folder
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.evaluation.ctc import evaluate_ctc_sequence

    dataset = open_ctc_dataset(root)
    seqs = [dataset.sequence(s) for s in sequence] if sequence else [
        s for s in dataset.sequences.values() if s.gt_tra and s.tracks_file]
    for s in seqs:
        if not (s.gt_tra and s.tracks_file):
            raise CtcUnetError(f"{root}: sequence {s.name} has no ground truth (TRA) "
                               "to evaluate against")
    if not seqs:
        raise CtcUnetError(f"{root}: no sequence with ground truth (XX_GT/TRA)")
    selection = frame_selection(run, frames, [s.name for s in seqs])
    seqs = [s for s in seqs if s.name in selection]
    if run is not None:
        from ctc_unet.workflow.predict import load_predictor, predict_sequence

        res_root = run.root / "results" / root.name
        pred = load_predictor(run, device, seqs[0].first_shape)
        for s in seqs:
            predict_sequence(pred, s, res_root, interactive=interactive)
        suffix = "" if frames == "all" else f"-{frames}"
        dest = out or run.root / "evaluation" / f"{root.name}{suffix}"
    else:
        res_root, dest = path, out or path / "evaluation"
    rows = []
    for s in seqs:
        res = res_folder(res_root, s.name)
        if not res.is_dir():
            raise CtcUnetError(f"{res}: results folder not found")
        block, seg_frames = selection[s.name]
        if block is not None and not (min(s.frames) <= block[0] and block[1] <= max(s.frames)):
            raise CtcUnetError(f"--frames {frames}: sequence {s.name} has frames "
                               f"{min(s.frames)}-{max(s.frames)}")
        st = root / f"{s.name}_ST"
        scores = evaluate_ctc_sequence(res, root / f"{s.name}_GT", block, s.digits,
                                       st if st.is_dir() else None, seg_frames)
        shown = "all" if block is None else f"{block[0]}-{block[1]}"
        rows.append({"dataset": root.name, "sequence": s.name, "seg_frames": frames,
                     "block": shown, **scores})
        _overlays(s, res, block, seg_frames, dest, root.name)
        _lineage(s, res, block, dest, root.name)
        _division_sheet(s, res, block, dest, root.name)
        _track_losses(s, res, block, dest)
    return rows, dest


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


def evaluate_isbi_run(run: RunDir, root: Path, device: torch.device) -> list[dict]:
    """Predict the run's held-out ISBI 2012 slices with and without TTA and score them."""
    from dataclasses import replace

    from ctc_unet.data.isbi import read_isbi2012
    from ctc_unet.evaluation.isbi import ISBI_COLUMNS, isbi_measures
    from ctc_unet.workflow.predict import load_predictor, volume_probabilities

    data = read_isbi2012(root)
    split = run.load_split()
    # the reporting slices; runs from before the held-out protocol only have validation ones
    slices = ([r.t for r in split.report] or [r.t for r in split.val]
              or list(range(data.train_volume.shape[0])))
    chose = ",".join(str(r.t) for r in split.val) if split.report else "same slices"
    pred = load_predictor(run, device, data.train_volume.shape[1:])
    rows = []
    for tta in (False, True):
        p = replace(pred, cfg=replace(pred.cfg, inference=replace(pred.cfg.inference, tta=tta)))
        prob = volume_probabilities(p, data.train_volume, slices)
        m = isbi_measures(prob, data.train_labels[slices])
        rows.append({"dataset": "ISBI2012", "slices": f"{slices[0]}-{slices[-1]}",
                     "chosen_on": chose, "tta": pred.cfg.inference.tta_count if tta else 1,
                     **{k: m[k] for k in ISBI_COLUMNS}})
    return rows


def evaluate_isbi_files(prob_path: Path, labels_path: Path,
                        slices: tuple[int, int] | None = None) -> list[dict]:
    """Score an ISBI 2012-style probability stack (1 = cell; integer stacks are scaled by
    their type's maximum) against a label stack (> 0 = cell), optionally on slices
    FIRST..LAST of both."""
    import numpy as np

    from ctc_unet.data.isbi import read_stack
    from ctc_unet.errors import DataError
    from ctc_unet.evaluation.isbi import ISBI_COLUMNS, isbi_measures

    prob, labels = read_stack(Path(prob_path)), read_stack(Path(labels_path))
    if prob.shape != labels.shape:
        raise DataError(f"{prob_path}: shape {prob.shape} differs from the labels' "
                        f"{labels.shape} ({labels_path})")
    if np.issubdtype(prob.dtype, np.integer):
        prob = prob.astype(np.float32) / float(np.iinfo(prob.dtype).max)
    elif not np.isfinite(prob).all() or prob.min() < 0 or prob.max() > 1:
        raise DataError(f"{prob_path}: probabilities must be finite and lie in [0, 1]")
    first, last = slices if slices is not None else (0, prob.shape[0] - 1)
    if not 0 <= first <= last < prob.shape[0]:
        raise DataError(f"{prob_path}: slices {first}-{last} outside 0-{prob.shape[0] - 1}")
    m = isbi_measures(prob[first:last + 1], labels[first:last + 1])
    return [{"dataset": "ISBI2012", "prediction": Path(prob_path).name,
             "slices": f"{first}-{last}", **{k: m[k] for k in ISBI_COLUMNS}}]


def evaluate_path(path: Path, gt: Path | None, data: str | None, sequences: list[str],
                  frames: str, out: Path | None, device: torch.device,
                  data_dir: Path | None = None, interactive: bool = False
                  ) -> tuple[list[dict], tuple[Path, Path]]:
    """Evaluate what ``path`` is: an ISBI 2012-style probability stack (against the label
    stack ``gt``), a run directory (predicting ``data`` first), or a results folder holding
    XX_RES (against the dataset folder ``gt``). Writes evaluation.json/.csv (and overlays);
    returns the rows and the files written."""
    from ctc_unet.data.isbi import is_isbi_folder
    from ctc_unet.data.locate import resolve_dataset
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.evaluation.report import write_report

    path = Path(path)
    if path.is_file():
        if gt is None or not Path(gt).is_file():
            raise CtcUnetError(f"{path}: give --gt LABELS.tif, the label stack to score "
                               "this probability stack against")
        block = None if frames == "all" else frame_selection(None, frames, ["-"])["-"][0]
        rows = evaluate_isbi_files(path, Path(gt), block)
        return rows, write_report(rows, out or path.parent / "evaluation")
    run = RunDir(path)
    is_run = run.config.is_file()
    if is_run and data is None:
        raise CtcUnetError(f"{path} is a run directory: give --data DATASET to predict and "
                           "evaluate")
    if not is_run and gt is None:
        raise CtcUnetError(f"{path}: give --gt DATASET_DIR with the XX_GT folders (or pass a "
                           "run directory with --data)")
    root = resolve_dataset(data, data_dir)[0] if is_run else Path(gt)
    if is_run and is_isbi_folder(root):
        rows = evaluate_isbi_run(run, root, device)
        dest = out or run.root / "evaluation" / root.name
    else:
        rows, dest = evaluate_ctc_run(run if is_run else None, path, root, sequences or None,
                                      frames, out, device, interactive)
    return rows, write_report(rows, dest)
