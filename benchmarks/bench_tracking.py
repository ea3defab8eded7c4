"""Tracker variants on three kinds of masks, side by side in one run (issue 23).

    python benchmarks/bench_tracking.py --data ../shared/data/DIC-C2DH-HeLa \
        [--model-masks RUN/results/DIC-C2DH-HeLa/01_RES] \
        [--also DATASET_DIR SEQUENCE MASKS_DIR] [--count MASKS_DIR ...]

Variants: the greedy overlap tracker of the first version, the global tracker as it was before
issue 23 (cut-off division rule), then with the evidence rule, with look-back links, with
fragments merged when the cell takes them back, and with the cell going on as the piece that
split off when that piece takes the mother's short continuation back (today's default); and,
when laptrack is installed (``pip install ".[bench]"``), laptrack's overlap tracker. Each mask
folder's objects are re-linked by each variant (labels are only object ids here) and scored
with py-ctcmetrics against the gold TRA markers:

1. the silver truth of sequence 01 (``01_ST/SEG``) on the tracker's choosing block (0-45) and
   on the reporting block (50-71);
2. ``--model-masks``: a trained model's masks of that sequence, on the run's choosing block
   (``--model-choose``) and on the reporting block;
3. ``--also`` (repeatable): whole sequences of another dataset (a model's masks of
   Fluo-N2DH-GOWT1 01, the sequence it trained on, which may choose tracker settings since the
   tracker learns nothing from it, and of 02, which nothing chose on);
4. ``--count``: mask folders without a reference (the challenge sequences as a model predicts
   them): tracks, divisions, gap links and the median track length of each variant.

Each scored block ends with the ceiling of its masks (``ctc_unet.evaluation.ceiling``): the
reference's own links laid on the same objects, the highest TRA any labelling of those masks
can reach (its CT and BC are those of the reference's links, not a bound).
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from ceiling import ceiling_tracks  # benchmarks/ceiling.py, beside this script
from choose_tracker import (
    LAPTRACK,
    laptrack_tracker,
    parse_block,
    run_tracker,
    score_block,
)

from ctc_unet.config import load_config
from ctc_unet.data.ctc import (
    TrackRecord,
    children,
    count_divisions,
    open_ctc_dataset,
    write_results,
)
from ctc_unet.evaluation.ctc import evaluate_ctc_sequence
from ctc_unet.workflow.track import read_mask_folder

MEASURES = ("SEG", "DET", "TRA", "CT", "TF", "BC(0)", "LNK")


def variants() -> dict:
    """The first tracker, the previous default, then each change of issue 23 added in turn;
    the last is today's default."""
    base = load_config(None).tracking
    before = replace(base, division_rule="cutoffs", link_lookback=False, fragment_area=0.0,
                     fragment_goes_on=False)
    evidence = replace(before, division_rule="evidence")
    return {"greedy overlap": replace(base, method="overlap"),
            "global, cut-offs (previous default)": before,
            "+ evidence rule": evidence,
            "+ look-back links": replace(evidence, link_lookback=True),
            "+ fragments taken back": replace(base, fragment_goes_on=False),
            "+ the cell goes on as its fragment (default)": base,
            **({"laptrack OverLapTrack (its example's settings)": laptrack_tracker(LAPTRACK)}
               if importlib.util.find_spec("laptrack") else {})}


def _row(name: str, block: tuple[int, int], role: str, tracker: str, s: dict,
         seconds: float) -> str:
    cells = " | ".join(f"{s[k]:.4f}" if k in s else "" for k in MEASURES)
    return (f"| {name} | {block[0]}-{block[1]} ({role}) | {tracker} | {cells} | "
            f"{s['divisions']} / {s['divisions_ref']} | {seconds:.1f} |")


