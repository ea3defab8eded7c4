"""The prepared GPU check (benchmarks/gpu_check.py) runs end to end on the CPU with --quick,
so that it is known to work before a device ever sees it: inside its budget, with at most 6
files, and keeping every section done when it is killed half-way."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"


def test_gpu_check_quick_on_cpu(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--out",
                           str(out)], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["errors"] == {}, report["errors"]
    assert report["finished"] is True
    assert report["environment"]["device"] == "cpu"
    modes = {r["mode"]: r for r in report["inference"]}
    assert modes["fp32"]["images_per_s"] > 0 and "channels-last" in modes
    assert any("8x TTA" in m and r.get("frames_per_s", 0) > 0 for m, r in modes.items())
    assert {(r["batch"], r["precision"]) for r in report["training"]} == {
        (1, "fp32"), (1, "bf16"), (8, "fp32"), (8, "bf16")}
    assert all(r.get("images_per_s", 0) > 0 for r in report["training"])
    assert report["ddp"]["returncode"] == 0, report["ddp"]["output"]
    trained = report["train_and_score"]
    assert trained["train_returncode"] == 0 and trained["evaluate_returncode"] == 0
    assert trained["status"]["status"] == "finished" and "model:" in trained["config"]
    assert "grid" not in trained["postprocess"]
    assert [r["sequence"] for r in trained["report"]] == ["02"]  # reported on whole
    assert (out / "gpu_check.md").read_text().startswith("# GPU check")
    kept = sorted(p.name for p in out.rglob("*"))
    assert kept == ["curves.png", "gpu_check.json", "gpu_check.md", "metrics.jsonl",
                    "train.log"], kept  # with gpu_check.sh's gpu_check.log: 6 files


def test_gpu_check_ends_inside_a_one_minute_budget(tmp_path):
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick",
                           "--minutes", "1", "--out", str(out)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    wall = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert wall < 60, wall
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["finished"] is True and report["errors"] == {}, report["errors"]
    for section in ("environment", "inference", "training", "ddp", "train_and_score"):
        assert section in report, section
    assert report["seconds"]["total"] < 60
    assert len(list(out.iterdir())) <= 5


def test_a_gpu_check_killed_half_way_keeps_the_sections_done(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--device", "cpu", "--quick",
                             "--out", str(out)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        for line in proc.stdout:  # "<section>: N s" once a section's results are saved
            if line.startswith("training:"):
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["finished"] is False
    assert report["inference"] and report["training"] and "train_and_score" not in report
    assert "cut short" in (out / "gpu_check.md").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
