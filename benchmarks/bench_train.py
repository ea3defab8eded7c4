"""Benchmark of the training step (issue 26): where an iteration's time goes (data, forward,
backward, optimizer step, validation) and its FLOP rate against a float32 matmul measured in the
same run, for the cpu profile (16 channels, 316 px tiles) and the paper's network (64, 572).

    python benchmarks/bench_train.py [--data DATASET_DIR] [--device auto] [--repeats 5]
                                     [--only cpu|paper] [--rounds 3]

Without --data it trains on a generated 512x512 synthetic dataset. Every variant runs the real
pieces of the trainer (``TrainingSamples``, ``UNet``, ``weighted_cross_entropy``, the run's
optimizer with gradient clipping); the variants are measured in interleaved rounds (this
machine's speed drifts) and each figure is the median over rounds of per-round medians, with a
matmul measured at the start of every round. FLOPs per step (forward + backward) are counted
with ``torch.utils.flop_counter``. Variants:

- ``fp32``: float32, NCHW (the trainer before issue 26);
- ``fp32 channels-last``: ``train.channels_last: true``;
- ``bf16``: ``train.amp: bf16`` (autocast; the loss in float32);
- ``bf16 channels-last``: both (``train.amp: auto`` picks bf16 where the device computes it
  natively: CUDA, CPUs with AVX512-BF16 or AMX);
- ``... batch 2``: two tiles per step, time per tile.

The validation row times one ``validate`` call on the dataset's choosing frames (cpu profile).
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from timing import matmul_gflops, sync  # benchmarks/timing.py
from torch.utils.flop_counter import FlopCounterMode

from ctc_unet.config import Config, load_config
from ctc_unet.data.synthetic import write_synthetic_dataset
from ctc_unet.device import resolve_device
from ctc_unet.model.unet import UNet
from ctc_unet.training.loss import weighted_cross_entropy
from ctc_unet.training.samples import TrainingSamples
from ctc_unet.training.schedule import make_optimizer
from ctc_unet.training.split import load_frames
from ctc_unet.training.validation import validate

SETUPS = {"cpu": ("cpu profile (16 ch, 316 tile)", "cpu"),
          "paper": ("paper (64 ch, 572 tile)", None)}
VARIANTS = {  # label: (autocast dtype, channels-last, batch)
    "fp32": (None, False, 1),
    "fp32 channels-last": (None, True, 1),
    "bf16": (torch.bfloat16, False, 1),
    "bf16 channels-last": (torch.bfloat16, True, 1),
    "bf16 channels-last, batch 2": (torch.bfloat16, True, 2),
}
PHASES = ("data", "forward", "backward", "optimizer")


class Step:
    """One training step of a variant, timed by phase. ``run()`` returns seconds per phase."""

    def __init__(self, samples: TrainingSamples, cfg: Config, device: torch.device,
                 dtype: torch.dtype | None, channels_last: bool, batch: int) -> None:
        torch.manual_seed(0)
        self.model = UNet.from_config(cfg.model, cfg.train.head_init).to(device)
        if channels_last:
            self.model.use_channels_last()
        self.optimizer, _ = make_optimizer(self.model, cfg.train)
        self.samples, self.device, self.dtype, self.batch = samples, device, dtype, batch
        self.clip, self.reduction = cfg.train.grad_clip, cfg.train.loss_reduction
        self.index = 0

    def _batch(self) -> dict[str, torch.Tensor]:
        items = [self.samples[self.index + k] for k in range(self.batch)]
        self.index += self.batch
        return {k: torch.stack([it[k] for it in items]).to(self.device) for k in items[0]}

    def _loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            logits = self.model(batch["image"])
        return weighted_cross_entropy(logits.float(), batch["target"], batch["weight"],
                                      self.reduction)

    def run(self) -> dict[str, float]:
        marks = [time.perf_counter()]
        batch = self._batch()
        marks.append(time.perf_counter())
        loss = self._loss(batch)
        sync(self.device)
        marks.append(time.perf_counter())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        sync(self.device)
        marks.append(time.perf_counter())
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        sync(self.device)
        marks.append(time.perf_counter())
        return {p: marks[i + 1] - marks[i] for i, p in enumerate(PHASES)}

    def flops(self) -> float:
        """FLOPs of one step (forward + backward), per tile."""
        with FlopCounterMode(display=False) as counter:
            self._loss(self._batch()).backward()
        return counter.get_total_flops() / self.batch


def measure(steps: dict[str, Step], device: torch.device, rounds: int, repeats: int
            ) -> tuple[dict[str, dict[str, float]], list[float], list[float]]:
    """Interleaved rounds; per variant the median over rounds of each phase's per-round median
    (per tile), and the fp32 / bf16 matmul rates measured at the start of each round."""
    per: dict[str, list[dict[str, float]]] = {k: [] for k in steps}
    mm32, mm16 = [], []
    for step in steps.values():
        step.run()  # warm-up: oneDNN primitives, allocator
    for _ in range(rounds):
        mm32.append(matmul_gflops(device))
        mm16.append(matmul_gflops(device, torch.bfloat16))
        for label, step in steps.items():
            runs = [step.run() for _ in range(repeats)]
            per[label].append({p: statistics.median(r[p] for r in runs) / step.batch
                               for p in PHASES})
    return ({label: {p: statistics.median(r[p] for r in rs) for p in PHASES}
             for label, rs in per.items()}, mm32, mm16)


def validation_seconds(root: Path, cfg: Config, model: torch.nn.Module, device: torch.device
                       ) -> tuple[float, int]:
    """Seconds of one ``validate`` call on the choosing frames, and how many there are."""
    _, _, val_frames = load_frames(root, cfg, None)
    model.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        validate(model, val_frames, cfg, device)
    model.train()
    return time.perf_counter() - t0, len(val_frames)


def table(label: str, cfg: Config, times: dict[str, dict[str, float]], flops: float,
          mm32: list[float], mm16: list[float], val: tuple[float, int] | None,
          printer: Callable[[str], None] = print) -> None:
    peak = statistics.median(mm32)
    printer(f"\n## {label}: {flops / 1e9:.2f} GFLOP per tile (forward + backward); float32 "
            f"matmul {peak:.0f} GFLOP/s (median of {len(mm32)}, {min(mm32):.0f}-"
            f"{max(mm32):.0f}), bf16 matmul {statistics.median(mm16):.0f}\n")
    printer("| variant | data ms | forward ms | backward ms | optimizer ms | s / tile | "
            "GFLOP/s | / fp32 matmul | speed-up |")
    printer("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = sum(next(iter(times.values())).values())
    for variant, t in times.items():
        total = sum(t.values())
        compute = total - t["data"]
        printer(f"| {variant} | " + " | ".join(f"{1000 * t[p]:.1f}" for p in PHASES)
                + f" | {total:.3f} | {flops / compute / 1e9:.0f} | "
                f"{flops / compute / 1e9 / peak:.2f} | {base / total:.2f}x |")
    if val is not None:
        seconds, n = val
        every = cfg.train.val_every
        printer(f"\nvalidation: {seconds:.1f} s for {n} choosing frames, every {every} "
                f"iterations: {seconds / every * 1000:.1f} ms per iteration")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=sorted(SETUPS), default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data or write_synthetic_dataset(Path(tmp) / "syn", size=512, n_frames=8)
        name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"{platform.processor() or platform.machine()} CPU, "
                f"{torch.get_num_threads()} threads")
        print(f"# bench_train: {name}, torch {torch.__version__}, data {Path(root).name}")
        for key, (label, profile) in SETUPS.items():
            if args.only and key != args.only:
                continue
            cfg = load_config(None, profile=profile)
            _, train_frames, _ = load_frames(Path(root), cfg, None)
            samples = TrainingSamples(train_frames, cfg, None)
            steps = {v: Step(samples, cfg, device, *spec) for v, spec in VARIANTS.items()}
            flops = steps["fp32"].flops()
            repeats = args.repeats if key == "cpu" or device.type == "cuda" else 2
            times, mm32, mm16 = measure(steps, device, args.rounds, repeats)
            val = (validation_seconds(Path(root), cfg, steps["fp32"].model, device)
                   if key == "cpu" else None)
            table(label, cfg, times, flops, mm32, mm16, val)


if __name__ == "__main__":
    main()
