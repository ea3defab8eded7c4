"""Choose the tracker's settings by the project's rule: the choosing frames choose, the
reporting frames report (issue 23; the defaults of ``configs/defaults.yaml`` were set partly on
DIC-HeLa's reporting block 50-71).

    python benchmarks/choose_tracker.py --data ../shared/data/DIC-C2DH-HeLa \
        [--sequence 01] [--choose 72-83] [--report 50-71] [--masks DIR]
        [--also DATASET_DIR SEQUENCE MASKS_DIR] [--laptrack]

The masks (default: the sequence's silver truth, ``01_ST/SEG``, every frame segmented) are
tracked block by block with every setting of a small grid of the division and gap rules; each
block is scored against the gold TRA markers with py-ctcmetrics (TRA, CT, BC(0), divisions).
The setting with the best mean of TRA, CT and BC(0) on the choosing block replaces the defaults
when it beats them by more than ``TIE`` (else the defaults stay); the defaults and the best
setting are then scored on the reporting block, which chose nothing, and
(``--also``) on a whole sequence of another dataset that nothing chose on, e.g. a model's
masks of Fluo-N2DH-GOWT1 02. With ``--laptrack`` the grid is laptrack's overlap tracker's
(``laptrack_grid``: link and division costs, division cut-off, gap length), chosen by the same
rule against this package's defaults.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ctc_unet.config import TrackingConfig, load_config
from ctc_unet.data.ctc import TrackRecord, open_ctc_dataset, write_results
from ctc_unet.evaluation.ctc import evaluate_ctc_sequence
from ctc_unet.tracking.linking import track_instances
from ctc_unet.workflow.track import read_mask_folder

CUTOFFS = {
    "division_size_ratio": (0.3, 0.5, 0.7),
    "division_min_mother": (1, 3),
    "division_min_daughter": (1, 2, 3),
    "max_gap": (0, 1),
}
EVIDENCE = {"division_evidence": (0.2, 0.35, 0.5, 0.65, 0.8), "max_gap": (0, 1)}


def grid() -> list[dict]:
    """Every setting tried: the cut-off rule's grid and the evidence rule's thresholds."""
    out = []
    for rule, axes in (("cutoffs", CUTOFFS), ("evidence", EVIDENCE)):
        for values in itertools.product(*axes.values()):
            out.append({"division_rule": rule, **dict(zip(axes, values, strict=True))})
    return out


def _name(setting: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in setting.items())


# a tracker other than this package's: a function of the masks returning labels and records
Tracker = Callable[[list[np.ndarray]], tuple[list[np.ndarray], list[TrackRecord]]]
KEYS = ("TRA", "CT", "BC(0)")
# a setting replaces the defaults only when its mean beats theirs by more than this: on a
# block of about 20 reference tracks one track more or less complete moves CT by ~0.05 and
# the mean by ~0.017, so smaller differences are no evidence
TIE = 0.01


# costs of laptrack's overlap metric: offset + coefficients of (overlap in pixels, IoU,
# overlap / first area, overlap / second area)
LAPTRACK_COSTS = {"1 - overlap": (1.0, -1.0, 0.0, 0.0, 0.0), "1 - IoU": (1.0, 0.0, -1.0, 0.0, 0.0),
                  "1 - child ratio": (1.0, 0.0, 0.0, 0.0, -1.0)}


def laptrack_grid() -> list[dict]:
    """laptrack settings searched (``--laptrack``): the link cost (its example's 1 - overlap,
    or 1 - IoU), the division cost (its example's 1 - the child's overlap ratio, or 1 - IoU,
    which a small fragment beside a cell cannot pass) and its cut-off, or no divisions, and
    gap closing over 1 or 2 frames."""
    out = []
    splits = [(m, c) for m in ("1 - child ratio", "1 - IoU") for c in (0.5, 0.7, 0.9)]
    for link, (split, cut), gap in itertools.product(("1 - overlap", "1 - IoU"),
                                                     [*splits, (None, False)], (1, 2)):
        out.append({"link": link, "split": split or "none", "splitting_cutoff": cut,
                    "gap_closing_max_frame_count": gap})
    return out


def laptrack_settings(setting: dict) -> dict:
    """OverLapTrack's keyword arguments for one setting of ``laptrack_grid``."""
    link = LAPTRACK_COSTS[setting["link"]]
    split = LAPTRACK_COSTS.get(setting["split"], link)
    return {"cutoff": 0.9, "metric_coefs": link, "gap_closing_metric_coefs": link,
            "gap_closing_max_frame_count": setting["gap_closing_max_frame_count"],
            "splitting_cutoff": setting["splitting_cutoff"], "splitting_metric_coefs": split}


