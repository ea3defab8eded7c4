"""Old (greedy overlap) vs new (global assignment) tracker, side by side in one run.

    python benchmarks/bench_tracking.py --data ../shared/data/DIC-C2DH-HeLa \
        [--masks DIR ...] [--run RUN --challenge ../shared/data/challenge/DIC-C2DH-HeLa]

1. Tracks the silver-truth masks of sequence 01 (01_ST/SEG: every frame segmented, close to
   gold on DIC-HeLa) with each tracker and scores them against the gold TRA (01_GT) with
   py-ctcmetrics: TRA, DET, CT, TF, BC(0), and divisions found / in the reference.
2. With ``--run`` and ``--block FIRST-LAST``: the run's own (untracked) instances of the
   sequence, linked by each tracker (and the new one with fragment merging on), scored on
   that block with py-ctcmetrics (SEG, SEG_ST, DET, TRA, CT, TF, BC(0), divisions).
3. For each extra mask folder, and for the instances a trained run predicts on each challenge
   sequence (untracked, so neither tracker's output is fed to the other), counts the tracks
   and divisions each tracker makes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ctc_unet.config import load_config
from ctc_unet.data.ctc import count_divisions, open_ctc_dataset, write_results
from ctc_unet.evaluation.ctc import evaluate_ctc_sequence
from ctc_unet.tracking.linking import track_instances
from ctc_unet.workflow.track import read_mask_folder, track_folder

MEASURES = ("TRA", "DET", "CT", "TF", "BC(0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sequence", default="01")
    parser.add_argument("--masks", type=Path, nargs="*", default=[])
    parser.add_argument("--run", type=Path, help="run directory whose model predicts")
    parser.add_argument("--challenge", type=Path, help="challenge dataset folder")
    parser.add_argument("--block", help="FIRST-LAST: score the run's masks on these frames")
    args = parser.parse_args()
    base = load_config(None).tracking
    methods = {"old (greedy overlap)": replace(base, method="overlap"),
               "new (global assignment)": base}
    print(f"{args.sequence}_ST/SEG tracked, scored against {args.sequence}_GT (py-ctcmetrics)")
    print("| tracker | " + " | ".join(MEASURES) + " | divisions found / reference | s |")
    print("|" + " --- |" * (len(MEASURES) + 3))
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in methods.items():
            t0 = time.perf_counter()
            res, _, _ = track_folder(args.data / f"{args.sequence}_ST" / "SEG",
                                     Path(tmp) / name.split()[0] / f"{args.sequence}_RES", cfg)
            seconds = time.perf_counter() - t0
            s = evaluate_ctc_sequence(res, args.data / f"{args.sequence}_GT")
            cells = " | ".join(f"{s[m]:.4f}" if m in s else "" for m in MEASURES)
            print(f"| {name} | {cells} | {s['divisions']} / {s['divisions_ref']} | "
                  f"{seconds:.1f} |")
    if args.run and args.block:
        block_table(args, methods)
    sets = [(str(folder), read_mask_folder(folder)[1]) for folder in args.masks]
    if args.run and args.challenge:
        sets += predicted_instances(args.run, args.challenge)
    if sets:
        print("\n| masks | frames | " + " | ".join(f"{n}: tracks, divisions" for n in methods)
              + " |")
        print("|" + " --- |" * (2 + len(methods)))
        for name, masks in sets:
            cells = []
            for cfg in methods.values():
                _, records = track_instances(masks, cfg)
                cells.append(f"{len(records)}, {count_divisions(records)}")
            print(f"| {name} | {len(masks)} | " + " | ".join(cells) + " |")


def block_table(args, methods: dict) -> None:
    """The run's instances of ``args.sequence`` tracked each way, scored on ``args.block``."""
    first, last = (int(x) for x in args.block.split("-"))
    _, masks = predicted_instances(args.run, args.data, [args.sequence])[0]
    frames = sorted(open_ctc_dataset(args.data).sequence(args.sequence).frames)
    variants = {**methods, "new, fragment_area 1.0": replace(methods["new (global assignment)"],
                                                             fragment_area=1.0)}
    keys = ("SEG", "SEG_ST", "DET", "TRA", "CT", "TF", "BC(0)")
    print(f"\n{args.run.name}'s masks of {args.sequence}, scored on frames {args.block}")
    print("| tracker | " + " | ".join(keys) + " | divisions (result / reference) |")
    print("|" + " --- |" * (len(keys) + 2))
    for name, cfg in variants.items():
        tracked, records = track_instances(masks, cfg)
        with tempfile.TemporaryDirectory() as tmp:
            res = write_results(Path(tmp), args.sequence, frames, tracked, records, 3)
            s = evaluate_ctc_sequence(res, args.data / f"{args.sequence}_GT", (first, last),
                                      3, args.data / f"{args.sequence}_ST")
        cells = " | ".join(f"{s[k]:.4f}" if k in s else "" for k in keys)
        print(f"| {name} | {cells} | {s['divisions']} / {s['divisions_ref']} |")


def predicted_instances(run_dir: Path, root: Path, only: list[str] | None = None
                        ) -> list[tuple[str, list]]:
    """Untracked instance labels that the run's model predicts for every sequence of ``root``
    (or those in ``only``)."""
    from ctc_unet.device import resolve_device
    from ctc_unet.rundir import RunDir
    from ctc_unet.workflow.predict import load_predictor

    dataset = open_ctc_dataset(root)
    first = next(iter(dataset.sequences.values()))
    pred = load_predictor(RunDir(run_dir), resolve_device("cpu"),
                          first.frame_shape(min(first.frames)))
    out = []
    for seq in dataset.sequences.values():
        if only and seq.name not in only:
            continue
        masks = [pred.instances(pred.probabilities(seq.read_frame(t))[1])
                 for t in sorted(seq.frames)]
        out.append((f"{root.name}/{seq.name} (predicted by {run_dir.name})", masks))
    return out


if __name__ == "__main__":
    main()
