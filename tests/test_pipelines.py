"""Scripts in pipelines/: syntax, and the download script against a local server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, make_ctc_zip

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