# laptrack's overlap tracker as its example sets it (docs/examples/overlap_tracking.ipynb of
# yfukai/laptrack), one point of the grid: links cost 1 - overlap, divisions 1 - the child's
# overlap ratio, one frame of gap closing
LAPTRACK = laptrack_settings({"link": "1 - overlap", "split": "1 - child ratio",
                              "splitting_cutoff": 0.9, "gap_closing_max_frame_count": 1})


def laptrack_tracker(settings: dict) -> Tracker:
    """A tracker function of the masks running laptrack's ``OverLapTrack`` (a LAP tracker
    with gap closing and splitting; ``pip install laptrack``) and writing its result as CTC
    tracks: a track that skips frames continues as a child track, a division's children get
    the parent's last piece as parent."""
    from laptrack import OverLapTrack

    def run(masks: list[np.ndarray]) -> tuple[list[np.ndarray], list[TrackRecord]]:
        stack = np.stack([m.astype(np.int32) for m in masks])
        track_df, split_df, _ = OverLapTrack(**settings).predict_overlap_dataframe(stack)
        rows = track_df.reset_index().sort_values("frame")
        luts = [np.zeros(int(m.max()) + 1, np.int32) for m in masks]
        records: dict[int, list[int]] = {}
        first, last = {}, {}  # laptrack track id -> first / last CTC piece
        for tid, grp in rows.groupby("track_id", sort=False):
            prev_frame, piece = None, 0
            for frame, label in zip(grp["frame"].tolist(), grp["label"].tolist(), strict=True):
                if prev_frame is None or frame != prev_frame + 1:
                    parent = piece
                    piece = len(records) + 1
                    records[piece] = [frame, frame, parent]
                    first.setdefault(tid, piece)
                records[piece][1] = prev_frame = frame
                luts[frame][label] = piece
            last[tid] = piece
        pairs = (zip(split_df["parent_track_id"], split_df["child_track_id"], strict=True)
                 if len(split_df) else ())  # without splitting: an empty frame, no columns
        for parent, child in pairs:
            records[first[child]][2] = last[parent]
        out = [lut[m] for lut, m in zip(luts, masks, strict=True)]
        return out, [TrackRecord(k, b, e, p) for k, (b, e, p) in records.items()]

    return run


def score_block(masks: list[np.ndarray], frames: list[int], block: tuple[int, int],
                cfg: TrackingConfig | Tracker, gt: Path) -> dict[str, float]:
    """Track the block's masks alone (with the tracker's ``cfg``, or a function of the masks
    returning labels and records) and score them on that block (frames outside it are written
    empty, so the result has the sequence's length)."""
    first, last = block
    inside = [i for i, t in enumerate(frames) if first <= t <= last]
    tracked, records = run_tracker([masks[i] for i in inside], cfg)
    shifted = [TrackRecord(r.label, r.begin + first, r.end + first, r.parent) for r in records]
    empty = np.zeros_like(masks[0])
    full = [tracked[inside.index(i)] if i in inside else empty for i in range(len(frames))]
    with tempfile.TemporaryDirectory() as tmp:
        res = write_results(Path(tmp), gt.name[:-3], frames, full, records=shifted, digits=3)
        s = evaluate_ctc_sequence(res, gt, block, digits=3)
    s["mean"] = float(np.mean([s[k] for k in KEYS if k in s]))
    return s


def run_tracker(masks: list[np.ndarray], cfg: TrackingConfig | Tracker
                ) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Track ``masks`` with this package's tracker configured by ``cfg``, or with ``cfg``
    itself when it is another tracker's function."""
    return track_instances(masks, cfg) if isinstance(cfg, TrackingConfig) else cfg(masks)


def candidates(base: TrackingConfig, laptrack: bool
               ) -> list[tuple[dict, TrackingConfig | Tracker]]:
    """Every setting tried with the tracker it gives: this package's tracker over ``grid()``,
    or laptrack's overlap tracker over ``laptrack_grid()``."""
    if laptrack:
        return [(s, laptrack_tracker(laptrack_settings(s))) for s in laptrack_grid()]
    return [(s, replace(base, **s)) for s in grid()]


