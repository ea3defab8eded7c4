"""Training: loss goes down, exact resume, the run directory, DDP on CPU, signals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import TrainConfig, load_config
from ctc_unet.model.unet import UNet
from ctc_unet.rundir import RunDir, load_checkpoint
from ctc_unet.training import loop as trainer_mod
from ctc_unet.training.loop import train
from ctc_unet.training.loss import weighted_cross_entropy
from ctc_unet.training.samples import TrainingSamples
from ctc_unet.training.schedule import lr_factor
from ctc_unet.training.split import load_frames

TINY = {"model": {"base_channels": 8, "depth": 3},
        "train": {"tile_size": 172, "iterations": 30, "lr": 0.01, "log_every": 5,
                  "lr_schedule": "constant", "warmup_iterations": 0, "grad_clip": 0.0,
                  "head_init": "he",
                  "val_every": 15, "checkpoint_every": 10, "num_workers": 0,
                  "deterministic": True}}


def tiny(**train) -> dict:
    # GT+ST: the validation protocol leaves frames 0-3 of 01 to train on (only 1 has GT)
    return {"targets": {"source": "GT+ST"}, "model": TINY["model"],
            "train": {**TINY["train"], **train}}


def eval_loss(model: UNet, samples: TrainingSamples, indices: range) -> float:
    model.eval()
    with torch.no_grad():
        losses = []
        for i in indices:
            s = samples[i]
            losses.append(float(weighted_cross_entropy(model(s["image"][None]),
                                                       s["target"][None], s["weight"][None])))
    model.train()
    return float(np.mean(losses))


def test_sixty_iterations_lower_the_loss(synthetic_root, tmp_path):
    cfg = load_config(None, overrides=tiny(lr=0.03, iterations=60))
    run = RunDir(tmp_path / "run")
    _, frames, _ = load_frames(synthetic_root, cfg)
    samples = TrainingSamples(frames, cfg)
    torch.manual_seed(cfg.train.seed)
    before_model = UNet(1, 2, 8, 3, 0.5)  # the same initial weights as the trainer's
    before = eval_loss(before_model, samples, range(10**6, 10**6 + 12))
    result = train(synthetic_root, run, cfg, "cpu")
    after_model = UNet(1, 2, 8, 3, 0.5)
    after_model.load_state_dict(load_checkpoint(run.last)["model"])
    after = eval_loss(after_model, samples, range(10**6, 10**6 + 12))
    assert result.status == "finished" and result.iteration == 60
    assert after < 0.9 * before, (before, after)


def test_run_directory_describes_itself(synthetic_root, tmp_path):
    run = RunDir(tmp_path / "run")
    result = CliRunner().invoke(app, ["train", str(synthetic_root), "--run-dir", str(run.root),
                                      "--iterations", "12", "--device", "cpu", "--config",
                                      str(_tiny_yaml(tmp_path)), "--seed", "3"])
    assert result.exit_code == 0, result.output
    for path in (run.config, run.split, run.last, run.best, run.metrics, run.log, run.curves):
        assert path.is_file(), path
    assert run.load_config().train.seed == 3
    assert "split: train 01 0-3 (4); choose 01 8-9 (2); report 02 0-9 (10); sequence(s) 02 " \
        "reported whole" in run.log.read_text()
    state = load_checkpoint(run.last)  # weights_only=True
    assert state["iteration"] == 12 and "model" in state and "optimizer" in state
    cfg = run.load_config()
    assert cfg.model.base_channels == 8 and cfg.train.iterations == 12
    records = run.read_metrics()
    assert any(r["kind"] == "val" and "val_seg" in r for r in records)
    assert [r["iteration"] for r in records if r["kind"] == "train"] == [5, 10, 12]
    assert "validation at 12" in run.log.read_text()
    # a second plain train into the same run dir is refused; --resume continues it
    again = CliRunner().invoke(app, ["train", str(synthetic_root), "--run-dir", str(run.root),
                                     "--device", "cpu"])
    assert again.exit_code == 1 and "--resume" in again.stderr
    more = CliRunner().invoke(app, ["train", str(synthetic_root), "--run-dir", str(run.root),
                                    "--device", "cpu", "--resume", "--iterations", "14"])
    assert more.exit_code == 0, more.output
    assert load_checkpoint(run.last)["iteration"] == 14


def _tiny_yaml(tmp_path: Path, **train) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny(**train)))
    return path


@pytest.mark.parametrize("fast", [{}, {"amp": "bf16", "channels_last": True},
                                  {"ema_decay": 0.9}],
                         ids=["fp32", "bf16-channels-last", "weight-average"])
def test_resume_equals_uninterrupted(synthetic_root, tmp_path, monkeypatch, fast):
    cfg = load_config(None, overrides=tiny(iterations=10, val_every=4, checkpoint_every=100,
                                           **fast))
    full_run = RunDir(tmp_path / "full")
    full = train(synthetic_root, full_run, cfg, "cpu")
    env = [r for r in full_run.read_metrics() if r["kind"] == "env"]
    assert [r["precision"] for r in env] == ["bfloat16" if "amp" in fast else "float32"]
    assert env[0]["device"] == "cpu" and env[0]["cores"] >= 1

    calls = {"n": 0}
    real_loss = trainer_mod.weighted_cross_entropy

    def loss_then_signal(*args):
        calls["n"] += 1
        if calls["n"] == 6:  # SIGTERM arrives during iteration 6
            signal.raise_signal(signal.SIGTERM)
        return real_loss(*args)

    monkeypatch.setattr(trainer_mod, "weighted_cross_entropy", loss_then_signal)
    part_run = RunDir(tmp_path / "part")
    part = train(synthetic_root, part_run, cfg, "cpu")
    assert part.status == "interrupted" and part.iteration == 6
    assert load_checkpoint(part_run.last)["iteration"] == 6
    monkeypatch.setattr(trainer_mod, "weighted_cross_entropy", real_loss)
    resumed = train(synthetic_root, part_run, cfg, "cpu", resume=True)
    assert resumed.status == "finished" and resumed.iteration == 10
    assert resumed.weights_checksum == full.weights_checksum
    saved = [load_checkpoint(r.last) for r in (full_run, part_run)]
    for key in ("model", "trained") if fast.get("ema_decay") else ("model",):
        assert all(torch.equal(v, saved[1][key][k]) for k, v in saved[0][key].items()), key
    assert [r["iteration"] for r in part_run.read_metrics() if r["kind"] == "env"] == [0, 6]
    plain = UNet(1, 2, 8, 3)  # a channels-last checkpoint loads into a plain network
    plain.load_state_dict(load_checkpoint(part_run.last)["model"])


def test_mixed_precision_choice():
    from ctc_unet.device import autocast_dtype, native_bf16

    cpu = torch.device("cpu")
    assert autocast_dtype("none", cpu) is None
    assert autocast_dtype("bf16", cpu) == torch.bfloat16
    assert autocast_dtype("fp16", cpu) is None  # needs CUDA's loss scaler
    assert autocast_dtype("auto", cpu) == (torch.bfloat16 if native_bf16(cpu) else None)


def test_lr_schedules():
    tc = TrainConfig(iterations=100, lr_schedule="poly", lr_power=1.0, warmup_iterations=10)
    assert lr_factor(tc, 0) == pytest.approx(0.1) and lr_factor(tc, 50) == pytest.approx(0.5)
    no_warmup = {"warmup_iterations": 0}  # the defaults warm up over 500 iterations
    assert lr_factor(TrainConfig(lr_schedule="step", lr_step=10, lr_gamma=0.5, **no_warmup),
                     25) == 0.25
    assert lr_factor(TrainConfig(iterations=100, lr_schedule="cosine", **no_warmup),
                     100) == pytest.approx(0)
    assert lr_factor(TrainConfig(lr_schedule="constant", **no_warmup), 12345) == 1.0


def test_cli_train_errors(synthetic_root, tmp_path):
    runner = CliRunner()
    for args, msg in [
        (["--profile", "gpu-monster"], "unknown profile"),
        (["--device", "cuda:0"], "CUDA is not available"),
        (["--config", str(_tiny_yaml(tmp_path, tile_size=170))], "tile size 170"),
    ]:
        result = runner.invoke(app, ["train", str(synthetic_root), "--run-dir",
                                     str(tmp_path / "r"), *args])
        assert result.exit_code == 1, result.output
        assert msg in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["train", "DIC-Hela3", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "unknown dataset" in result.stderr


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ctc_unet", *args]


def test_torchrun_two_cpu_processes_agree(synthetic_root, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(29500 + os.getpid() % 1000), "-m", "ctc_unet", "train",
           str(synthetic_root), "--run-dir", str(run), "--device", "cpu", "--iterations", "4",
           "--config", str(_tiny_yaml(tmp_path, val_every=4))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "all 2 ranks hold identical weights" in proc.stderr
    assert load_checkpoint(run / "checkpoint_last.pt")["iteration"] == 4


def test_sigterm_checkpoints_and_resume_finishes(synthetic_root, tmp_path):
    run = RunDir(tmp_path / "sig")
    cfg = _tiny_yaml(tmp_path, iterations=100000, checkpoint_every=5, val_every=100000)
    proc = subprocess.Popen(_cli("train", str(synthetic_root), "--run-dir", str(run.root),
                                 "--device", "cpu", "--config", str(cfg)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not run.last.is_file() and time.time() < deadline:
        time.sleep(0.2)
    assert run.last.is_file()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "received SIGTERM" in err and "CHECKPOINTED on SIGTERM" in err and "--resume" in err
    assert "\x1b[" not in out + err  # plain lines, no escape codes, when not at a terminal
    stopped = load_checkpoint(run.last)["iteration"]
    assert 5 <= stopped < 100000
    status = json.loads(run.status.read_text())
    assert status["status"] == "interrupted" and status["iteration"] == stopped
    log = run.log.read_text()
    assert "received SIGTERM" in log and re.search(r"it 5/100000 loss [0-9.]+ lr", log)
    done = subprocess.run(_cli("train", str(synthetic_root), "--run-dir", str(run.root),
                               "--device", "cpu", "--resume", "--iterations",
                               str(stopped + 3)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert load_checkpoint(run.last)["iteration"] == stopped + 3
    assert json.loads(run.status.read_text())["status"] == "finished"
    assert f"finished: {stopped + 3}/{stopped + 3} iterations, 3 this call" in done.stderr


def test_adam_option_trains_and_resumes(synthetic_root, tmp_path):
    cfg = load_config(None, overrides=tiny(iterations=6, optimizer="adam", lr=0.001,
                                           momentum=0.9, lr_schedule="poly", val_every=6))
    run = RunDir(tmp_path / "adam")
    result = train(synthetic_root, run, cfg, "cpu")
    state = load_checkpoint(run.last)
    assert result.status == "finished"
    assert "exp_avg" in next(iter(state["optimizer"]["state"].values()))  # Adam's moments


def test_three_class_network_trains_and_predicts(synthetic_root, tmp_path):
    """model.n_classes 3 (background / cell / separation border): the head has 3 outputs, the
    run trains with 3-class targets, and predict turns its cell channel into instances."""
    from ctc_unet.inference.predictor import Predictor

    cfg = load_config(None, overrides={**tiny(iterations=6, val_every=6),
                                       "model": {**TINY["model"], "n_classes": 3}})
    run = RunDir(tmp_path / "three")
    assert train(synthetic_root, run, cfg, "cpu").status == "finished"
    assert load_checkpoint(run.last)["model"]["head.weight"].shape[0] == 3
    pred = Predictor.from_run(run, torch.device("cpu"), (64, 80))
    prob = pred.probabilities(np.random.default_rng(0).random((64, 80)).astype(np.float32))
    assert prob.shape == (3, 64, 80) and np.allclose(prob.sum(0), 1.0, atol=1e-5)
    result = CliRunner().invoke(app, ["predict", str(run.root), "--data", str(synthetic_root),
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert list((run.root / "results").rglob("mask*.tif"))


def test_sigterm_to_the_whole_job_with_a_loader_worker_exits(synthetic_root, tmp_path):
    """A batch system signals every process of the job: the main process and its DataLoader
    worker (which ignores the signal). Training must still checkpoint and exit, not wait for
    a worker that multiprocessing's exit handler cannot terminate."""
    run = RunDir(tmp_path / "job")
    cfg = _tiny_yaml(tmp_path, iterations=100000, checkpoint_every=5, val_every=100000,
                     num_workers=1)
    proc = subprocess.Popen(_cli("train", str(synthetic_root), "--run-dir", str(run.root),
                                 "--device", "cpu", "--config", str(cfg)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while not run.last.is_file() and time.time() < deadline:
        time.sleep(0.2)
    assert run.last.is_file()
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("train did not exit within 60 s of SIGTERM to its process group")
    assert proc.returncode == 0, err
    assert "CHECKPOINTED on SIGTERM" in err


def test_training_with_a_loader_worker_exits_when_done(synthetic_root, tmp_path):
    """With a DataLoader worker (which ignores SIGTERM), a finished run exits: the worker is
    stopped when the loop ends instead of being left to multiprocessing's exit handler."""
    run = RunDir(tmp_path / "done")
    cfg = _tiny_yaml(tmp_path, iterations=12, val_every=12, checkpoint_every=12, num_workers=1)
    proc = subprocess.Popen(_cli("train", str(synthetic_root), "--run-dir", str(run.root),
                                 "--device", "cpu", "--config", str(cfg)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("train did not exit within 240 s: " + json.dumps(
            json.loads(run.status.read_text()) if run.status.is_file() else {}))
    assert proc.returncode == 0, err
    assert json.loads(run.status.read_text())["status"] == "finished"


def test_weight_average_is_the_warmed_up_exponential_moving_average():
    from ctc_unet.training.averaging import make_average

    model = torch.nn.Linear(1, 1, bias=False)
    average = make_average(model, decay=0.5)
    assert make_average(model, decay=0.0) is None
    expected = None
    for n, value in enumerate([1.0, 3.0, 5.0, -2.0, 4.0]):
        model.weight.data.fill_(value)
        average.update_parameters(model)
        # the first update copies; after n updates the next decays by min(0.5, (1+n)/(10+n))
        d = min(0.5, (1 + n) / (10 + n))
        expected = value if expected is None else d * expected + (1 - d) * value
        assert float(average.module.weight) == pytest.approx(expected, abs=1e-5), n
    # by hand: 1; 2/11*1 + 9/11*3 = 2.6364; 3/12*2.6364 + 9/12*5 = 4.4091;
    # 4/13*4.4091 - 9/13*2 = -0.0280; 5/14*(-0.0280) + 9/14*4 = 2.5614
    assert float(average.module.weight) == pytest.approx(2.5614, abs=1e-3)
