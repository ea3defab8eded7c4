"""The prepared GPU check (benchmarks/gpu_check.py) runs end to end on the CPU with --quick,
so that it is known to work before a device ever sees it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_quick_on_cpu(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"),
                           "--device", "cpu", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["errors"] == {}, report["errors"]
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
    assert [r["sequence"] for r in trained["report"]] == ["02"]  # reported on whole
    assert (out / "gpu_check.md").read_text().startswith("# GPU check")
    assert (out / "training" / "train.log").is_file()
