"""Instances from a run's predictions: connected components vs seeded watershed (issue 14).

    python benchmarks/bench_instances.py --run runs/p12-dic-GT \
        --data ../shared/data/DIC-C2DH-HeLa [--tta]

For every rule, threshold and minimum size are chosen on the run's choosing frames
(split.json "val") by OP_CSB = (SEG + DET) / 2, and the chosen setting is then scored on the
reporting frames (split.json "report"), which chose nothing: SEG against their gold truth
(where there is one) and against the silver truth, DET against the TRA markers. SEG and DET
are the array versions used in training (equal to py-ctcmetrics' on the same frames, see
tests/test_measures.py).
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import replace
from pathlib import Path

import torch

from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.evaluation.det import det_measure
from ctc_unet.evaluation.seg import seg_measure
from ctc_unet.postprocess.instances import instances_from_probability
from ctc_unet.rundir import RunDir
from ctc_unet.workflow.predict import load_predictor

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MIN_SIZES = (0, 100, 400, 800, 1600)
RULES = {
    "components (4-connected)": {"method": "components"},
    "watershed, seeds p > 0.7": {"method": "watershed", "seeds": "probability",
                                 "seed_threshold": 0.7},
    "watershed, seeds p > 0.8": {"method": "watershed", "seeds": "probability",
                                 "seed_threshold": 0.8},
    "watershed, seeds p > 0.9": {"method": "watershed", "seeds": "probability",
                                 "seed_threshold": 0.9},
    "watershed, distance h = 2": {"method": "watershed", "seeds": "distance",
                                  "seed_distance": 2.0},
    "watershed, distance h = 5": {"method": "watershed", "seeds": "distance",
                                  "seed_distance": 5.0},
    "watershed, distance h = 10": {"method": "watershed", "seeds": "distance",
                                   "seed_distance": 10.0},
}


def _frames(dataset, refs, pred):
    """Probability, labels (GT or ST as the split says), ST labels and markers per frame."""
    out = []
    for ref in refs:
        seq = dataset.sequences[ref.sequence]
        prob = pred.probabilities(seq.read_frame(ref.t))[1]
        own = seq.read_gt_seg(ref.t) if ref.source == "GT" else seq.read_st_seg(ref.t)
        st = seq.read_st_seg(ref.t) if ref.t in seq.st_seg else None
        out.append({"ref": ref, "prob": prob, "labels": own, "st": st,
                    "markers": seq.read_gt_tra(ref.t)})
    return out


def _instances(frames, post, border_width):
    return [instances_from_probability(f["prob"], post, border_width) for f in frames]


def _choose(frames, post, border_width):
    best = None
    for threshold, min_size in itertools.product(THRESHOLDS, MIN_SIZES):
        p = replace(post, threshold=threshold, min_size=min_size)
        preds = _instances(frames, p, border_width)
        score = (seg_measure([f["labels"] for f in frames], preds)
                 + det_measure([f["markers"] for f in frames], preds)) / 2
        if best is None or score > best[0]:
            best = (score, p)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tta", action="store_true")
    args = parser.parse_args()
    run = RunDir(args.run)
    cfg, split = run.load_config(), run.load_split()
    dataset = open_ctc_dataset(args.data)
    first = split.val[0]
    seq = dataset.sequences[first.sequence]
    pred = load_predictor(run, torch.device("cpu"), seq.frame_shape(first.t))
    pred.cfg = replace(pred.cfg, inference=replace(pred.cfg.inference, tta=args.tta))
    choose, report = _frames(dataset, split.val, pred), _frames(dataset, split.report, pred)
    gold = [f for f in report if f["ref"].source == "GT"]
    with_st = [f for f in report if f["st"] is not None]
    bw = cfg.targets.border_width
    print(f"# run {run.root.name}; chose on {len(choose)} frames "
          f"({choose[0]['ref'].t}-{choose[-1]['ref'].t}), scored on {len(report)} frames "
          f"({report[0]['ref'].sequence} {report[0]['ref'].t}-{report[-1]['ref'].t}; gold truth: "
          f"{', '.join(str(f['ref'].t) for f in gold)}); TTA {'on' if args.tta else 'off'}")
    print("| rule | chosen threshold / min size | OP_CSB (choosing) | SEG gold (reporting) "
          "| SEG silver (reporting) | DET (reporting) | ms / frame |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, over in RULES.items():
        score, post = _choose(choose, replace(cfg.postprocess, **over), bw)
        t0 = time.perf_counter()
        preds = _instances(report, post, bw)
        ms = 1000 * (time.perf_counter() - t0) / len(report)
        by_ref = {f["ref"]: p for f, p in zip(report, preds, strict=True)}
        seg_gold = _seg([f["labels"] for f in gold], [by_ref[f["ref"]] for f in gold])
        seg_st = _seg([f["st"] for f in with_st], [by_ref[f["ref"]] for f in with_st])
        det = det_measure([f["markers"] for f in report], preds)
        print(f"| {name} | {post.threshold:.1f} / {post.min_size} | {score:.4f} | "
              f"{seg_gold} | {seg_st} | {det:.4f} | {ms:.0f} |")


def _seg(references, results) -> str:
    """SEG to four places, or '-' where there is no reference (e.g. no silver truth)."""
    return f"{seg_measure(references, results):.4f}" if references else "-"


if __name__ == "__main__":
    main()
