"""The Python API (README "Python API"), run end to end on the synthetic dataset: the same
calls as README's example, with a tiny network."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from conftest import TINY_OVERRIDES, train_through_api

import ctc_unet


@pytest.fixture(scope="module")
def api_run(synthetic_root, tmp_path_factory):
    return train_through_api(synthetic_root, tmp_path_factory.mktemp("api"), TINY_OVERRIDES)


def test_train_returns_a_run_directory(api_run):
    assert api_run.last.is_file() and api_run.postprocess.is_file()
    assert api_run.load_split().report_sequences == ["02"]


def test_a_model_segments_and_tracks_arrays(api_run, synthetic_root, tmp_path):
    model = ctc_unet.load_model(api_run, device="cpu", frame_shape=(256, 256))
    frames = [tifffile.imread(synthetic_root / "02" / f"t{t:03d}.tif") for t in range(4)]
    prob = model.predict_probabilities(frames[0])
    assert prob.shape == (256, 256) and prob.dtype == np.float32
    assert prob.min() >= 0.0 and prob.max() <= 1.0
    labels = model.predict_instances(frames[0])
    assert labels.dtype == np.uint16 and labels.max() >= 1
    masks, tracks = model.track(frames)
    assert len(masks) == 4 and all(m.shape == (256, 256) for m in masks)
    assert {r.label for r in tracks} == set(np.unique(np.stack(masks))) - {0}
    # the same model through `predict` gives the same objects (masks relabelled by tracking)
    (res,) = ctc_unet.predict(api_run, synthetic_root, sequences=["02"], out=tmp_path,
                              device="cpu")
    assert np.array_equal(tifffile.imread(res / "mask000.tif") > 0, labels > 0)


def test_evaluate_track_and_submit(api_run, synthetic_root, tmp_path):
    rows = ctc_unet.evaluate(api_run, synthetic_root, frames="report", out=tmp_path / "e",
                             device="cpu")
    assert [r["sequence"] for r in rows] == ["02"] and 0.0 <= rows[0]["DET"] <= 1.0
    folder, n_tracks, _ = ctc_unet.track(synthetic_root / "01_ST" / "SEG", tmp_path / "01_RES")
    assert (folder / "res_track.txt").is_file() and n_tracks > 0
    wheel = tmp_path / "ctc_unet-0.0.0-py3-none-any.whl"  # packaged as given
    wheel.write_bytes(b"PK")
    folder, archive = ctc_unet.submit([api_run], synthetic_root, team="api-test",
                                      out=tmp_path / "subs", device="cpu", wheel=wheel)
    assert archive.is_file() and (folder / synthetic_root.name / "01_RES").is_dir()


def test_user_errors_are_ctc_unet_errors(api_run, tmp_path):
    with pytest.raises(ctc_unet.CtcUnetError):
        ctc_unet.load_model(tmp_path / "not-a-run")
    model = ctc_unet.load_model(api_run, device="cpu")
    with pytest.raises(ctc_unet.CtcUnetError, match="2D gray-value"):
        model.predict_instances(np.zeros((2, 3, 64, 64)))
