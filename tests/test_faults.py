"""A corpus of bad inputs and faults, as a hostile user and a flaky cluster would produce them.

Each case asserts the same contract (README "Errors"): a non-zero exit, exactly one
``Error:`` line that names the offending file or key, no traceback, the output location as it
was before, and the inputs untouched.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml
from conftest import TINY_OVERRIDES, make_ctc_zip, result_folder
from typer.testing import CliRunner

from ctc_unet.cli.app import app


def snapshot(path: Path) -> dict[str, str]:
    """Every file and folder under ``path`` (or the file itself) with a digest of its bytes
    and its mode; {} when it does not exist."""
    path = Path(path)
    if not path.exists():
        return {"absent": ""}
    if path.is_file():
        return {".": hashlib.sha1(path.read_bytes()).hexdigest()}
    out = {}
    for p in sorted(path.rglob("*")):
        rel = str(p.relative_to(path))
        if p.name == ".lock":  # records who holds a run directory, not its content
            continue
        out[rel] = hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@dataclass
class Case:
    """What one bad input runs and what must stay as it was."""

    args: list[str]
    names: list[str]  # fragments the Error line must contain (file or key)
    inputs: list[Path] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    patch: Callable[[pytest.MonkeyPatch], None] | None = None


def invoke(case: Case, monkeypatch: pytest.MonkeyPatch):
    before_in = [snapshot(p) for p in case.inputs]
    before_out = [snapshot(p) for p in case.outputs]
    monkeypatch.setenv("CTC_UNET_DEBUG", "0")
    if case.patch is not None:
        case.patch(monkeypatch)
    result = CliRunner().invoke(app, case.args)
    monkeypatch.undo()
    return result, before_in, before_out


def check_contract(case: Case, result, before_in, before_out) -> None:
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    for name in case.names:
        assert name in errors[0], (name, errors[0])
    assert [snapshot(p) for p in case.inputs] == before_in, "an input changed"
    assert [snapshot(p) for p in case.outputs] == before_out, "the output location changed"


# --------------------------------------------------------------------------- building blocks


def train_args(data: Path, tmp_path: Path, cfg: dict | str | bytes) -> Case:
    """``train`` on ``data`` with a config file of ``cfg`` (a mapping merged over the tiny
    settings, or raw text/bytes); the run directory must not appear."""
    path = tmp_path / "bad.yaml"
    if isinstance(cfg, dict):
        merged = {k: {**TINY_OVERRIDES.get(k, {}), **v} for k, v in cfg.items()}
        for k, v in TINY_OVERRIDES.items():
            merged.setdefault(k, v)
        path.write_text(yaml.safe_dump(merged))
    elif isinstance(cfg, bytes):
        path.write_bytes(cfg)
    else:
        path.write_text(cfg)
    out = tmp_path / "runs" / "bad"
    return Case(["train", str(data), "--config", str(path), "--run-dir", str(out),
                 "--device", "cpu"], [str(path)], [data, path], [tmp_path / "runs"])


def disk_full_after(n: int, target: str = "tifffile.imwrite"):
    """A patch that lets ``n`` calls of ``target`` through, then raises ENOSPC."""
    def patch(mp: pytest.MonkeyPatch) -> None:
        module, name = target.rsplit(".", 1)
        import importlib

        mod = importlib.import_module(module)
        real = getattr(mod, name)
        calls = {"n": 0}

        def flaky(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > n:
                where = args[0] if args else "file"
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))
            return real(*args, **kwargs)

        mp.setattr(mod, name, flaky)
    return patch


# --------------------------------------------------------------------------- the corpus

CONFIG_CASES = {
    "val_every 0": ({"train": {"val_every": 0}}, "train.val_every"),
    "log_every 0": ({"train": {"log_every": 0}}, "train.log_every"),
    "checkpoint_every 0": ({"train": {"checkpoint_every": 0}}, "train.checkpoint_every"),
    "dropout 1.5": ({"model": {"dropout": 1.5}}, "model.dropout"),
    "n_classes 1": ({"model": {"n_classes": 1}}, "model.n_classes"),
    "base_channels 0": ({"model": {"base_channels": 0}}, "model.base_channels"),
    "depth 0": ({"model": {"depth": 0}}, "model.depth"),
    "in_channels 3": ({"model": {"in_channels": 3}}, "model.in_channels"),
    "elastic_grid 0": ({"augment": {"elastic_grid": 0}}, "augment.elastic_grid"),
    "lr 0": ({"train": {"lr": 0}}, "train.lr"),
    "sigma 0": ({"targets": {"sigma": 0}}, "targets.sigma"),
    "threshold 1.5": ({"postprocess": {"threshold": 1.5}}, "postprocess.threshold"),
    "range reversed": ({"augment": {"contrast_range": [1.25, 0.75]}}, "augment.contrast_range"),
    "tile invalid for depth": ({"train": {"tile_size": 170}}, "train.tile_size"),
    "inference tile invalid": ({"inference": {"tile_size": 171}}, "inference.tile_size"),
    "iterations a string": ({"train": {"iterations": "many"}}, "train.iterations"),
    "unknown key": ({"train": {"learning_rate": 0.1}}, "learning_rate"),
    "nan lr": ({"train": {"lr": float("nan")}}, "train.lr"),
    "binary garbage": (bytes(range(256)) * 8, "bad.yaml"),
    "self-referencing": ("train: &a\n  x: *a\n", "bad.yaml"),
    "billion laughs": ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
                       "c: [*b, *b, *b, *b, *b, *b, *b]\n", "bad.yaml"),
    "too large": ("# " + "x" * (2 << 20) + "\n", "bad.yaml"),
    "not a mapping": ("- 1\n- 2\n", "bad.yaml"),
}


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_bad_config_is_refused_before_anything_is_written(name, data, tmp_path, monkeypatch):
    cfg, key = CONFIG_CASES[name]
    case = train_args(data, tmp_path, cfg)
    case.names = [key]
    check_contract(case, *invoke(case, monkeypatch))
    assert not (tmp_path / "runs").exists()


def test_bad_config_is_refused_before_the_dataset_is_downloaded(server, tmp_path, monkeypatch):
    url, www, _ = server  # the mirror serves the dataset: only the order of checks stops it
    make_ctc_zip(www / "training-datasets" / "PhC-C2DH-U373.zip", "PhC-C2DH-U373")
    case = train_args(tmp_path / "data" / "PhC-C2DH-U373", tmp_path,
                      {"model": {"dropout": 1.5}})
    case.args[1:2] = ["PhC-U373", "--data-dir", str(tmp_path / "data")]
    case.names.append("model.dropout")
    case.outputs.append(tmp_path / "data")
    case.patch = lambda mp: mp.setenv("CTC_UNET_MIRROR", url)
    check_contract(case, *invoke(case, monkeypatch))
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()


def _write(path: Path, content: bytes | str) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])


def case_output_under_a_file(data, run, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(blocker / "out"), "--device", "cpu"], [str(blocker)], [data, run, blocker])


def case_run_dir_under_a_file(data, run, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_OVERRIDES))
    return Case(["train", str(data), "--config", str(cfg), "--run-dir", str(blocker / "r"),
                 "--device", "cpu"], [str(blocker)], [data, blocker])


def case_disk_full_predict(data, run, tmp_path):
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["No space left"], [data, run], [out],
                patch=disk_full_after(3))


def case_disk_full_probabilities(data, run, tmp_path):
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu", "--save-probabilities"], ["No space left"],
                [data, run], [out], patch=disk_full_after(4))


def case_disk_full_checkpoint(data, run, tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_OVERRIDES))
    return Case(["train", str(data), "--config", str(cfg), "--run-dir",
                 str(tmp_path / "runs" / "r"), "--device", "cpu"], ["No space left"],
                [data], [], patch=disk_full_after(0, "torch.save"))


def case_disk_full_track(data, run, tmp_path):
    out = tmp_path / "01_RES"
    return Case(["track", str(data / "01_ST" / "SEG"), "--out", str(out)], ["No space left"],
                [data], [out], patch=disk_full_after(2))


def case_unreadable_folder(data, run, tmp_path):
    def patch(mp):
        real = Path.iterdir

        def denied(self):
            if self.name == "01":
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real(self)
        mp.setattr(Path, "iterdir", denied)
    return Case(["inspect", str(data)], ["Permission denied", "01"], [data], [], patch=patch)


def case_binary_res_track(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    _write(res / "res_track.txt", bytes(range(256)))
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                ["res_track.txt"], [data, res], [res.parent / "evaluation"])


def case_truncated_result_mask(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    _truncate(res / "mask003.tif")
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                ["mask003.tif"], [data, res], [res.parent / "evaluation"])


def case_track_file_inconsistent(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    lines = (res / "res_track.txt").read_text().splitlines()
    (res / "res_track.txt").write_text("\n".join(lines[1:]) + "\n")  # a track without a line
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                ["res_track.txt"], [data, res], [res.parent / "evaluation"])


def case_track_file_wrong_frames(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    first = (res / "res_track.txt").read_text().splitlines()
    label, _, _, parent = first[0].split()
    first[0] = f"{label} 7 8 {parent}"  # the masks show it elsewhere
    (res / "res_track.txt").write_text("\n".join(first) + "\n")
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                ["res_track.txt"], [data, res], [res.parent / "evaluation"])


def case_inspect_truncated_frame(data, run, tmp_path):
    _truncate(data / "01" / "t004.tif")
    return Case(["inspect", str(data)], ["t004.tif"], [data], [])


def case_inspect_binary_man_track(data, run, tmp_path):
    _write(data / "01_GT" / "TRA" / "man_track.txt", bytes(range(256)) * 4)
    return Case(["inspect", str(data)], ["man_track.txt"], [data], [])


def _checkpoint_case(run, data, tmp_path, content) -> Case:
    for name in ("checkpoint_best.pt", "checkpoint_last.pt"):
        path = run / name
        if callable(content):
            content(path)
        else:
            _write(path, content)
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["checkpoint_"], [data, run], [out])


def case_checkpoint_random_bytes(data, run, tmp_path):
    return _checkpoint_case(run, data, tmp_path, os.urandom(4096))


def case_checkpoint_other_program(data, run, tmp_path):
    import torch
    return _checkpoint_case(run, data, tmp_path,
                            lambda p: torch.save({"state_dict": {"w": torch.ones(3)}}, p))


def case_checkpoint_other_architecture(data, run, tmp_path):
    import torch

    from ctc_unet.model.unet import UNet

    def other(p):
        state = torch.load(p, weights_only=True)
        state["model"] = UNet(1, 2, 8, 2).state_dict()
        torch.save(state, p)
    return _checkpoint_case(run, data, tmp_path, other)


def case_garbage_postprocess_json(data, run, tmp_path):
    _write(run / "postprocess.json", "{not json")
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["postprocess.json"], [data, run], [out])


def case_wrong_postprocess_json(data, run, tmp_path):
    _write(run / "postprocess.json", '{"threshold": "high", "min_size": -3}')
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["postprocess.json"], [data, run], [out])


def case_garbage_split_json(data, run, tmp_path):
    _write(run / "split.json", bytes(range(200)))
    return Case(["train", str(data), "--run-dir", str(run), "--resume", "--iterations", "30",
                 "--device", "cpu"], ["split.json"], [data, run], [])


def case_garbage_run_config(data, run, tmp_path):
    _write(run / "config.yaml", "train: [unclosed\n")
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["config.yaml"], [data, run], [out])


def _float_frame(data: Path, t: int, value: float) -> None:
    img = tifffile.imread(data / "01" / f"t{t:03d}.tif").astype(np.float32)
    img[10:20, 10:20] = value
    tifffile.imwrite(data / "01" / f"t{t:03d}.tif", img)


def case_nan_frame_predict(data, run, tmp_path):
    _float_frame(data, 5, np.nan)
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["t005.tif", "NaN"], [data, run], [out])


def case_inf_frame_train(data, run, tmp_path):
    _float_frame(data, 2, np.inf)  # a training frame (0-3 of 01 train)
    case = train_args(data, tmp_path, {})
    case.names = ["t002.tif", "inf"]
    return case


def case_frame_size_changes(data, run, tmp_path):
    img = tifffile.imread(data / "01" / "t006.tif")
    tifffile.imwrite(data / "01" / "t006.tif", img[:200, :220])
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["t006.tif", "(200, 220)"], [data, run], [out])


def case_rgb_frames(data, run, tmp_path):
    img = tifffile.imread(data / "01" / "t002.tif")
    tifffile.imwrite(data / "01" / "t002.tif", np.stack([img] * 3, axis=-1))
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["t002.tif"], [data, run], [out])


def case_device_mps(data, run, tmp_path):
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "mps"], ["mps"], [data, run], [out])


def case_device_cuda_missing(data, run, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cuda:0"], ["cuda"], [data, run], [out])


def case_evaluate_gt_missing(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    return Case(["evaluate", str(res.parent), "--gt", str(tmp_path / "nowhere")],
                ["nowhere"], [res], [res.parent / "evaluation"])


def case_track_masks_not_labels(data, run, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    for t in range(3):
        tifffile.imwrite(masks / f"mask{t:03d}.tif", np.full((32, 32), 0.5, np.float32))
    out = tmp_path / "01_RES"
    return Case(["track", str(masks), "--out", str(out)], ["mask000.tif"], [masks], [out])


def case_submit_bad_team(data, run, tmp_path):
    out = tmp_path / "subs"
    return Case(["submit", str(run), "--data", str(data), "--team", "../evil", "--out",
                 str(out), "--device", "cpu"], ["team"], [data, run], [out])


FAULT_CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


@pytest.mark.parametrize("name", list(FAULT_CASES))
def test_fault_gives_one_line_and_leaves_everything_as_it_was(name, data, run, tmp_path,
                                                              monkeypatch):
    case = FAULT_CASES[name](data, run, tmp_path)
    check_contract(case, *invoke(case, monkeypatch))
    litter = [p for p in tmp_path.rglob(".*") if p.name.endswith(".part") or ".tmp-" in p.name]
    assert not litter, litter


def test_the_corpus_is_large_enough():
    assert len(CONFIG_CASES) + len(FAULT_CASES) >= 30


# --------------------------------------------------------------------------- signals, kills


def _raise_signal_on_call(n: int, sig=None):
    """A wrapper factory: the n-th call of the wrapped function raises ``sig`` first."""
    import signal as signal_mod

    sig = sig or signal_mod.SIGTERM
    calls = {"n": 0}

    def wrap(real):
        def inner(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                signal_mod.raise_signal(sig)
            return real(*args, **kwargs)
        return inner
    return wrap


def test_sigterm_during_prediction_removes_everything_staged(data, run, tmp_path, monkeypatch):
    from ctc_unet.inference.predictor import Predictor

    out = tmp_path / "out"
    monkeypatch.setattr(Predictor, "instances", _raise_signal_on_call(4)(Predictor.instances))
    result = CliRunner().invoke(app, ["predict", str(run), "--data", str(data), "--sequence",
                                      "01", "--out", str(out), "--device", "cpu",
                                      "--save-probabilities"])
    assert result.exit_code == 143, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: interrupted by SIGTERM")
    assert not out.exists() and "Traceback" not in result.output


def test_sigterm_during_the_postprocessing_search_checkpoints(data, tmp_path, monkeypatch):
    import ctc_unet.training.loop as loop

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_OVERRIDES))
    rd = tmp_path / "r"
    args = ["train", str(data), "--config", str(cfg), "--run-dir", str(rd), "--device", "cpu"]
    monkeypatch.setattr(loop, "choose_postprocess",
                        _raise_signal_on_call(1)(loop.choose_postprocess))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "CHECKPOINTED on SIGTERM at iteration 40/40" in result.stderr
    assert "received SIGTERM: checkpoint saved" in (rd / "train.log").read_text()
    assert not (rd / "postprocess.json").exists()
    assert '"interrupted"' in (rd / "status.json").read_text()
    monkeypatch.undo()
    done = CliRunner().invoke(app, [*args[:-2], "--resume"])
    assert done.exit_code == 0, done.output
    assert (rd / "postprocess.json").is_file()


def test_sigterm_before_training_starts_leaves_no_run_directory(data, tmp_path, monkeypatch):
    import ctc_unet.training.loop as loop

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_OVERRIDES))
    monkeypatch.setattr(loop, "TrainingSamples", _raise_signal_on_call(1)(loop.TrainingSamples))
    result = CliRunner().invoke(app, ["train", str(data), "--config", str(cfg), "--run-dir",
                                      str(tmp_path / "runs" / "r"), "--device", "cpu"])
    assert result.exit_code == 143, result.output
    assert "interrupted by SIGTERM" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "runs").exists()


def test_sigkill_at_ten_random_moments_then_resume(synthetic_root, tmp_path):
    """SIGKILL (no handler can run) at random moments of a run that checkpoints every 3
    iterations; each time ``--resume``. The run directory must load, hold no staging
    litter, and have one metrics record per logged iteration."""
    import json
    import random
    import subprocess
    import sys
    import time

    from ctc_unet.rundir import RunDir, load_checkpoint

    over = {**TINY_OVERRIDES, "train": {**TINY_OVERRIDES["train"], "iterations": 100000,
                                        "log_every": 2, "checkpoint_every": 3, "val_every": 7,
                                        "diagnostics_first": 20}}
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(over))
    run = RunDir(tmp_path / "killed")
    base = [sys.executable, "-m", "ctc_unet", "train", str(synthetic_root), "--run-dir",
            str(run.root), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = random.Random(0)
    kills = 0
    while kills < 10:
        cmd = [*base, *(["--resume"] if run.last.is_file() else ["--config", str(cfg)])]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env)
        # wait until the process trains (a checkpoint of this call or a log line), then a
        # random moment more
        start = run.last.stat().st_mtime if run.last.is_file() else 0
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and (
                not run.last.is_file() or run.last.stat().st_mtime == start):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.kill()
        proc.wait()
        proc.stderr.close()
        kills += 1
    stopped = load_checkpoint(run.last)["iteration"]
    final = subprocess.run([*base, "--resume", "--iterations", str(stopped + 4)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert load_checkpoint(run.last)["iteration"] == stopped + 4
    run.load_config()
    run.load_split()
    litter = [p.name for p in run.root.rglob(".*") if p.name != ".lock"]
    assert not litter, litter
    records = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    keys = [(r["kind"], r["iteration"]) for r in records]
    assert len(keys) == len(set(keys)), "duplicated metrics records"
    logged = sorted(it for kind, it in keys if kind == "train")
    end = stopped + 4
    assert logged == sorted(set(range(2, end + 1, 2)) | {end})  # each log line once


def test_stale_staging_of_a_killed_run_is_removed_on_resume(synthetic_root, tmp_path, caplog):
    from ctc_unet.config import load_config
    from ctc_unet.rundir import RunDir
    from ctc_unet.training.loop import train

    run = RunDir(tmp_path / "r")
    cfg = load_config(None, overrides={**TINY_OVERRIDES, "train": {
        **TINY_OVERRIDES["train"], "iterations": 4, "val_every": 4, "checkpoint_every": 2}})
    train(synthetic_root, run, cfg, "cpu")
    litter = [run.root / ".checkpoint_last.pt.otherhost-12345-abcd.part",
              run.root / "cache" / ".x.npz.abc.part"]
    for p in litter:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half a checkpoint")
    with open(run.metrics, "a") as f:  # a record past the checkpoint, and a torn line
        f.write('{"kind": "train", "iteration": 99, "loss": 1.0}\n{"kind": "tr')
    from dataclasses import replace

    train(synthetic_root, run, replace(cfg, train=replace(cfg.train, iterations=6)), "cpu",
          resume=True)
    assert not any(p.exists() for p in litter)
    assert "staging file(s) left by a killed run" in caplog.text
    iterations = [r["iteration"] for r in run.read_metrics() if r["kind"] == "train"]
    assert iterations == [4, 6]  # the record past the checkpoint is gone, none repeated


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755),
                                                            (0o077, 0o600, 0o700)])
def test_outputs_follow_the_umask(data, run, tmp_path, mask, file_mode, dir_mode):
    old = os.umask(mask)
    try:
        out = tmp_path / "out"
        result = CliRunner().invoke(app, ["predict", str(run), "--data", str(data),
                                          "--sequence", "01", "--out", str(out), "--device",
                                          "cpu", "--save-probabilities"])
        assert result.exit_code == 0, result.output
        from ctc_unet.files import write_text_atomic

        write_text_atomic(tmp_path / "new" / "file.txt", "x")
    finally:
        os.umask(old)
    for folder in (out / "01_RES", out / "01_PROB", tmp_path / "new"):
        assert folder.stat().st_mode & 0o777 == dir_mode, folder
    for f in (out / "01_RES" / "mask000.tif", out / "01_RES" / "res_track.txt",
              out / "01_PROB" / "prob000.tif", tmp_path / "new" / "file.txt"):
        assert f.stat().st_mode & 0o777 == file_mode, f


def test_a_missing_frame_is_predicted_with_a_warning(data, run, tmp_path):
    (data / "01" / "t005.tif").unlink()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["predict", str(run), "--data", str(data), "--sequence",
                                      "01", "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "frame number(s) 005 missing" in result.stderr
    assert not (out / "01_RES" / "mask005.tif").exists()
    assert (out / "01_RES" / "mask006.tif").is_file()
