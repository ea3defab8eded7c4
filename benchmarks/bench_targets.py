"""Benchmark of the training-target and augmentation path (issue 3).

    python benchmarks/bench_targets.py [--repeats 5] [--threads 1]

Reports, on one CPU thread by default:
- the weight map (eq. 2) for a 512x512 frame with 20 cells and with 500 cells, with the
  per-cell bounding-box implementation and, for reference, one full-image distance transform
  per cell;
- drawing one augmented 572x572 training sample (elastic deformation, rotation, flip, gray
  values; 388x388 target and weights) from a 512x512 frame.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
from scipy import ndimage as ndi
from timing import best_seconds  # benchmarks/timing.py

from ctc_unet.config import load_config
from ctc_unet.model.geometry import output_size
from ctc_unet.targets.borders import separation_borders
from ctc_unet.targets.cache import make_targets
from ctc_unet.targets.weights import class_weights
from ctc_unet.training.augment import make_augmentation, sample_seed


def cells(n: int, size: int = 512, seed: int = 0) -> np.ndarray:
    """``n`` touching cells: Voronoi regions of random seeds, cut to a radius that makes
    neighbours touch; (size, size) int32 labels."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros((size, size), np.int32)
    pts = rng.choice(size * size, n, replace=False)
    seeds.flat[pts] = np.arange(1, n + 1)
    dist, (iy, ix) = ndi.distance_transform_edt(seeds == 0, return_indices=True)
    radius = 0.6 * size / np.sqrt(n)
    return np.where(dist < radius, seeds[iy, ix], 0).astype(np.int32)


def naive_weight_map(labels: np.ndarray, w0: float = 10.0, sigma: float = 5.0) -> np.ndarray:
    """Reference: one full-image EDT per cell (what the fast version avoids)."""
    border = separation_borders(labels, 2)
    inner = np.where(border, 0, labels)
    target = (inner > 0).astype(np.uint8)
    d1 = np.full(labels.shape, np.inf)
    d2 = np.full(labels.shape, np.inf)
    for i in np.unique(inner)[1:]:
        d = ndi.distance_transform_edt(inner != i)
        d2 = np.minimum(d2, np.maximum(d1, d))
        d1 = np.minimum(d1, d)
    term = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    return class_weights(target)[target] + np.where(target == 0, term, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config("DIC-C2DH-HeLa")
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s), best of {args.repeats}")
    print("| what | ms |")
    print("| --- | ---: |")
    for n in (20, 500):
        lab = cells(n)
        fast = best_seconds(lambda lab=lab: make_targets(lab, cfg.targets), args.repeats)
        naive = best_seconds(lambda lab=lab: naive_weight_map(lab), max(1, args.repeats // 5))
        print(f"| targets + weight map, 512x512, {n} cells (per-cell boxes) | {fast * 1e3:.1f} |")
        print(f"| weight map, 512x512, {n} cells (full EDT per cell, reference) "
              f"| {naive * 1e3:.1f} |")
    lab = cells(20)
    target, weights = make_targets(lab, cfg.targets)
    image = np.random.default_rng(0).random((1, 512, 512), dtype=np.float32)
    aug = make_augmentation(cfg.augment, 572, output_size(572), seed=0)
    data = {"image": image, "label": target[None].astype(np.float32), "weight": weights[None]}
    k = iter(range(10**9))

    def one_sample() -> None:
        aug.set_random_state(seed=sample_seed(0, next(k)))
        aug(data)

    n = 50
    per = best_seconds(lambda: [one_sample() for _ in range(n)], max(1, args.repeats // 2)) / n
    print(f"| augmented 572x572 sample (+388x388 target, weights) | {per * 1e3:.1f} |")


if __name__ == "__main__":
    main()
