"""Candidates and one global choice over time (issue 42's trial) against today's pipeline, on a
run's cached probabilities, in four steps:

    python benchmarks/bench_candidates.py probabilities RUN DATASET 01 p01.npy
    python benchmarks/bench_candidates.py candidates RUN p01.npy c01.pkl
    python benchmarks/bench_candidates.py learn RUN DATASET 01 c01.pkl --last 39 learned.json
    python benchmarks/bench_candidates.py evaluate RUN DATASET 01 p01.npy c01.pkl
        --block 44-91 --costs learned.json

``probabilities`` caches the run's cell probability of every frame (float32); ``candidates``
builds every frame's candidates (the run's post-processing at its threshold shifted by each of
--spread) and the links between them; ``learn`` fits the program's costs on frames 0..--last of
an annotated sequence (TRA markers and man_track.txt): marginally, and structured with and
without the level-offset cost, by the Hamming distance or (--loss aogm) the challenge's AOGM
(structsvm's bundle method needs ``pip install structsvm ilpy pyscipopt``; --bundle scipy
does without); ``evaluate`` tracks the whole sequence with today's pipeline and with the program
under the hand-set and each learned cost, each also with the program's cells linked again by
today's tracker, and prints one markdown row each, scored with py-ctcmetrics on --block.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import time
from pathlib import Path

import numpy as np
from candidate_graph.candidates import probability_candidates
from candidate_graph.graph import Links, build_links
from candidate_graph.learn import (
    AOGM,
    aogm_loss,
    full_solution,
    hamming_gain,
    learn_costs,
    learn_structured,
    truth_labels,
)
from candidate_graph.program import GraphCosts, assemble, build_program, chosen_outlines, solve
from scoring import table_head, tracked_row  # benchmarks/scoring.py, beside this script

from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.evaluation.clip import clip_tracks
from ctc_unet.rundir import RunDir

SPREAD = "-0.2,-0.1,0,0.1,0.15"


def predictor(run: Path, seq):
    import torch

    from ctc_unet.inference.predictor import Predictor

    return Predictor.from_run(RunDir(run), torch.device("cpu"), seq.first_shape)


def cache_probabilities(a: argparse.Namespace) -> None:
    seq = open_ctc_dataset(a.dataset).sequence(a.sequence)
    pred = predictor(a.run, seq)
    frames = sorted(seq.frames)
    probs = [pred.segment(seq.read_frame, frames, t)[0].astype(np.float32) for t in frames]
    np.save(a.out, np.stack(probs))


def cache_candidates(a: argparse.Namespace) -> None:
    run = RunDir(a.run)
    cfg = run.load_config()
    post = run.load_postprocess(cfg.postprocess)
    probs = np.load(a.probabilities, mmap_mode="r")
    t0 = time.time()
    frames = probability_candidates([np.asarray(p, np.float32) for p in probs], post,
                                    cfg.targets.border_width,
                                    [float(v) for v in a.spread.split(",")])
    t1 = time.time()
    links = build_links(frames, cfg.tracking.max_gap, cfg.tracking.max_gap_distance)
    with open(a.out, "wb") as f:
        pickle.dump({"frames": frames, "links": links, "seconds": time.time() - t0}, f)
    print(f"{len(frames)} frames, {sum(fc.ids.size for fc in frames)} candidates "
          f"({t1 - t0:.0f} s), {len(links)} links ({time.time() - t1:.0f} s)")


def learn(a: argparse.Namespace) -> None:
    seq = open_ctc_dataset(a.dataset).sequence(a.sequence)
    with open(a.candidates, "rb") as f:
        cache = pickle.load(f)
    frames = cache["frames"][:a.last + 1]
    n = sum(fc.ids.size for fc in frames)
    keep = cache["links"].dst < n
    links = Links(*(getattr(cache["links"], k)[keep] for k in ("src", "dst", "features")))
    markers = [seq.read_gt_tra(t) for t in sorted(seq.frames)[:a.last + 1]]
    records = clip_tracks(seq.tracks(), 0, a.last)
    out: dict = {"learned on": f"{a.sequence} 0-{a.last}"}
    t0 = time.time()
    marginal, summary = learn_costs(frames, links, markers, records)
    out["marginal"] = marginal.to_dict() | {"seconds": round(time.time() - t0), **summary}
    xt, wx, yt, wy = truth_labels(frames, links, markers, records)
    program = build_program(frames, links)
    truth = full_solution(xt, yt, links)
    gain = hamming_gain(truth, np.concatenate([wx, wy, np.zeros(3 * n)]))
    if a.loss == "aogm":
        base, aogm = aogm_loss(frames, links, markers, records)
        out["AOGM of the annotated solution"] = round(base + float(aogm @ truth), 1)
        # in missed cells (10), the Hamming loss's scale: at 10x the bundle method's QP
        # (SCIP through ilpy) stalled for minutes on its first plane
        gain = aogm / AOGM["fn"]
    for dims in a.structured:
        name = {11: "structured", 12: "structured + level"}[dims]
        name = name.replace("structured", "structured AOGM") if a.loss == "aogm" else name
        t0 = time.time()
        costs, history = learn_structured(program, truth, gain, dims,
                                          iterations=a.iterations,
                                          solve_seconds=a.solve_seconds, bundle=a.bundle)
        out[name] = costs.to_dict() | {"seconds": round(time.time() - t0),
                                       "iterations": history}
    a.out.write_text(json.dumps(out, indent=1))


def chosen_level(frames) -> int:
    """The index of the chosen threshold's level: the one whose candidates all lie 0 levels
    from it (the ``level_offset`` feature)."""
    fc = max(frames, key=lambda f: f.ids.size)
    offset = dict(zip(fc.ids.tolist(), fc.features[:, 4], strict=True))
    for k, level in enumerate(fc.levels):
        if all(offset[int(v) - 1] == 0 for v in np.unique(level[level > 0])):
            return k
    raise ValueError("no level has only candidates of offset 0")


def evaluate(a: argparse.Namespace) -> None:
    seq = open_ctc_dataset(a.dataset).sequence(a.sequence)
    gt = a.dataset / f"{seq.name}_GT"
    block = tuple(int(v) for v in a.block.split("-")) if a.block else None
    pred = predictor(a.run, seq)
    from ctc_unet.tracking.support import object_probability

    probs = [np.asarray(p, np.float32) for p in np.load(a.probabilities, mmap_mode="r")]
    with open(a.candidates, "rb") as f:
        cache = pickle.load(f)
    costs = {"hand-set": GraphCosts()}
    for path in a.costs:
        learned = json.loads(path.read_text())
        costs |= {k: GraphCosts.from_dict(v) for k, v in learned.items() if isinstance(v, dict)}
    wanted = set(a.only or ["today", *costs])
    costs = {k: v for k, v in costs.items() if k in wanted}

    def link(masks):
        return pred.link(masks, [object_probability(m, p) for m, p in zip(masks, probs,
                                                                          strict=True)])

    print(table_head("method", a.silver))
    if "today" in wanted:
        t0 = time.time()
        tracked, records = link([pred.instances(p) for p in probs])
        print(tracked_row("today", seq, gt, tracked, records, block, time.time() - t0,
                          a.silver), flush=True)
    program = build_program(cache["frames"], cache["links"])
    for name, c in costs.items():
        sol = solve(cache["frames"], cache["links"], c, program=program)
        masks, records = assemble(cache["frames"], cache["links"], sol)
        print(tracked_row(f"program, {name} costs", seq, gt, masks, records, block,
                          cache["seconds"] + sol.seconds, a.silver), flush=True)
        tracked, records = link([m.astype(np.int32) for m in masks])
        print(tracked_row(f"program, {name} costs; its cells linked by today's tracker", seq,
                          gt, tracked, records, block, cache["seconds"] + sol.seconds,
                          a.silver), flush=True)
        if a.outlines:
            level = chosen_level(cache["frames"])
            drawn = [chosen_outlines(m, fc.levels[level])
                     for m, fc in zip(masks, cache["frames"], strict=True)]
            tracked, records = link([m.astype(np.int32) for m in drawn])
            print(tracked_row(f"program, {name} costs; the chosen threshold's outlines, "
                              "linked by today's tracker", seq, gt, tracked, records, block,
                              cache["seconds"] + sol.seconds, a.silver), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="step", required=True)
    s = sub.add_parser("probabilities", help="cache a run's probabilities of a sequence")
    s.add_argument("run", type=Path)
    s.add_argument("dataset", type=Path)
    s.add_argument("sequence")
    s.add_argument("out", type=Path)
    s.set_defaults(go=cache_probabilities)
    s = sub.add_parser("candidates", help="cache every frame's candidates and their links")
    s.add_argument("run", type=Path)
    s.add_argument("probabilities", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--spread", default=SPREAD, help="threshold shifts, comma-separated")
    s.set_defaults(go=cache_candidates)
    s = sub.add_parser("learn", help="learn the program's costs on annotated frames")
    s.add_argument("run", type=Path)
    s.add_argument("dataset", type=Path)
    s.add_argument("sequence")
    s.add_argument("candidates", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--last", type=int, required=True, help="learn on frames 0..LAST")
    s.add_argument("--iterations", type=int, default=30, help="bundle method iterations")
    s.add_argument("--solve-seconds", type=float, default=60.0,
                   help="time limit of each loss-augmented solve")
    s.add_argument("--structured", type=int, nargs="*", choices=(11, 12), default=[11, 12],
                   help="structured learning of 11 weights, and of 12 (+ the level offset)")
    s.add_argument("--bundle", choices=("structsvm", "scipy"), default="structsvm",
                   help="the bundle method: structsvm's (its QP by SCIP) or one whose QP "
                   "scipy solves")
    s.add_argument("--loss", choices=("hamming", "aogm"), default="hamming",
                   help="the structured loss: Hamming distance to the annotated solution, or "
                   "its AOGM (the challenge's weights: a missed cell 10, a false one 1, ...)")
    s.set_defaults(go=learn)
    s = sub.add_parser("evaluate", help="today vs the program, scored on a block")
    s.add_argument("run", type=Path)
    s.add_argument("dataset", type=Path)
    s.add_argument("sequence")
    s.add_argument("probabilities", type=Path)
    s.add_argument("candidates", type=Path)
    s.add_argument("--block", help="FIRST-LAST frames scored (default: all)")
    s.add_argument("--costs", type=Path, nargs="*", default=[], help="files of `learn`")
    s.add_argument("--silver", action="store_true",
                   help="also SEG against the silver truth (XX_ST) where the dataset has it")
    s.add_argument("--outlines", action="store_true",
                   help="also each program's cells drawn with the chosen threshold's outlines")
    s.add_argument("--only", nargs="*", help="rows to run: today, hand-set, or a learned "
                   "file's name (marginal, structured, structured + level); default: all")
    s.set_defaults(go=evaluate)
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("structsvm").setLevel(logging.INFO)
    a.go(a)


if __name__ == "__main__":
    main()
