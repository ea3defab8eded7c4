"""``train`` refits by itself (``train.refit``): where one annotated sequence trains, chooses
and reports and has masks on fewer than half its frames, the run's recipe is trained again on
every annotated frame into RUN/refit once the run has chosen; an interrupted refit resumes
with ``train --resume``, and the batch script requeues on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, TINY_OVERRIDES, write_isbi
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import load_config
from ctc_unet.data.synthetic import write_synthetic_dataset
from ctc_unet.errors import ConfigError
from ctc_unet.rundir import RunDir, load_checkpoint, pick_model
from ctc_unet.training import loop as trainer_mod
from ctc_unet.training.split import refit_reason

runner = CliRunner()
ITERATIONS = 20


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One annotated sequence of 20 frames, gold masks on 7 of them (1, 4, ..., 19)."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("lone") / "Lone", n_sequences=1,
                                   n_frames=20, size=96)


def _tiny(tmp_path: Path, **train) -> Path:
    """The tiny recipe with the default targets.source (GT): sparse masks."""
    over = {k: v for k, v in TINY_OVERRIDES.items() if k != "targets"}
    over["train"] = {**over["train"], "iterations": ITERATIONS, "val_every": ITERATIONS,
                     "checkpoint_every": ITERATIONS, **train}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(over))
    return path


def test_auto_refits_a_lone_sequence_with_sparse_masks_only(lone, synthetic_root, tmp_path):
    gt = load_config(None)
    assert refit_reason(lone, gt) == ("train.refit auto: sequence 01, the only one to train "
                                      "and none reported whole, has masks (GT) on 7 of its "
                                      "20 frames")
    # silver truth on every frame: dense, no refit (the refits on record lost DET there)
    assert refit_reason(lone, load_config(None, overrides={"targets": {"source": "GT+ST"}})) \
        is None
    assert refit_reason(synthetic_root, gt) is None  # sequence 02 reports whole
    alone = {"split": {"train_sequences": ["01"], "report_sequence": "none"}}
    assert "3 of its 10 frames" in refit_reason(synthetic_root, load_config(None, overrides=alone))
    assert refit_reason(lone, load_config(None, overrides={"train": {"refit": "never"}})) is None
    assert refit_reason(synthetic_root, load_config(
        None, overrides={"train": {"refit": "always"}})) == "train.refit: always"
    assert refit_reason(write_isbi(tmp_path / "isbi"), gt) is None  # every slice annotated
    with pytest.raises(ConfigError, match="refit"):
        load_config(None, overrides={"train": {"refit": "sometimes"}})


def test_train_refits_and_predict_uses_the_refit(lone, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(lone), "--config", str(_tiny(tmp_path)),
                                 "--run-dir", str(run), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(run)
    parent, refit = RunDir(run), RunDir(run / "refit")
    assert parent.load_config().train.refit == "auto"
    assert {r.t for r in parent.load_split().train} == {1, 4, 7}  # 12-16 report, 17-19 choose
    assert refit.load_status()["status"] == "finished"
    info = json.loads(refit.refit.read_text())
    assert info["parent_training_frames"] == 3 and info["training_frames"] == 7
    assert load_checkpoint(refit.last)["iteration"] == info["iterations"] == ITERATIONS
    assert ("learns from 3 of the 7 frames of sequence 01 with masks (GT); once it has "
            "chosen, train (train.refit) trains the same recipe on all 7") in result.stderr
    assert "has masks (GT) on 7 of its 20 frames: refitting" in result.stderr
    assert pick_model(parent, "auto").root == refit.root  # what predict, submit, export use


def test_an_interrupted_refit_resumes_without_training_the_run_again(lone, tmp_path,
                                                                     monkeypatch):
    run = tmp_path / "run"
    real_loss, calls = trainer_mod.weighted_cross_entropy, {"n": 0}

    def loss_then_signal(*args):
        calls["n"] += 1
        if calls["n"] == ITERATIONS + 5:  # the refit's fifth iteration
            signal.raise_signal(signal.SIGTERM)
        return real_loss(*args)

    monkeypatch.setattr(trainer_mod, "weighted_cross_entropy", loss_then_signal)
    args = ["train", str(lone), "--run-dir", str(run), "--device", "cpu"]
    result = runner.invoke(app, [*args, "--config", str(_tiny(tmp_path))])
    assert result.exit_code == 0, result.output
    assert (f"CHECKPOINTED (its refit, {run / 'refit'}) on SIGTERM at iteration "
            f"5/{ITERATIONS}; resume with: ctc-unet train {lone} --run-dir {run} --resume"
            ) in result.stderr
    parent, refit = RunDir(run), RunDir(run / "refit")
    assert parent.load_status()["status"] == "finished"
    assert refit.load_status()["status"] == "interrupted"
    assert pick_model(parent, "auto").root == parent.root  # an unfinished refit is left aside
    before = {p.name: p.read_bytes() for p in (parent.metrics, parent.last, parent.postprocess)}

    monkeypatch.setattr(trainer_mod, "weighted_cross_entropy", real_loss)
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(run)
    assert f"{run} has finished training" in result.stderr
    assert before == {p.name: p.read_bytes() for p in (parent.metrics, parent.last,
                                                       parent.postprocess)}
    assert refit.load_status()["status"] == "finished"
    assert "resuming at iteration 5 of 20" in refit.log.read_text()
    # a third call has nothing left to do
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0 and f"{refit.root} has finished already" in result.stderr


def test_the_option_overrides_the_config_and_is_recorded(lone, synthetic_root, tmp_path):
    sparse = tmp_path / "sparse"
    result = runner.invoke(app, ["train", str(lone), "--config", str(_tiny(tmp_path)),
                                 "--run-dir", str(sparse), "--device", "cpu", "--no-refit"])
    assert result.exit_code == 0, result.output
    assert not (sparse / "refit").exists()
    assert RunDir(sparse).load_config().train.refit == "never"
    assert "`ctc-unet refit RUN` trains the same recipe on all 7" in result.stderr
    two = tmp_path / "two"  # sequence 02 reports: auto would not refit
    result = runner.invoke(app, ["train", str(synthetic_root), "--config",
                                 str(_tiny(tmp_path, iterations=10, val_every=10,
                                           checkpoint_every=10)),
                                 "--run-dir", str(two), "--device", "cpu", "--refit"])
    assert result.exit_code == 0, result.output
    assert RunDir(two).load_config().train.refit == "always"
    assert RunDir(two / "refit").load_status()["status"] == "finished"
    assert json.loads((two / "refit" / "refit.json").read_text())["training_frames"] == 6


@pytest.mark.parametrize(("run_state", "refit_state", "args", "requeued"), [
    ("finished", "interrupted", "", True),
    ("finished", "finished", "", False),
    ("interrupted", None, "", True),
    ("finished", None, "", False),
    ("finished", "interrupted", "--no-refit", False),  # the refit was declined
])
def test_the_batch_script_requeues_an_interrupted_refit(tmp_path, run_state, refit_state,
                                                         args, requeued):
    stub, venv, runs = tmp_path / "stub", tmp_path / "venv", tmp_path / "runs"
    stub.mkdir()
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text(f'export PATH="{stub}:$PATH"\n')
    # a trainer that leaves the states of this case, and an scontrol that logs
    refit = "" if refit_state is None else (
        f'mkdir -p "$run/refit"; echo \'{{"status": "{refit_state}"}}\' > '
        '"$run/refit/status.json"\n')
    (stub / "ctc-unet").write_text(
        '#!/usr/bin/env bash\nwhile [ "$1" != --run-dir ]; do shift; done; run=$2\n'
        f'mkdir -p "$run"; echo \'{{"status": "{run_state}"}}\' > "$run/status.json"\n'
        + refit)
    (stub / "scontrol").write_text(f'#!/usr/bin/env bash\necho "$@" >> {tmp_path}/scontrol\n')
    for p in stub.iterdir():
        p.chmod(0o755)
    script = (REPO / "pipelines" / "train.sbatch").read_text().replace(
        "TRAIN_ARGS=(--device cuda)", f"TRAIN_ARGS=(--device cuda {args})")
    (tmp_path / "train.sbatch").write_text(script)
    env = {**os.environ, "VENV": str(venv), "RUNS": str(runs), "SLURM_ARRAY_TASK_ID": "1",
           "SLURM_ARRAY_JOB_ID": "77"}
    done = subprocess.run(["bash", str(tmp_path / "train.sbatch")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    log = tmp_path / "scontrol"
    assert (log.read_text().split() if log.is_file() else []) == (
        ["requeue", "77_1"] if requeued else [])
