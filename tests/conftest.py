"""Shared fixtures: the synthetic dataset, and the real data in ../shared/data when present."""

from __future__ import annotations

import io
import os
import shutil
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import tifffile

from ctc_unet.data.synthetic import write_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CTC_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic CTC training dataset (2 sequences x 10 frames, 256x256), made once."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("syn") / "Synthetic-C2DH", seed=0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; tests that use it are skipped when it is absent."""
    if not (SHARED_DATA / "DIC-C2DH-HeLa").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


def _tif_bytes() -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.zeros((16, 16), np.uint8))
    return buf.getvalue()


def make_ctc_zip(path: Path, name: str, with_gt: bool = True, extra: dict | None = None) -> Path:
    """A tiny archive laid out as the CTC server's: NAME/01/t000.tif, NAME/01_GT/..."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for seq in ("01", "02"):
            for t in range(2):
                zf.writestr(f"{name}/{seq}/t{t:03d}.tif", _tif_bytes())
            if with_gt:
                zf.writestr(f"{name}/{seq}_GT/TRA/man_track.txt", "1 0 1 0\n")
        for member, data in (extra or {}).items():
            zf.writestr(member, data)
    return path


class _Handler(SimpleHTTPRequestHandler):
    truncate: ClassVar[set[str]] = set()

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        if self.path.lstrip("/") in self.truncate:
            data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])  # connection closes early
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = type("H", (_Handler,), {"truncate": set()})

    def factory(*args, **kwargs):
        return handler(*args, directory=str(root), **kwargs)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), factory)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root, handler
    httpd.shutdown()
    httpd.server_close()


def write_isbi(root: Path, labels: np.ndarray | None = None, n: int = 3) -> Path:
    """A small ISBI 2012-style folder (``n`` slices of 32x32)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    volume = rng.integers(0, 255, (n, 32, 32), dtype=np.uint8)
    if labels is None:
        labels = np.where(rng.random((n, 32, 32)) > 0.2, 255, 0).astype(np.uint8)
    for name, data in (("train-volume", volume), ("train-labels", labels),
                       ("test-volume", volume)):
        tifffile.imwrite(root / f"{name}.tif", data, photometric="minisblack")
    return root


def result_folder(data: Path, tmp_path: Path) -> Path:
    """A valid CTC result of sequence 01 (its own TRA markers), in ``tmp/res/01_RES``."""
    res = tmp_path / "res" / "01_RES"
    res.mkdir(parents=True)
    for p in sorted((data / "01_GT" / "TRA").glob("man_track*.tif")):
        shutil.copy(p, res / p.name.replace("man_track", "mask"))
    shutil.copy(data / "01_GT" / "TRA" / "man_track.txt", res / "res_track.txt")
    return res


# GT+ST: the validation protocol leaves frames 0-3 of sequence 01 to train on (8-9 choose,
# 02 reports), of which only frame 1 has GT
TINY_OVERRIDES = {"targets": {"source": "GT+ST"}, "model": {"base_channels": 4, "depth": 3},
                  "train": {"tile_size": 172, "iterations": 40, "log_every": 10,
                            "lr": 0.001, "lr_schedule": "constant", "warmup_iterations": 0,
                            "grad_clip": 0.0, "head_init": "he",
                            "val_every": 40, "checkpoint_every": 40, "num_workers": 0}}


def train_through_api(root: Path, tmp: Path, overrides: dict) -> Path:
    """``ctc_unet.train`` as a user calls it: ``overrides`` in a YAML file given as --config,
    the run directory ``tmp/run``."""
    import yaml

    import ctc_unet

    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump(overrides))
    return ctc_unet.train(root, config=cfg, run_dir=tmp / "run", device="cpu")


@pytest.fixture(scope="session")
def tiny_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory of a tiny net trained 40 iterations on the synthetic dataset."""
    from ctc_unet.config import load_config
    from ctc_unet.rundir import RunDir
    from ctc_unet.training.loop import train

    run = RunDir(tmp_path_factory.mktemp("runs") / "tiny")
    train(synthetic_root, run, load_config(None, overrides=TINY_OVERRIDES), "cpu")
    return run.root


@pytest.fixture
def data(synthetic_root: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic dataset (cases corrupt it)."""
    import shutil

    return Path(shutil.copytree(synthetic_root, tmp_path / "Synthetic-C2DH"))


@pytest.fixture
def run(tiny_run: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny trained run directory."""
    import shutil

    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


def benchmark_module(name: str):
    """A script of benchmarks/ imported as a module (its folder on the path first, as when
    it runs as a script, so that it finds its neighbours)."""
    import importlib.util
    import sys

    folder = str(REPO / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
