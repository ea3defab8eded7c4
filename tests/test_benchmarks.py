"""The maintained benchmark scripts stay runnable: each answers --help (its imports and
arguments are sound), and the shared timing helpers count what they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import benchmark_module

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py")
                 if p.stem not in ("timing", "ceiling"))  # the two shared modules


def test_the_maintained_scripts_are_the_ones_kept():
    assert SCRIPTS == ["bench_inference", "bench_targets", "bench_tracking", "bench_train",
                       "choose_tracker", "gpu_check", "keep_runs", "results_table"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_script_answers_help(name):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage" in proc.stdout.lower()


def test_timing_counts_every_repeat_after_a_warm_up():
    timing = benchmark_module("timing")
    calls = []
    seconds = timing.times(lambda: calls.append(1), 5)
    assert len(seconds) == 5 and len(calls) == 6 and all(s >= 0 for s in seconds)
