"""Tracking with and without a run's learned track support, side by side on the same masks.

    python benchmarks/track_support.py RUN --data DATASET --sequence 02 [--frames 50-71]
        [--learn] [--markdown]

The run's model segments every frame of the sequence once; the instances are linked by the
run's tracker without and with the support of track_support.json (``--learn``, or a run
without one: learned first, as ``train`` does with ``tracking.track_support`` on, on the
training sequences' frames that report nothing), and each result is scored with
py-ctcmetrics as ``ctc-unet evaluate`` scores it (``--frames``: that block only, renumbered).
Prints one row per tracker: SEG, DET, TRA, LNK, CT, TF, BC(0), BIO(0), divisions found /
reference, tracks / reference tracks in the block, lineages dropped, seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

import torch
from scoring import table_head, tracked_row  # benchmarks/scoring.py, beside this script

from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.inference.predictor import Predictor
from ctc_unet.rundir import RunDir
from ctc_unet.tracking.support import object_probability, read_support
from ctc_unet.workflow.support import learn_track_support


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--data", type=Path, required=True, help="the CTC dataset folder")
    ap.add_argument("--sequence", required=True)
    ap.add_argument("--frames", help="first-last: score this block only")
    ap.add_argument("--learn", action="store_true", help="learn the support again")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    run = RunDir(args.run)
    cfg = run.load_config()
    cpu = torch.device("cpu")
    t0 = time.perf_counter()
    learn = args.learn or not run.track_support.is_file()
    support = (learn_track_support(run, args.data, cfg, cpu) if learn
               else read_support(run.track_support))
    learn_s = time.perf_counter() - t0
    seq = open_ctc_dataset(args.data).sequences[args.sequence]
    pred = Predictor.from_run(run, cpu, seq.first_shape)
    frames = sorted(seq.frames)
    t0 = time.perf_counter()
    instances, probs = [], []
    for t in frames:
        prob, labels = pred.segment(seq.read_frame, frames, t, str(seq.frames[t]))
        instances.append(labels)
        probs.append(object_probability(labels, prob))
    seg_s = time.perf_counter() - t0
    block = tuple(int(v) for v in args.frames.split("-")) if args.frames else None
    print(f"learning {learn_s:.0f} s, segmenting {seg_s / len(frames):.2f} s per frame")
    print(table_head("tracker"))
    for name, sup in (("today", None), ("+ learned track support", support)):
        t0 = time.perf_counter()
        masks, records = dataclasses.replace(pred, support=sup).link(instances, probs)
        print(tracked_row(name, seq, args.data / f"{seq.name}_GT", masks, records, block,
                          time.perf_counter() - t0), flush=True)


if __name__ == "__main__":
    main()