def _row(name: str, s: dict[str, float]) -> str:
    cells = " | ".join(f"{s[k]:.4f}" if k in s else "" for k in (*KEYS, "mean"))
    return f"| {name} | {cells} | {s['divisions']} / {s['divisions_ref']} |"


def parse_block(text: str) -> tuple[int, int]:
    """"FIRST-LAST" -> (first, last), for command-line options."""
    first, last = (int(x) for x in text.split("-"))
    return first, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sequence", default="01")
    parser.add_argument("--choose", type=parse_block, default=(72, 83))
    parser.add_argument("--report", type=parse_block, default=(50, 71))
    parser.add_argument("--masks", type=Path, help="mask folder (default: XX_ST/SEG)")
    parser.add_argument("--also", nargs=3, metavar=("DATA", "SEQUENCE", "MASKS"),
                        help="score defaults and the chosen setting on this whole sequence")
    parser.add_argument("--laptrack", action="store_true",
                        help="search laptrack's OverLapTrack settings instead of this "
                        "package's (pip install '.[bench]')")
    args = parser.parse_args()
    folder = args.masks or args.data / f"{args.sequence}_ST" / "SEG"
    frames, masks, _ = read_mask_folder(folder)
    seq_frames = sorted(open_ctc_dataset(args.data).sequence(args.sequence).frames)
    assert frames == seq_frames, "the masks must cover every frame of the sequence"
    gt = args.data / f"{args.sequence}_GT"
    base = load_config(None).tracking
    best_name, best_cfg = choose(masks, frames, args.choose, gt, base, args.laptrack, folder)
    ours = "defaults" if not args.laptrack else "ctc-unet's tracker, defaults"
    print(f"\nreporting block {args.report} (chose nothing):\n\n{HEAD}\n{RULE}")
    print(_row(ours, score_block(masks, frames, args.report, base, gt)))
    print(_row(f"best on the choosing block ({best_name})",
               score_block(masks, frames, args.report, best_cfg, gt)))
    if args.also:
        data, seq, folder = Path(args.also[0]), args.also[1], Path(args.also[2])
        other_frames, other, _ = read_mask_folder(folder)
        block = (min(other_frames), max(other_frames))
        print(f"\n{data.name} {seq}, all frames {block} ({folder}):\n\n{HEAD}\n{RULE}")
        for name, cfg in ((ours, base), ("best on the choosing block", best_cfg)):
            print(_row(name, score_block(other, other_frames, block, cfg,
                                         data / f"{seq}_GT")))


HEAD = "| setting | " + " | ".join((*KEYS, "mean")) + " | divisions / reference |"
RULE = "|" + " --- |" * (len(KEYS) + 3)


def choose(masks: list[np.ndarray], frames: list[int], block: tuple[int, int], gt: Path,
           base: TrackingConfig, laptrack: bool, folder: Path
           ) -> tuple[str, TrackingConfig | Tracker]:
    """Score every candidate on the choosing block, print the table and the decision, and
    return the best candidate's name and tracker."""
    t0 = time.perf_counter()
    tried = [(setting, cfg, score_block(masks, frames, block, cfg, gt))
             for setting, cfg in candidates(base, laptrack)]
    tried.sort(key=lambda x: -x[2]["mean"])
    if laptrack:
        shown, what = tried, "laptrack settings, all of them,"
    else:
        shown = tried[:5] + [x for x in tried[5:] if x[0].get("division_rule") == "evidence"]
        what = "settings; the five best and the evidence rule's,"
    print(f"{folder}: {len(tried)} {what} on the choosing block {block} "
          f"({time.perf_counter() - t0:.0f} s), and this package's defaults:\n")
    print(HEAD + "\n" + RULE)
    for setting, _, s in shown:
        print(_row(_name(setting), s))
    default_score = score_block(masks, frames, block, base, gt)
    print(_row("ctc-unet's tracker, defaults" if laptrack else "defaults", default_score))
    best_setting, best_cfg, best = tried[0]
    if best["mean"] > default_score["mean"] + TIE:
        print(f"\nchosen: {_name(best_setting)} (beats the defaults by more than {TIE})")
    else:
        print(f"\nchosen: the defaults (no setting beats them by more than {TIE})")
    return _name(best_setting), best_cfg


if __name__ == "__main__":
    main()
