"""Timing helpers shared by the benchmark scripts: wall time of a call (after a warm-up, the
device synchronized), and the rate of a plain matmul, measured beside each figure because
this machine's speed drifts (figures are quoted as ratios to it)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def sync(device: torch.device | None) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously)."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def times(fn: Callable[[], object], repeats: int, device: torch.device | None = None
          ) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn``, after one untimed warm-up call."""
    fn()
    sync(device)
    out = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t0)
    return out


def best_seconds(fn: Callable[[], object], repeats: int,
                 device: torch.device | None = None) -> float:
    """The fastest of ``repeats`` timed calls: the least disturbed by other work."""
    return min(times(fn, repeats, device))


def median_seconds(fn: Callable[[], object], repeats: int,
                   device: torch.device | None = None) -> float:
    """The median of ``repeats`` timed calls."""
    return statistics.median(times(fn, repeats, device))


def matmul_gflops(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048,
                  repeats: int = 5) -> float:
    """GFLOP/s of an n x n matmul (median of ``repeats``)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats, device) / 1e9
