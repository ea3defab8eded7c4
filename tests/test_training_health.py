"""Training health (issue 13): diagnostics in metrics.jsonl, a collapsed run stops with one
clear line, Adam's betas are its own, and the paper's SGD (momentum 0.99) learns."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import ConfigError, TrainConfig, load_config
from ctc_unet.model.unet import UNet
from ctc_unet.rundir import RunDir, load_checkpoint
from ctc_unet.training.loop import train
from ctc_unet.training.loss import weighted_cross_entropy
from ctc_unet.training.samples import TrainingSamples
from ctc_unet.training.schedule import make_optimizer
from ctc_unet.training.split import load_frames

SMALL = {"model": {"base_channels": 8, "depth": 3},
         "train": {"tile_size": 172, "log_every": 10, "val_every": 10, "checkpoint_every": 10,
                   "num_workers": 0, "optimizer": "sgd", "momentum": 0.99,
                   "lr_schedule": "constant", "warmup_iterations": 0, "grad_clip": 0.0,
                   "head_init": "he"}}


def _config(path, **train) -> str:
    data = {"model": SMALL["model"], "train": {**SMALL["train"], **train}}
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_collapsed_run_stops_with_one_line_and_keeps_its_best_checkpoint(synthetic_root,
                                                                         tmp_path):
    run = RunDir(tmp_path / "run")
    result = CliRunner().invoke(app, [
        "train", str(synthetic_root), "--run-dir", str(run.root), "--device", "cpu",
        "--config", _config(tmp_path / "c.yaml", lr=0.1, iterations=200)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "collapsed" in errors[0] and "train.lr" in errors[0]
    assert "Traceback" not in result.output
    assert load_checkpoint(run.best)["iteration"] < 200
    assert json.loads(run.status.read_text())["status"] == "failed"
    assert any(r.get("collapsed") for r in run.read_metrics())


def test_diagnostics_are_recorded(synthetic_root, tmp_path):
    run = RunDir(tmp_path / "run")
    result = CliRunner().invoke(app, [
        "train", str(synthetic_root), "--run-dir", str(run.root), "--device", "cpu",
        "--config", _config(tmp_path / "c.yaml", lr=0.001, iterations=20,
                            diagnostics_first=10)])
    assert result.exit_code == 0, result.output
    diag = [r for r in run.read_metrics() if r["kind"] == "diag"]
    assert [r["iteration"] for r in diag] == [10, 20]
    assert set(diag[0]["dead"]) == {"down1", "down2", "down3", "bottom", "up1", "up2", "up3"}
    assert all(0.0 <= v <= 1.0 for v in diag[0]["dead"].values())
    # 18 convolutions at depth 3: 2 per block (7 blocks), 3 up-convolutions, the 1x1 head
    assert len(diag[0]["update_ratio"]) == 18 and 0 < diag[0]["update_ratio_max"] < 1


def test_adam_has_its_own_betas_and_momentum_is_sgds():
    model = UNet(1, 2, 4, 2)
    opt, _ = make_optimizer(model, TrainConfig(optimizer="adam", momentum=0.5,
                                               adam_betas=(0.8, 0.99)))
    assert opt.param_groups[0]["betas"] == (0.8, 0.99)
    opt, _ = make_optimizer(model, TrainConfig(optimizer="sgd", momentum=0.99))
    assert opt.param_groups[0]["momentum"] == 0.99
    with pytest.raises(ConfigError, match="adam_betas"):
        load_config(None, overrides={"train": {"adam_betas": [0.9, 1.5]}})


def test_sum_loss_is_the_mean_times_the_pixels():
    logits, target = torch.randn(1, 2, 6, 7), torch.randint(0, 2, (1, 6, 7))
    w = torch.rand(1, 6, 7)
    assert float(weighted_cross_entropy(logits, target, w, "sum")) == pytest.approx(
        42 * float(weighted_cross_entropy(logits, target, w)))


def _eval(model: UNet, samples: TrainingSamples, indices: range) -> tuple[float, float, float]:
    """Mean loss, loss of the constant 50/50 output (ln 2 x the mean weight) and the mean
    spread of the cell probability, over the samples ``indices``."""
    model.eval()
    losses, constant, spread = [], [], []
    with torch.no_grad():
        for i in indices:
            s = samples[i]
            logits = model(s["image"][None])
            losses.append(float(weighted_cross_entropy(logits, s["target"][None],
                                                       s["weight"][None])))
            constant.append(math.log(2.0) * float(s["weight"].mean()))
            spread.append(float(torch.softmax(logits, 1)[0, 1].std()))
    return float(np.mean(losses)), float(np.mean(constant)), float(np.mean(spread))


def test_the_papers_sgd_with_momentum_099_learns(synthetic_root, tmp_path):
    """SGD, momentum 0.99, batch 1, with the repair (warm-up, clipping, Glorot output layer):
    the loss ends clearly below that of the constant 50/50 output, which is not reached."""
    cfg = load_config(None, overrides={"model": SMALL["model"], "train": {
        **SMALL["train"], "lr": 0.01, "iterations": 300, "warmup_iterations": 50,
        "grad_clip": 1.0, "head_init": "xavier", "val_every": 300, "deterministic": True}})
    run = RunDir(tmp_path / "run")
    result = train(synthetic_root, run, cfg, "cpu")
    assert result.status == "finished"
    _, frames, _ = load_frames(synthetic_root, cfg)
    samples = TrainingSamples(frames, cfg)
    model = UNet(1, 2, 8, 3, 0.5)
    model.load_state_dict(load_checkpoint(run.last)["model"])
    loss, constant, spread = _eval(model, samples, range(10**6, 10**6 + 16))
    assert loss < 0.8 * constant, (loss, constant)
    assert spread > 10 * cfg.train.collapse_std
