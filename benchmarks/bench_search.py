"""Cost of the end-of-training post-processing search: every candidate computed from scratch
(the instance rule per threshold *and* minimum size) vs ``search_postprocess``, which computes
the rule's objects once per threshold and reuses them for every minimum size (and scores with
one bincount per frame, ``data.labels.contingency``). Same scores.

    python benchmarks/bench_search.py --run runs/t2-GTST \
        --data ../shared/data/DIC-C2DH-HeLa [--frames 4]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from ctc_unet.evaluation.det import det_measure
from ctc_unet.evaluation.seg import seg_measure
from ctc_unet.inference.tiling import predict_whole
from ctc_unet.model.unet import UNet
from ctc_unet.postprocess.instances import instances_from_probability
from ctc_unet.postprocess.search import candidates, search_postprocess
from ctc_unet.rundir import RunDir, load_checkpoint
from ctc_unet.training.split import load_frames


def naive(probs, refs, markers, cfg) -> list[float]:
    scores = []
    for setting in candidates(cfg):
        post = replace(cfg.postprocess, **setting)
        preds = [instances_from_probability(p, post, cfg.targets.border_width) for p in probs]
        scores.append((seg_measure(refs, preds) + det_measure(markers, preds)) / 2)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=4, help="choosing frames to search on")
    args = parser.parse_args()
    run = RunDir(args.run)
    cfg = run.load_config()
    _, _, val = load_frames(args.data, cfg, run.load_split())
    val = val[:args.frames]
    mc = cfg.model
    model = UNet(mc.in_channels, mc.n_classes, mc.base_channels, mc.depth, mc.dropout)
    model.load_state_dict(load_checkpoint(run.best)["model"])
    probs = [predict_whole(model, f.image, torch.device("cpu"))[1] for f in val]
    refs, markers = [f.labels for f in val], [f.markers for f in val]
    t0 = time.perf_counter()
    slow = naive(probs, refs, markers, cfg)
    t1 = time.perf_counter()
    fast = search_postprocess(probs, refs, cfg, markers)
    t2 = time.perf_counter()
    same = [g["score"] for g in fast["grid"]] == slow
    print(f"{len(candidates(cfg))} candidates on {len(val)} frames: from scratch "
          f"{t1 - t0:.1f} s, reusing the rule's objects {t2 - t1:.1f} s "
          f"({(t1 - t0) / (t2 - t1):.2f}x); identical scores: {same}")


if __name__ == "__main__":
    main()
