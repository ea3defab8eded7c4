"""Tracking given reference masks with the default division threshold and with one learned
from another block's tracks, side by side.

    python benchmarks/learned_divisions.py DATASET --sequence 01 --learn 0-39 --report 40-64
        [--masks gt|st|MASKS_DIR] [--link-cover 0.5]

The tracker weighs every candidate division on the learning block's reference masks (``gt``:
gold SEG, ``st``: silver SEG, or a folder of a segmenter's maskNNN.tif; every frame of the
block needs one), the block's TRA markers
and man_track.txt label them, and ``division_evidence`` is learned as ``ctc-unet track
--learn-from`` learns it. Then the whole sequence's reference masks are tracked with the
default and with the learned threshold, and each result is scored with py-ctcmetrics on the
reporting block only (renumbered), against the gold truth: nothing of the reporting block
chose the threshold. Prints one markdown row per threshold: SEG, DET, TRA, LNK, CT, TF,
BC(0), BIO(0), divisions found / reference, tracks / reference tracks in the block, seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from scoring import table_head, tracked_row  # benchmarks/scoring.py, beside this script

from ctc_unet.config import load_config
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.tracking.division_learning import label_candidates, learn_division_evidence
from ctc_unet.tracking.linking import track_instances
from ctc_unet.workflow.track import read_mask_folder


def block(text: str) -> tuple[int, int]:
    first, last = (int(v) for v in text.split("-"))
    return first, last


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the CTC dataset folder")
    ap.add_argument("--sequence", default="01")
    ap.add_argument("--learn", type=block, required=True, help="first-last: learn here")
    ap.add_argument("--report", type=block, required=True, help="first-last: score here")
    ap.add_argument("--masks", default="gt", help="gt, st or a folder of maskNNN.tif")
    ap.add_argument("--link-cover", type=float, help="tracking.link_cover for both rows")
    args = ap.parse_args(argv)
    seq = open_ctc_dataset(args.data).sequence(args.sequence)
    cfg = load_config(None).tracking
    if args.link_cover is not None:
        cfg = dataclasses.replace(cfg, link_cover=args.link_cover)
    frames = sorted(seq.frames)
    if args.masks in ("gt", "st"):
        read = seq.read_gt_seg if args.masks == "gt" else seq.read_st_seg
        masks = [read(t) for t in frames]
    else:
        given, masks, _ = read_mask_folder(Path(args.masks))
        if given != frames:
            raise SystemExit(f"{args.masks}: masks of frames {given[0]}-{given[-1]}, the "
                             f"sequence has {frames[0]}-{frames[-1]}")
    learn = [t for t in frames if args.learn[0] <= t <= args.learn[1]]
    t0 = time.perf_counter()
    labelled = label_candidates([masks[frames.index(t)] for t in learn],
                                [seq.read_gt_tra(t) for t in learn], seq.tracks(),
                                frames=learn, cfg=cfg)
    learned = learn_division_evidence([labelled], cfg.division_evidence)
    print(f"learned on frames {args.learn[0]}-{args.learn[1]} in "
          f"{time.perf_counter() - t0:.1f} s: {learned.describe()}")
    print(table_head("division_evidence"))
    for name, threshold in (("default", cfg.division_evidence), ("learned", learned.threshold)):
        t0 = time.perf_counter()
        tracked, records = track_instances(
            masks, dataclasses.replace(cfg, division_evidence=threshold))
        print(tracked_row(f"{name} {threshold:.4g}", seq, args.data / f"{seq.name}_GT",
                          tracked, records, args.report, time.perf_counter() - t0),
              flush=True)


if __name__ == "__main__":
    main()
