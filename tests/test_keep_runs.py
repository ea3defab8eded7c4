"""benchmarks/keep_runs.py: a run's record (no weights) regenerates the same results tables
as the run directory it was kept from."""

from __future__ import annotations

from pathlib import Path

from conftest import benchmark_module

import ctc_unet
from ctc_unet.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]


def test_record_regenerates_the_results_tables(run, synthetic_root, tmp_path):
    keep_runs, results_table = benchmark_module("keep_runs"), benchmark_module("results_table")
    dataset = RunDir(run).load_config().dataset  # where `evaluate --data DATASET` writes
    ctc_unet.evaluate(run, synthetic_root, frames="report", device="cpu",
                      out=run / "evaluation" / f"{dataset}-report")
    # the CLI's log (the fixture trained through the library, which configures no logging)
    (run / "train.log").write_text("2026-12-03 INFO ctc_unet.cli: command: ctc-unet train "
                                   f"{synthetic_root} --seed 0\n")
    record = keep_runs.keep(run, tmp_path / "records")

    assert record == tmp_path / "records" / run.name
    kept = {str(p.relative_to(record)) for p in record.rglob("*") if p.is_file()}
    assert {"config.yaml", "split.json", "metrics.jsonl", "train.log"} <= kept
    assert any(k.startswith("evaluation/") and k.endswith("evaluation.json") for k in kept)
    assert not any(k.endswith(".pt") or k.endswith(".png") for k in kept)

    for trials in (False, True):
        assert (results_table.tables([RunDir(record)], trials)
                == results_table.tables([RunDir(run)], trials))
    row = results_table.ctc_row(RunDir(record))
    assert row[0] == run.name and row[10] != ""  # the reporting frames' SEG came along
    assert results_table.trial_row(RunDir(record))[-1].startswith("`ctc-unet train")

    # kept again: replaced in place, nothing staged left beside it
    (run / "train.log").write_text((run / "train.log").read_text() + "again\n")
    keep_runs.keep(run, tmp_path / "records")
    assert (record / "train.log").read_text().endswith("again\n")
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == [run.name]
