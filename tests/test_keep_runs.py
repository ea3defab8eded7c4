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


def test_a_full_refit_is_compared_on_a_sequence_that_neither_trained_on(run, tmp_path):
    import json
    import shutil

    from ctc_unet.rundir import Split
    from ctc_unet.targets.frames import FrameRef

    results_table = benchmark_module("results_table")
    parent, refit = tmp_path / "one-sequence", tmp_path / "one-sequence" / "refit"
    for folder, frames in ((parent, range(4)), (refit, range(10))):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "config.yaml", folder / "config.yaml")
        (folder / "split.json").write_text(
            Split([FrameRef("01", t, "GT") for t in frames], []).to_json())
        (folder / "metrics.jsonl").write_text("".join(
            json.dumps({"kind": "train", "iteration": i, "time": 60.0 * i}) + "\n"
            for i in (1, 2)))
    # refit.json names where the parent trained (here another run that exists on this
    # machine); a refit kept inside a run directory belongs to the run above it
    (refit / "refit.json").write_text(json.dumps({
        "parent": str(run), "hold_out": False, "iterations": 2,
        "parent_training_frames": 4, "training_frames": 10, "added": []}))
    dataset = RunDir(parent).load_config().dataset
    assert RunDir(refit).refit_parent().root == parent

    def scored(folder: Path, sequence: str, det: float) -> None:
        out = folder / "evaluation" / dataset  # where `evaluate RUN --frames all` writes
        out.mkdir(parents=True, exist_ok=True)
        (out / "evaluation.json").write_text(json.dumps(
            [{"sequence": sequence, "SEG": 0.8, "DET": det, "TRA": det}]))

    scored(parent, "02", 0.9)
    scored(refit, "02", 0.93)
    rows = results_table.refit_table([RunDir(refit)]).splitlines()[2:]
    assert len(rows) == 1 and "sequence 02 whole (trained on by neither)" in rows[0]
    assert "| 4 → 10 |" in rows[0] and "0.9000 → 0.9300 (+0.0300)" in rows[0]
    # it reports on no frames of its own: the tables of reported scores leave it out
    assert results_table.reporting([RunDir(parent), RunDir(refit)]) == [RunDir(parent)]
    # a sequence that one of them trained on scores neither
    scored(parent, "01", 0.95)
    scored(refit, "01", 0.99)
    assert results_table.refit_table([RunDir(refit)]).splitlines()[2:] == []
