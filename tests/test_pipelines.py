"""Scripts in pipelines/: syntax, and the download script against a local server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, make_ctc_zip
from typer.testing import CliRunner

from ctc_unet.cli.app import app

SCRIPTS = sorted((REPO / "pipelines").glob("*.sh")) + sorted((REPO / "pipelines").glob("*.sbatch"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bash_syntax(script: Path):
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_download_script_fetches_training_and_challenge(server, tmp_path):
    url, www, _ = server
    for kind in ("training-datasets", "test-datasets"):
        make_ctc_zip(www / kind / "PhC-C2DH-U373.zip", "PhC-C2DH-U373",
                     with_gt=kind == "training-datasets")
    env = {**os.environ, "CTC_DATA_DIR": str(tmp_path), "CTC_UNET_MIRROR": url,
           "CTC_UNET": f"{sys.executable} -m ctc_unet"}
    proc = subprocess.run(["bash", str(REPO / "pipelines" / "download_data.sh"), "PhC-U373"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "PhC-C2DH-U373" / "01_GT").is_dir()
    assert (tmp_path / "challenge" / "PhC-C2DH-U373" / "02" / "t001.tif").is_file()
    assert "\x1b[" not in proc.stdout + proc.stderr  # plain output when not at a terminal


CLI_CALL = re.compile(r"(?:ctc-unet|-m ctc_unet)\s+([a-z][a-z-]*)((?:[^\n]|\\\n)*)")


def _cli_calls(text: str) -> list[tuple[str, list[str]]]:
    """Each ctc-unet invocation of a script: the subcommand and the --options it passes."""
    text = text.replace("\\\n", " ")
    calls = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for sub, rest in CLI_CALL.findall(line):
            calls.append((sub, re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest)))
    return calls


@pytest.mark.parametrize("script", [p for p in SCRIPTS if p.suffix in (".sbatch", ".sh")],
                         ids=lambda p: p.name)
def test_rendered_scripts_call_existing_commands_and_options(script: Path, tmp_path):
    text = script.read_text().replace("CHANGE_ME", "my-account")
    rendered = tmp_path / script.name
    rendered.write_text(text)
    subprocess.run(["bash", "-n", str(rendered)], check=True)
    calls = _cli_calls(text)
    if script.suffix == ".sbatch":
        assert calls, f"{script.name} runs no ctc-unet command"
        assert "#SBATCH --account=my-account" in text
    runner = CliRunner()
    for sub, options in calls:
        result = runner.invoke(app, [sub, "--help"], terminal_width=200)
        assert result.exit_code == 0, f"{script.name}: ctc-unet {sub} does not exist"
        for opt in options:
            assert opt in result.output, f"{script.name}: ctc-unet {sub} has no {opt}"


def test_run_all_chains_jobs_with_dependencies(tmp_path):
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "sbatch").write_text('#!/usr/bin/env bash\necho "$@" >> "$SBATCH_LOG"\n'
                                 'echo 4242\n')
    (stub / "sbatch").chmod(0o755)
    log = tmp_path / "sbatch.log"
    env = {**os.environ, "PATH": f"{stub}:{os.environ['PATH']}", "SBATCH_LOG": str(log)}
    proc = subprocess.run(["bash", str(REPO / "pipelines" / "run_all.sh")], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "--parsable pipelines/train.sbatch"
    assert calls[1] == "--parsable --dependency=afterok:4242 pipelines/predict_submit.sbatch"


def test_second_trainer_on_a_locked_run_dir_fails_cleanly(synthetic_root, tmp_path):
    run = tmp_path / "locked"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; "
         "from ctc_unet.rundir import RunDir, RunLock; "
         "RunLock(RunDir(sys.argv[1])).__enter__(); print('locked', flush=True); "
         "time.sleep(120)", str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = CliRunner().invoke(app, ["train", str(synthetic_root), "--run-dir", str(run),
                                          "--device", "cpu", "--iterations", "2"])
        assert result.exit_code == 1
        lines = [x for x in result.stderr.splitlines() if x.strip()]
        assert lines[-1].startswith("Error: ") and f"pid {holder.pid}" in lines[-1]
        assert "Traceback" not in result.output
        assert not (run / "checkpoint_last.pt").exists()
    finally:
        holder.kill()
        holder.wait()
    # the OS released the lock with the process: training works now
    result = CliRunner().invoke(app, ["train", str(synthetic_root), "--run-dir", str(run),
                                      "--device", "cpu", "--iterations", "2", "--config",
                                      str(_tiny(tmp_path))])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "status.json").read_text())["status"] == "finished"


def _tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text("model: {base_channels: 4, depth: 3}\n"
                    "train: {tile_size: 172, num_workers: 0, val_every: 2}\n")
    return path


def test_env_report():
    result = CliRunner().invoke(app, ["env"])
    assert result.exit_code == 0
    for key in ("python", "torch", "monai", "py-ctcmetrics", "cuda", "data root"):
        assert re.search(rf"^{re.escape(key)}\s", result.output, re.M), key
