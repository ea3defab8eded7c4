"""Old (greedy overlap) vs new (global assignment) tracker, side by side in one run.

    python benchmarks/bench_tracking.py --data ../shared/data/DIC-C2DH-HeLa \
        [--masks DIR ...]

1. Tracks the silver-truth masks of sequence 01 (01_ST/SEG: every frame segmented, close to
   gold on DIC-HeLa) with each tracker and scores them against the gold TRA (01_GT) with
   py-ctcmetrics: TRA, DET, CT, TF, BC(0), and divisions found / in the reference.
2. For each extra mask folder (e.g. a model's XX_RES on the challenge sequences) counts the
   tracks and divisions each tracker makes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ctc_unet.config import load_config
from ctc_unet.evaluation.ctc import evaluate_ctc_sequence
from ctc_unet.tracking.folder import read_mask_folder, track_folder
from ctc_unet.tracking.linking import track_instances

MEASURES = ("TRA", "DET", "CT", "TF", "BC(0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sequence", default="01")
    parser.add_argument("--masks", type=Path, nargs="*", default=[])
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
    if args.masks:
        print("\n| masks | frames | " + " | ".join(f"{n}: tracks, divisions" for n in methods)
              + " |")
        print("|" + " --- |" * (2 + len(methods)))
        for folder in args.masks:
            frames, masks, _ = read_mask_folder(folder)
            cells = []
            for cfg in methods.values():
                _, records = track_instances(masks, cfg)
                kids: dict[int, int] = {}
                for r in records:
                    if r.parent:
                        kids[r.parent] = kids.get(r.parent, 0) + 1
                cells.append(f"{len(records)}, {sum(k >= 2 for k in kids.values())}")
            print(f"| {folder} | {len(frames)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
