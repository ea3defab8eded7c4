"""``ctc-unet export``: a bioimage.io model package that bioimage.io's own test passes, whose
TorchScript reproduces ``predict``, and clean errors that leave nothing behind."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tifffile
import torch
import yaml
from typer.testing import CliRunner

import ctc_unet
from ctc_unet.cli.app import app
from ctc_unet.model.geometry import margin, next_valid
from ctc_unet.rundir import RunDir
from ctc_unet.targets.frames import normalize_image
from ctc_unet.zoo.bioimageio import package_dir, padded_input

pytest.importorskip("bioimageio.spec")


@pytest.fixture(scope="module")
def package(tiny_run, synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "tiny.bioimageio.zip"
    return ctc_unet.export(tiny_run, data=synthetic_root, out=out)


def test_the_package_passes_bioimageio_test(package):
    core = pytest.importorskip("bioimageio.core")
    summary = core.test_description(package)
    assert summary.status == "passed", summary.format()


def test_the_torchscript_reproduces_predict(package, tiny_run, synthetic_root):
    run = RunDir(tiny_run)
    ref = run.load_split().val[0]
    raw = tifffile.imread(synthetic_root / ref.sequence / f"t{ref.t:03d}.tif")
    expected = ctc_unet.load_model(run, device="cpu", frame_shape=raw.shape, tta=False
                                   ).predict_probabilities(raw)
    scripted = torch.jit.load(str(package_dir(package) / "weights_torchscript.pt"))
    depth = run.load_config().model.depth
    with torch.inference_mode():
        prob = scripted(torch.from_numpy(padded_input(normalize_image(raw), depth)))
    got = prob[0, 1, :raw.shape[0], :raw.shape[1]].numpy()
    assert np.abs(got - expected).max() <= 1e-4


def test_the_axes_describe_the_unpadded_network(package, tiny_run):
    depth = RunDir(tiny_run).load_config().model.depth
    rdf = yaml.safe_load((package_dir(package) / "rdf.yaml").read_text())
    y_in = next(a for a in rdf["inputs"][0]["axes"] if a.get("id") == "y")
    y_out = next(a for a in rdf["outputs"][0]["axes"] if a.get("id") == "y")
    assert y_in["size"] == {"min": next_valid(1, depth), "step": 2**depth}
    assert y_out["size"]["offset"] == -2 * margin(depth)
    x = np.load(package_dir(package) / "test_input.npy")
    y = np.load(package_dir(package) / "test_output.npy")
    assert y.shape[:2] == (1, 2) and y.shape[2] == x.shape[2] - 2 * margin(depth)
    assert np.allclose(y.sum(axis=1), 1.0, atol=1e-5)
    readme = (package_dir(package) / "README.md").read_text()
    assert "trained on: sequence 01" in readme and "Ronneberger" in readme


def _one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: "), result.stderr
    return lines[-1]


def test_a_run_without_checkpoint_is_refused_and_nothing_is_written(run, synthetic_root,
                                                                    tmp_path):
    for ckpt in run.glob("checkpoint_*.pt"):
        ckpt.unlink()
    out = tmp_path / "out" / "m.zip"
    result = CliRunner().invoke(app, ["export", str(run), "--data", str(synthetic_root),
                                      "--out", str(out)])
    assert "no checkpoint" in _one_error_line(result)
    assert not (tmp_path / "out").exists()


def test_export_without_the_extra_says_what_to_install(run, synthetic_root, tmp_path,
                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, "bioimageio.spec", None)
    result = CliRunner().invoke(app, ["export", str(run), "--data", str(synthetic_root),
                                      "--out", str(tmp_path / "m.zip")])
    assert "pip install 'ctc-unet[export]'" in _one_error_line(result)
    assert list(tmp_path.iterdir()) == [run]
