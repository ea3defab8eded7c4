"""Benchmark of training speed (issue 4): seconds per iteration and the fraction of it spent
waiting for data, for the paper's network (64 channels, 572 px tiles) and the cpu profile.

    python benchmarks/bench_train.py [--data DATASET_DIR] [--device auto] [--iterations 6]

Without --data it trains on a generated 512x512 synthetic dataset. Each setup runs the real
trainer (data loader with its workers, augmentation, weighted loss, SGD) for a few iterations
with one log record per iteration; the first iterations are treated as warm-up.
"""

from __future__ import annotations

import argparse
import logging
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from ctc_unet.config import load_config
from ctc_unet.data.synthetic import write_synthetic_dataset
from ctc_unet.device import resolve_device
from ctc_unet.rundir import RunDir
from ctc_unet.training.loop import train

SETUPS = {"paper (64 ch, 572 tile)": None, "cpu profile (16 ch, 316 tile)": "cpu"}


def measure(root: Path, profile: str | None, device: str, iterations: int, warmup: int,
            workers: int | None) -> tuple[float, float]:
    train_over = {"iterations": iterations, "log_every": 1, "val_every": 10**9,
                  "checkpoint_every": 10**9}
    if workers is not None:
        train_over["num_workers"] = workers
    cfg = load_config(None, profile=profile, overrides={"train": train_over})
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(Path(tmp) / "run")
        train(root, run, cfg, device)
        records = [r for r in run.read_metrics() if r["kind"] == "train"]
    times = np.array([r["time"] for r in records])
    per_it = float(np.median(np.diff(times[warmup:])))
    return per_it, float(records[-1]["data_wait"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--only", choices=["paper", "cpu"], default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data or write_synthetic_dataset(Path(tmp) / "syn", size=512, n_frames=6)
        name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
        print(f"# {name}, torch {torch.__version__}, data {Path(root).name}")
        print("| setup | s / iteration | waiting for data |")
        print("| --- | ---: | ---: |")
        for label, profile in SETUPS.items():
            if args.only and (profile or "paper") != args.only:
                continue
            per_it, wait = measure(Path(root), profile, str(device), args.iterations,
                                   args.warmup, args.workers)
            print(f"| {label} | {per_it:.3f} | {100 * wait:.1f}% |")


if __name__ == "__main__":
    main()
