"""Missed markers and objects without a marker of a result folder, against a sequence's TRA
markers (DET's parts as ``ctc_unet.evaluation.det.detection_counts`` counts them, summed over
every frame with markers).

    python benchmarks/detection_counts.py RUN/results/Fluo-N2DH-GOWT1/02_RES \
        --data ../shared/data/Fluo-N2DH-GOWT1 --sequence 02
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.evaluation.det import detection_counts
from ctc_unet.workflow.track import read_mask_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("masks", type=Path, help="a folder of maskNNN.tif (e.g. 02_RES)")
    parser.add_argument("--data", type=Path, required=True, help="the dataset folder")
    parser.add_argument("--sequence", required=True, help="the sequence the masks are of")
    args = parser.parse_args()
    seq = open_ctc_dataset(args.data).sequences[args.sequence]
    frames, masks, _ = read_mask_folder(args.masks)
    total = {"markers": 0, "FN": 0, "FP": 0, "NS": 0}
    objects = 0
    for t, mask in zip(frames, masks, strict=True):
        if t not in seq.gt_tra:
            continue
        for k, v in detection_counts(seq.read_gt_tra(t), mask).items():
            total[k] += v
        objects += len(set(mask[mask > 0].tolist()))
    print(f"{args.masks}: {total['markers']} markers, {objects} objects; "
          f"{total['FN']} markers missed, {total['FP']} objects without a marker, "
          f"{total['NS']} extra markers in shared objects")


if __name__ == "__main__":
    main()
