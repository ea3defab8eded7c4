"""Refit (``ctc-unet refit``): the recipe of a finished run trained again on every annotated
frame; with --hold-out its reporting frames (and their gap) stay apart to score it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import load_config
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.data.synthetic import write_synthetic_dataset
from ctc_unet.rundir import RunDir, load_checkpoint
from ctc_unet.training.split import make_split, refit_split

runner = CliRunner()
GTST = {"targets": {"source": "GT+ST"}}


def test_hold_out_keeps_the_reporting_block_and_its_gap_apart(tmp_path):
    root = write_synthetic_dataset(tmp_path / "One", n_sequences=1, n_frames=40, size=64)
    cfg = load_config(None, overrides=GTST)
    parent = make_split(open_ctc_dataset(root), cfg)
    assert [r.t for r in parent.report] == list(range(24, 34))  # 34-39 choose, 20-23 gap
    assert sorted(r.t for r in parent.train) == list(range(20))
    held = refit_split(root, cfg, parent, hold_out=True)
    # 20-37: the reporting block 24-33 and 4 frames either side; 38-39 (choosing) join
    assert sorted(r.t for r in held.train) == [*range(20), 38, 39]
    assert held.val == [] and held.report == parent.report
    assert held.describe().startswith("train 01 0-19, 38-39 (22); choose ; report 01 24-33")
    full = refit_split(root, cfg, parent, hold_out=False)
    assert sorted(r.t for r in full.train) == list(range(40))
    assert full.val == [] and full.report == [] and full.report_sequences == []


def test_hold_out_of_a_dataset_with_two_sequences_keeps_the_reported_one_apart(synthetic_root):
    cfg = load_config(None, overrides=GTST)
    parent = make_split(open_ctc_dataset(synthetic_root), cfg)
    held = refit_split(synthetic_root, cfg, parent, hold_out=True)
    assert {(r.sequence, r.t) for r in held.train} == {("01", t) for t in range(10)}
    assert held.report_sequences == ["02"]
    full = refit_split(synthetic_root, cfg, parent, hold_out=False)
    assert {r.sequence for r in full.train} == {"01", "02"} and len(full.train) == 20


def test_a_sequence_left_out_of_the_protocol_stays_out_of_the_refit(synthetic_root):
    # one annotated sequence trains, chooses and reports; the other is the user's to score with
    cfg = load_config(None, overrides={**GTST, "split": {"train_sequences": ["01"],
                                                         "report_sequence": "none"}})
    parent = make_split(open_ctc_dataset(synthetic_root), cfg)
    assert parent.report and parent.report_sequences == []
    full = refit_split(synthetic_root, cfg, parent, hold_out=False)
    assert {(r.sequence, r.t) for r in full.train} == {("01", t) for t in range(10)}


def test_refit_trains_on_every_frame_and_predicts(run, synthetic_root, tmp_path):
    result = runner.invoke(app, ["refit", str(run), "--data", str(synthetic_root),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    refit = RunDir(run / "refit")
    assert result.output.strip().endswith(str(refit.root))
    split = refit.load_split()
    assert len(split.train) == 20 and split.val == [] and split.report == []
    parent_iteration = load_checkpoint(RunDir(run).best)["iteration"]
    assert load_checkpoint(refit.last)["iteration"] == parent_iteration
    assert refit.load_config().train.iterations == parent_iteration
    assert json.loads(refit.postprocess.read_text()) == json.loads(
        (run / "postprocess.json").read_text())
    info = json.loads((refit.root / "refit.json").read_text())
    assert info["training_frames"] == 20 and not info["hold_out"]
    assert {a.split(":")[0] for a in info["added"]} == {"01", "02"}
    result = runner.invoke(app, ["predict", str(refit.root), "--data", str(synthetic_root),
                                 "--sequence", "02", "--out", str(tmp_path / "p"),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "p" / "02_RES").glob("mask*.tif"))) == 10
    # the finished refit is now the run's default model; the protocol's stays reachable
    for model, home in (("auto", refit.root), ("protocol", run)):
        result = runner.invoke(app, ["predict", str(run), "--data", str(synthetic_root),
                                     "--sequence", "02", "--model", model, "--device", "cpu"])
        assert result.exit_code == 0, result.output
        res = Path(result.output.strip().splitlines()[-1])
        assert res.name == "02_RES" and res.parent.parent == home / "results"
    # an exported refit says whose choices and scores stand for it
    from ctc_unet.zoo.bioimageio import package_readme

    (run / "evaluation" / "x-report").mkdir(parents=True)
    (run / "evaluation" / "x-report" / "evaluation.json").write_text(
        json.dumps([{"sequence": "02", "block": "all", "SEG": 0.5}]))
    text = package_readme(refit, refit.load_config(), split.train[0], 0.0)
    assert f"chosen by run `{run.name}`" in text and "SEG 0.500" in text
    assert f"(ctc-unet run `{run.name}-refit`)" in text
    assert "trained on: sequence 01: 10 frames (0-9); sequence 02: 10 frames (0-9)" in text
    # nothing is left to score it on: one line, and the parent's scores stand for it
    result = runner.invoke(app, ["evaluate", str(refit.root), "--data", str(synthetic_root),
                                 "--frames", "report", "--device", "cpu"])
    assert result.exit_code != 0 and "refit on every annotated frame" in result.output
    # a refit of a refit is refused, and writes nothing
    result = runner.invoke(app, ["refit", str(refit.root), "--data", str(synthetic_root)])
    assert result.exit_code != 0 and "itself a refit" in result.output
    assert not (refit.root / "refit").exists()


def test_refit_with_hold_out_is_scored_on_the_parents_reporting_frames(run, synthetic_root,
                                                                        tmp_path):
    result = runner.invoke(app, ["refit", str(run), "--data", str(synthetic_root),
                                 "--hold-out", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    refit = RunDir(run / "refit-holdout")
    assert {r.sequence for r in refit.load_split().train} == {"01"}
    result = runner.invoke(app, ["evaluate", str(refit.root), "--data", str(synthetic_root),
                                 "--frames", "report", "--out", str(tmp_path / "ev"),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert [r["sequence"] for r in rows] == ["02"]


def test_refit_of_an_untrained_run_is_one_line_and_writes_nothing(run, synthetic_root):
    (run / "checkpoint_last.pt").unlink()
    (run / "checkpoint_best.pt").unlink()
    result = runner.invoke(app, ["refit", str(run), "--data", str(synthetic_root)])
    assert result.exit_code != 0 and "no checkpoint" in result.output
    assert not (run / "refit").exists()