def ceiling_rows(name: str, masks: list[np.ndarray], frames: list[int], gt: Path,
                 blocks: list[tuple[str, tuple[int, int]]]) -> list[str]:
    """The reference's links laid on ``masks`` (every frame of the sequence) once, scored on
    each block."""
    t0 = time.perf_counter()
    seq = open_ctc_dataset(gt.parent).sequence(gt.name[:-3])
    markers = [seq.read_gt_tra(t) for t in frames]
    ref = [TrackRecord(r.label, r.begin - frames[0], r.end - frames[0], r.parent)
           for r in seq.tracks()]
    labels, records = ceiling_tracks(masks, markers, ref)
    shifted = [TrackRecord(r.label, r.begin + frames[0], r.end + frames[0], r.parent)
               for r in records]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        res = write_results(Path(tmp), gt.name[:-3], frames, labels, records=shifted,
                            digits=seq.digits)
        laid = time.perf_counter() - t0
        for role, block in blocks:
            t0 = time.perf_counter()
            s = evaluate_ctc_sequence(res, gt, block, digits=seq.digits)
            rows.append(_row(name, block, role, "ceiling: the reference's links", s,
                             laid + time.perf_counter() - t0))
    return rows


def scored_rows(name: str, folder: Path, gt: Path, blocks: list[tuple[str, tuple[int, int]]]
                ) -> list[str]:
    """One table row per block and variant for the masks of ``folder``, each block ending
    with its ceiling."""
    frames, masks, _ = read_mask_folder(folder)
    ceilings = ceiling_rows(name, masks, frames, gt, blocks)
    rows = []
    for (role, block), ceiling in zip(blocks, ceilings, strict=True):
        for vname, cfg in variants().items():
            t0 = time.perf_counter()
            s = score_block(masks, frames, block, cfg, gt)
            rows.append(_row(name, block, role, vname, s, time.perf_counter() - t0))
        rows.append(ceiling)
    return rows


def count_row(folder: Path) -> str:
    """Tracks, divisions, gap links and median track length of each variant on ``folder``."""
    _, masks, _ = read_mask_folder(folder)
    cells = []
    for cfg in variants().values():
        _, records = run_tracker(masks, cfg)
        gaps = sum(len(kids) == 1 for kids in children(records).values())
        length = float(np.median([r.end - r.begin + 1 for r in records]))
        cells.append(f"{len(records)}, {count_divisions(records)}, {gaps}, {length:.0f}")
    return f"| {folder} | {len(masks)} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sequence", default="01")
    parser.add_argument("--choose", type=parse_block, default=(0, 45),
                        help="FIRST-LAST: the tracker's choosing block")
    parser.add_argument("--report", type=parse_block, default=(50, 71),
                        help="FIRST-LAST: the reporting block")
    parser.add_argument("--model-masks", type=Path, help="a model's masks of the sequence")
    parser.add_argument("--model-choose", type=parse_block, default=(72, 83),
                        help="the run's choosing block, scored on its masks")
    parser.add_argument("--also", nargs=3, action="append", default=[],
                        metavar=("DATA", "SEQUENCE", "MASKS"),
                        help="a whole sequence of another dataset (repeatable)")
    parser.add_argument("--count", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    gt = args.data / f"{args.sequence}_GT"
    rows = scored_rows(f"{args.data.name} {args.sequence} silver truth",
                       args.data / f"{args.sequence}_ST" / "SEG", gt,
                       [("choosing", args.choose), ("reporting", args.report)])
    if args.model_masks:
        rows += scored_rows(f"{args.data.name} {args.sequence} model masks", args.model_masks,
                            gt, [("choosing", args.model_choose), ("reporting", args.report)])
    for data, seq, folder in args.also:
        data, folder = Path(data), Path(folder)
        n = len(read_mask_folder(folder)[0])
        rows += scored_rows(f"{data.name} {seq} {folder.name}", folder, data / f"{seq}_GT",
                            [("whole", (0, n - 1))])
    print("| masks | frames | tracker | " + " | ".join(MEASURES)
          + " | divisions / reference | s |")
    print("|" + " --- |" * (len(MEASURES) + 5))
    print("\n".join(rows))
    if args.count:
        print("\n| masks (no reference) | frames | "
              + " | ".join(f"{n}: tracks, divisions, gap links, median length"
                           for n in variants()) + " |")
        print("|" + " --- |" * (2 + len(variants())))
        for folder in args.count:
            print(count_row(folder))


if __name__ == "__main__":
    main()
