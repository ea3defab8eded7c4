"""Which reference tracks the tracker leaves incomplete, and why (issue 23: the CT aim).

    python benchmarks/track_losses.py --data ../shared/data/DIC-C2DH-HeLa \
        [--masks FOLDER] [--sequence 01] [--block 50-71] [--block 0-45]

For each block, the block's masks (default: the sequence's silver truth) are tracked alone
with the default tracker and, beside it, labelled with the reference's own links
(``ctc_unet.evaluation.ceiling``); ``ctc_unet.evaluation.tracks`` then applies py-ctcmetrics'
complete-tracks test to both against the gold TRA markers and prints CT's parts (T_rc
complete of T_r reference tracks, T_c result tracks) and every reference track that either
leaves incomplete, with the cause. A cause both share lies in the masks or the reference;
one only the tracker has is the tracker's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from choose_tracker import parse_block

from ctc_unet.config import load_config
from ctc_unet.data.ctc import TrackRecord, open_ctc_dataset
from ctc_unet.evaluation.ceiling import ceiling_tracks
from ctc_unet.evaluation.clip import clip_tracks
from ctc_unet.evaluation.tracks import complete_tracks, incomplete_tracks
from ctc_unet.tracking.linking import track_instances
from ctc_unet.workflow.track import read_mask_folder


def block_table(name: str, frames: list[int], masks: list, seq, block: tuple[int, int]
                ) -> list[str]:
    """Markdown lines: CT's parts for the tracker and the ceiling on ``block``, then the
    reference tracks either leaves incomplete."""
    first, last = block
    inside = [i for i, t in enumerate(frames) if first <= t <= last]
    if len(inside) != last - first + 1:
        raise SystemExit(f"{name}: the masks do not cover frames {first}-{last}")
    masks = [masks[i] for i in inside]
    markers = [seq.read_gt_tra(t) for t in range(first, last + 1)]
    reference = clip_tracks(seq.tracks(), first, last)  # frames from 0, as the lists
    results = {"tracker (defaults)": track_instances(masks, load_config(None).tracking),
               "ceiling (the reference's links)": ceiling_tracks(masks, markers, reference)}
    lines = [f"**{name}, frames {first}-{last}**", "",
             "| labelling | T_r | T_c | T_rc | CT |", "| --- | ---: | ---: | ---: | ---: |"]
    reference = _shift(reference, first)
    causes: dict[str, dict[int, str]] = {}
    for label, (tracked, records) in results.items():
        complete, losses = incomplete_tracks(markers, reference, tracked,
                                             _shift(records, first), first)
        ct = complete_tracks(complete, len(reference), len(records))
        lines.append(f"| {label} | {len(reference)} | {len(records)} | {complete} | {ct:.4f} |")
        causes[label] = {loss.label: loss.causes() for loss in losses}
    spans = {r.label: r for r in reference}
    lines += ["", "| reference track | frames | parent | " + " | ".join(causes) + " |",
              "| ---: | --- | ---: | --- | --- |"]
    for label in sorted(set().union(*causes.values()), key=lambda k: (spans[k].begin, k)):
        r = spans[label]
        cells = " | ".join(c.get(label, "complete") for c in causes.values())
        lines.append(f"| {label} | {r.begin}-{r.end} | {r.parent or ''} | {cells} |")
    return lines


def _shift(records: list[TrackRecord], first: int) -> list[TrackRecord]:
    return [TrackRecord(r.label, r.begin + first, r.end + first, r.parent) for r in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sequence", default="01")
    parser.add_argument("--masks", type=Path, help="mask folder (default: XX_ST/SEG)")
    parser.add_argument("--block", type=parse_block, action="append",
                        help="frames FIRST-LAST (repeatable; default 50-71)")
    args = parser.parse_args()
    seq = open_ctc_dataset(args.data).sequence(args.sequence)
    folder = args.masks or args.data / f"{args.sequence}_ST" / "SEG"
    frames, masks, _ = read_mask_folder(folder)
    for block in args.block or [(50, 71)]:
        print("\n".join(block_table(str(folder), frames, masks, seq, block)) + "\n")


if __name__ == "__main__":
    main()
