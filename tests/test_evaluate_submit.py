"""`ctc-unet evaluate`, `ctc-unet submit` and `ctc-unet demo`, end to end on synthetic data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tifffile
from conftest import TINY_OVERRIDES, write_isbi
from ctc_metrics.scripts.validate import validate_sequence
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import load_config
from ctc_unet.device import resolve_device
from ctc_unet.errors import CtcUnetError
from ctc_unet.evaluation.isbi import isbi_measures
from ctc_unet.rundir import RunDir
from ctc_unet.submission.package import package_submission
from ctc_unet.submission.wheel import build_wheel, pinned_requirements
from ctc_unet.training.loop import train

runner = CliRunner()


def test_evaluate_run_dir_predicts_and_scores(tiny_run, synthetic_root, tmp_path):
    out = tmp_path / "ev"
    result = runner.invoke(app, ["evaluate", str(tiny_run), "--data", str(synthetic_root),
                                 "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "evaluation.json").read_text())
    assert [r["sequence"] for r in rows] == ["01", "02"]
    for r in rows:
        assert {"SEG", "DET", "TRA", "OP_CSB", "OP_CTB"} <= set(r)
        assert 0.0 <= r["SEG"] <= 1.0 and r["OP_CSB"] == pytest.approx((r["SEG"] + r["DET"]) / 2)
    assert (out / "evaluation.csv").read_text().startswith("dataset,sequence,seg_frames,block,SEG")
    # per-frame SEG, worst first, and overlays of exactly the worst four frames per sequence
    shown = set()
    for seq in ("01", "02"):
        lines = (out / f"frames_{seq}.csv").read_text().splitlines()
        assert lines[0] == "sequence,frame,reference,SEG,objects" and len(lines) > 5
        frames = [line.split(",") for line in lines[1:]]
        segs = [float(f[3]) for f in frames]
        assert segs == sorted(segs)
        shown |= {f"{seq}_t{int(f[1]):03d}.png" for f in frames[:4]}
    assert {p.name for p in (out / "overlays").glob("*.png")} == shown
    assert "SEG" in result.output


def test_evaluate_val_frames_and_results_folder(tiny_run, synthetic_root, tmp_path):
    result = runner.invoke(app, ["evaluate", str(tiny_run), "--data", str(synthetic_root),
                                 "--frames", "val", "--out", str(tmp_path / "v"),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "v" / "evaluation.json").read_text())
    assert [r["sequence"] for r in rows] == ["01"] and rows[0]["seg_frames"] == "val"
    res_root = tiny_run / "results" / synthetic_root.name
    result = runner.invoke(app, ["evaluate", str(res_root), "--gt", str(synthetic_root),
                                 "--sequence", "02", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r" / "evaluation.json").read_text())[0]["sequence"] == "02"


def test_evaluate_errors(tiny_run, synthetic_root, tmp_path):
    for args, msg in [
        ([str(tiny_run)], "give --data"),
        ([str(tmp_path)], "give --gt"),
        ([str(tmp_path), "--gt", str(synthetic_root)], "results folder not found"),
        ([str(tiny_run), "--data", str(synthetic_root), "--frames", "some"], "--frames"),
    ]:
        result = runner.invoke(app, ["evaluate", *args])
        assert result.exit_code == 1, result.output
        assert msg in result.stderr and "Traceback" not in result.output


def test_isbi_measures():
    labels = np.zeros((2, 40, 40), np.uint8)
    labels[:, 2:18, 2:38] = 1
    labels[:, 21:38, 2:38] = 1
    perfect = isbi_measures(labels.astype(np.float32), labels)
    assert perfect["rand_error"] == pytest.approx(0.0) and perfect["pixel_error"] == 0.0
    merged = labels.astype(np.float32)
    merged[:, 18:21, 10:14] = 0.95  # a bridge through the membrane merges the two cells
    worse = isbi_measures(merged, labels)
    assert worse["rand_error"] > 0.1 and 0 < worse["pixel_error"] < 0.01


def test_evaluate_isbi_with_and_without_tta(tmp_path):
    root = write_isbi(tmp_path / "ISBI2012", n=4)
    run = RunDir(tmp_path / "isbi-run")
    # 4 slices: 0 trains, 1 reports, 2-3 choose
    split = {"split": {"gap_frames": 0, "choose_fraction": 0.3, "report_fraction": 0.3}}
    train(root, run, load_config("ISBI2012", overrides={**TINY_OVERRIDES, **split}), "cpu")
    result = runner.invoke(app, ["evaluate", str(run.root), "--data", str(root), "--device",
                                 "cpu"])
    assert result.exit_code == 0, result.output
    rows = json.loads((run.root / "evaluation" / "ISBI2012" / "evaluation.json").read_text())
    assert [r["tta"] for r in rows] == [1, 7]
    assert all(0 <= r["rand_error"] <= 1 and 0 <= r["pixel_error"] <= 1 for r in rows)


def test_submit_package_validates_and_its_script_regenerates_the_masks(
        tiny_run, synthetic_root, tmp_path):
    out = tmp_path / "subs"
    result = runner.invoke(app, ["submit", str(tiny_run), "--data", str(synthetic_root),
                                 "--team", "unit-test", "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["unit-test", "unit-test.zip"]
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(out / "unit-test.zip") as zf:
        zf.extractall(unpacked)
    pkg = unpacked / "unit-test"
    dataset = next(p.name for p in pkg.iterdir() if p.name != "SW")
    sw = pkg / "SW"
    for name in ("README.md", "requirements.txt", "install.sh", f"{dataset}-01.sh",
                 f"{dataset}-02.sh", f"models/{dataset}/checkpoint_best.pt",
                 f"models/{dataset}/config.yaml", f"models/{dataset}/postprocess.json"):
        assert (sw / name).is_file(), name
    assert list((sw / "wheels").glob("ctc_unet-*-py3-none-any.whl"))
    assert "GT" in (sw / "README.md").read_text()
    for seq in ("01", "02"):
        assert validate_sequence(str(pkg / dataset / f"{seq}_RES"), threads=1)["Valid"] == 1
    # the organisers' re-run: data beside SW, script run from the package with relative paths
    packaged = pkg / dataset / "01_RES"
    shutil.move(packaged, tmp_path / "packaged_01_RES")
    shutil.copytree(synthetic_root / "01", pkg / dataset / "01")
    os.chmod(sw / f"{dataset}-01.sh", 0o755)
    proc = subprocess.run([str(sw / f"{dataset}-01.sh"), "--device", "cpu"], cwd=tmp_path,
                          env={**os.environ, "CTC_UNET_PYTHON": sys.executable},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = sorted(packaged.glob("mask*.tif"))
    before = sorted((tmp_path / "packaged_01_RES").glob("mask*.tif"))
    assert [p.name for p in again] == [p.name for p in before] and len(again) == 10
    assert all(np.array_equal(tifffile.imread(a), tifffile.imread(b))
               for a, b in zip(again, before, strict=True))
    assert ((packaged / "res_track.txt").read_text()
            == (tmp_path / "packaged_01_RES" / "res_track.txt").read_text())


def test_submit_refuses_invalid_results_and_writes_nothing(tiny_run, synthetic_root, tmp_path,
                                                           monkeypatch):
    import ctc_metrics.scripts.validate as validate_module

    monkeypatch.setattr(validate_module, "validate_sequence", lambda *a, **k: {"Valid": 0})
    out = tmp_path / "subs"
    with pytest.raises(CtcUnetError, match="rejects"):
        package_submission([RunDir(tiny_run)], data=synthetic_root, team="team", out=out,
                           device=resolve_device("cpu"))
    assert not out.exists()  # the folder made for the package is gone too


def test_submit_errors(tiny_run, synthetic_root, tmp_path):
    for args, msg in [
        (["--team", "bad team!"], "team name"),
        (["--team", "t", "--data", str(tmp_path / "none")], "folder not found"),
    ]:
        data = [] if "--data" in args else ["--data", str(synthetic_root)]
        result = runner.invoke(app, ["submit", str(tiny_run), *data, *args, "--out",
                                     str(tmp_path / "o"), "--device", "cpu"])
        assert result.exit_code == 1, result.output
        assert msg in result.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_wheel_and_requirements(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {"ctc_unet/cli/app.py", "ctc_unet/configs/defaults.yaml",
            "ctc_unet/configs/profiles/cpu.yaml"} <= names
    assert any(n.endswith(".dist-info/RECORD") for n in names)
    reqs = pinned_requirements()
    assert "torch==" in reqs and "monai==" in reqs and "+cpu" not in reqs
    proc = subprocess.run([sys.executable, "-c", "import ctc_unet.cli, ctc_unet.config as c; "
                           "print(c.load_config().targets.w0)"],
                          env={**os.environ, "PYTHONPATH": str(wheel)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "10.0"


def test_demo_runs_the_whole_pipeline(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--iterations", "40",
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "sequence 01: SEG" in result.output and "DET" in result.output
    assert (tmp_path / "demo" / "submissions" / "ctc-unet-demo.zip").is_file()
    run = tmp_path / "demo" / "runs" / "synthetic-demo"
    assert (run / "evaluation" / "Synthetic-C2DH" / "evaluation.json").is_file()

