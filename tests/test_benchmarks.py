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
                 if p.stem not in ("timing", "ceiling", "scoring"))  # the shared modules


def test_the_maintained_scripts_are_the_ones_kept():
    assert SCRIPTS == ["bench_candidates", "bench_inference", "bench_targets",
                       "bench_tracking", "bench_train", "choose_tracker", "gpu_check",
                       "keep_runs", "learned_divisions", "results_table", "sparse_dataset",
                       "track_support"]


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


def test_a_sparse_copy_keeps_every_kth_mask_and_every_marker(synthetic_root, tmp_path):
    sparse = benchmark_module("sparse_dataset")
    out = sparse.sparse_copy(synthetic_root, tmp_path / "Sparse", seg_every=2, silver=False)
    assert sorted(p.name for p in (out / "01_GT" / "SEG").iterdir()) == ["man_seg004.tif"]
    assert not (out / "01_ST").exists()
    assert len(list((out / "01_GT" / "TRA").glob("man_track0*.tif"))) == 10
    assert (out / "01_GT" / "TRA" / "man_track.txt").is_file()


def test_the_results_table_names_marker_frames_and_todays_trial_configs():
    from ctc_unet.targets.frames import FrameRef

    results = benchmark_module("results_table")
    refs = [FrameRef("01", t, "GT") for t in (0, 5)] + [FrameRef("01", t, "TRA") for t in (1, 2, 3)]
    assert results._frames(refs) == "GT 000, 005 (2); TRA markers only 001-003 (3)"
    old = "ctc-unet train DIC-HeLa --config configs/experiments/cpu-depth5.yaml"
    assert results._moved(old).endswith("--config benchmarks/experiments/cpu-depth5.yaml")
    here = "ctc-unet train GOWT1 --seed 1 --data-dir /lab/data --run-dir runs/x"
    assert results._moved(here) == "ctc-unet train GOWT1 --seed 1 --run-dir runs/x"
