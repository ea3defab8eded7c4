"""Every candidate division the evidence rule weighs on a mask folder, with each cue's
plausibility and whether the reference (gold TRA markers) holds that division.

    python benchmarks/division_candidates.py MASKS_DIR GT_DIR [--frames FIRST-LAST]

A candidate is true when the reference has a division at that frame (within one frame) whose
mother's marker lies in the candidate mother's object and whose daughters' markers lie one in
each candidate daughter. Prints a Markdown table and the range of evidence of true and false
candidates (docs/tracking.md, "Division evidence").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from choose_tracker import parse_block

from ctc_unet.config import load_config
from ctc_unet.data.ctc import children, parse_man_track
from ctc_unet.data.images import read_tiff
from ctc_unet.tracking.divisions import cues
from ctc_unet.tracking.linking import division_events
from ctc_unet.workflow.track import read_mask_folder


def reference_divisions(gt: Path) -> list[tuple[int, int, list[int]]]:
    """(first frame of the daughters, mother label, daughter labels) of the reference."""
    return [(min(k.begin for k in v), p, [k.label for k in v])
            for p, v in children(parse_man_track(gt / "TRA" / "man_track.txt")).items()
            if len(v) >= 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("masks", type=Path)
    parser.add_argument("gt", type=Path)
    parser.add_argument("--frames", type=parse_block, default=(0, 10 ** 9),
                        help="FIRST-LAST: only candidates in these frames")
    args = parser.parse_args()
    frames, labels, _ = read_mask_folder(args.masks)
    first, last = args.frames
    markers = {}

    def marker(t: int) -> np.ndarray:
        if t not in markers:
            markers[t] = read_tiff(args.gt / "TRA" / f"man_track{frames[t]:03d}.tif")
        return markers[t]

    def holds(t: int, obj: int, ref: int) -> bool:
        return bool(((labels[t] == obj) & (marker(t) == ref)).any())

    refs = reference_divisions(args.gt)
    events = [e for e in division_events(labels, load_config(None).tracking)
              if first <= frames[e.frame] <= last]
    names = list(cues(events[0].candidate)) if events else []
    print("| frame | reference | evidence | accepted | " + " | ".join(names) + " |")
    print("|" + " --- |" * (4 + len(names)))
    seen = {True: [], False: []}
    for e in events:
        s = e.frame
        true = any(abs(frames[s] - b) <= 1 and holds(s - 1, e.mother, m)
                   and all(any(holds(s, d, k) for k in ks) for d in e.daughters)
                   for b, m, ks in refs)
        seen[true].append(e.evidence)
        plaus = " | ".join(f"{v:.2f}" for v in cues(e.candidate).values())
        print(f"| {frames[s]} | {'division' if true else 'none'} | {e.evidence:.2f} | "
              f"{'yes' if e.accepted else 'no'} | {plaus} |")
    for true, name in ((True, "true"), (False, "false")):
        v = seen[true]
        if v:
            print(f"\n{name} candidates: {len(v)}, evidence {min(v):.2f} to {max(v):.2f}")
    found = {(b, m) for b, m, _ in refs if first <= b <= last}
    print(f"reference divisions in these frames: {len(found)}")


if __name__ == "__main__":
    main()
