"""Does averaging the probabilities of several runs (seeds of one recipe) beat each run alone?

Each run's cell probabilities (its own TTA and tiling, as ``predict`` computes them) on the
choosing and reporting frames of the first run's split; the members' mean is one more
"model". Every model chooses its post-processing on the choosing frames with the search that
training uses (OP_CSB, ctc_unet.postprocess.search) and is scored with that setting on the
reporting frames: SEG against the gold and the silver frames, DET against the TRA markers of
the reporting frames (array measures, as in the search; ``evaluate`` scores files with
py-ctcmetrics). What chose never reports: the choosing column decides. ``--bootstrap N``
resamples the choosing frames: how much of a choosing score is the luck of the frames.

    python benchmarks/ensemble.py --data ../shared/data/DIC-C2DH-HeLa runs/A runs/B
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ctc_unet.config import Config
from ctc_unet.data.ctc import CtcDataset, open_ctc_dataset
from ctc_unet.evaluation.det import det_measure
from ctc_unet.evaluation.seg import seg_measure
from ctc_unet.postprocess.instances import instances_from_probability
from ctc_unet.postprocess.search import RULE_KEYS, describe, search_postprocess
from ctc_unet.rundir import RunDir
from ctc_unet.targets.frames import AnnotatedFrame, FrameRef, load_frame
from ctc_unet.workflow.predict import load_predictor


def probabilities(run: RunDir, frames: list[AnnotatedFrame], dataset: CtcDataset, cache: Path
                  ) -> list[np.ndarray]:
    """(H, W) cell probability of each (raw) frame by the run's best checkpoint, as
    ``predict`` computes it; cached as .npy."""
    folder = cache / run.root.name
    folder.mkdir(parents=True, exist_ok=True)
    pred, out = None, []
    for f in frames:
        path = folder / f"{f.ref.sequence}_{f.ref.t:04d}.npy"
        if not path.is_file():
            pred = pred or load_predictor(run, torch.device("cpu"), f.image.shape[-2:])
            raw = dataset.sequences[f.ref.sequence].read_frame(f.ref.t)
            np.save(path, pred.probabilities(raw)[1].astype(np.float32))
        out.append(np.load(path))
    return out


def instances(setting: dict, probs: list[np.ndarray], cfg: Config) -> list[np.ndarray]:
    """(H, W) instance labels of each probability map with one post-processing setting."""
    keys = (*RULE_KEYS, "threshold", "min_size")  # what the search varies, not its scores
    post = replace(cfg.postprocess, **{k: setting[k] for k in keys})
    return [instances_from_probability(p, post, cfg.targets.border_width) for p in probs]


def score(preds: list[np.ndarray], frames: list[AnnotatedFrame]) -> dict:
    """SEG per reference source (GT, ST) and DET of the instances of the frames."""
    out = {}
    for source in ("GT", "ST"):
        idx = [i for i, f in enumerate(frames) if f.ref.source == source]
        if idx:
            out[f"SEG_{source}"] = seg_measure([frames[i].labels for i in idx],
                                               [preds[i] for i in idx])
    det = {f.ref.t: (f.markers, p) for f, p in zip(frames, preds, strict=True)}  # one per frame
    out["DET"] = det_measure([m for m, _ in det.values()], [p for _, p in det.values()])
    return out


def frame_bootstrap(preds: dict[str, list[np.ndarray]], frames: list[AnnotatedFrame],
                    reps: int, seed: int = 0) -> tuple[dict[str, float], dict[str, float]]:
    """How much of a choosing score is the luck of which frames choose: the standard deviation
    of each model's OP_CSB over ``reps`` resamplings of the frames (with replacement), and of
    the difference between each model and the first, on the same resampled frames."""
    rng = np.random.default_rng(seed)
    names = list(preds)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(reps):
        idx = rng.integers(0, len(frames), len(frames))
        refs, markers = [frames[i].labels for i in idx], [frames[i].markers for i in idx]
        for n in names:
            picked = [preds[n][i] for i in idx]  # OP_CSB as the search computes it
            samples[n].append((seg_measure(refs, picked) + det_measure(markers, picked)) / 2)
    first = np.array(samples[names[0]])
    return ({n: float(np.std(v)) for n, v in samples.items()},
            {n: float(np.std(np.array(samples[n]) - first)) for n in names[1:]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--data", type=Path, required=True, help="the runs' dataset folder")
    parser.add_argument("--cache", type=Path, default=Path("runs/ensemble-cache"))
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="also resample the choosing frames N times: the spread of each "
                             "model's choosing score that comes from which frames choose")
    args = parser.parse_args()
    runs = [RunDir(r) for r in args.runs]
    cfg, split = runs[0].load_config(), runs[0].load_split()
    dataset = open_ctc_dataset(args.data)
    choose = [load_frame(dataset, r, cfg.targets, markers=True) for r in split.val]
    # the gold frames of the reporting block score SEG beside the silver truth of all of it
    refs = split.report + [FrameRef(r.sequence, r.t, "GT") for r in split.report
                           if r.source == "ST" and r.t in dataset.sequences[r.sequence].gt_seg]
    report = [load_frame(dataset, r, cfg.targets, markers=True) for r in refs]
    t0 = time.time()
    models = {r.root.name: (probabilities(r, choose, dataset, args.cache),
                            probabilities(r, report, dataset, args.cache)) for r in runs}
    models["mean of " + " + ".join(models)] = tuple(
        [np.mean(ps, axis=0) for ps in zip(*(m[i] for m in list(models.values())), strict=True)]
        for i in (0, 1))
    print(f"probabilities: {time.time() - t0:.0f} s; choosing {split.describe()}\n")
    print("| model | post-processing (chosen) | OP_CSB choosing | SEG (GT, reporting) "
          "| SEG (ST, reporting) | DET (reporting) |\n| --- | --- | --- | --- | --- | --- |")
    chosen_preds = {}
    for name, (pc, pr) in models.items():
        chosen = search_postprocess(pc, [f.labels for f in choose], cfg,
                                    [f.markers for f in choose])
        chosen_preds[name] = instances(chosen, pc, cfg)
        rep = score(instances(chosen, pr, cfg), report)
        seg = [f"{rep[k]:.4f}" if k in rep else "" for k in ("SEG_GT", "SEG_ST")]
        print(f"| {name} | {describe(chosen)}, p > {chosen['threshold']:g}, min "
              f"{chosen['min_size']} | {chosen['score']:.4f} | {' | '.join(seg)} | "
              f"{rep['DET']:.4f} |")
    if args.bootstrap:
        each, diff = frame_bootstrap(chosen_preds, choose, args.bootstrap)
        print(f"\nchoosing frames resampled {args.bootstrap} times: standard deviation of "
              "OP_CSB " + ", ".join(f"{n} {v:.4f}" for n, v in each.items())
              + "; of the difference from the first model "
              + ", ".join(f"{n} {v:.4f}" for n, v in diff.items()))


if __name__ == "__main__":
    main()
