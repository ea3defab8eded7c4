"""Checks on the real data in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.data.inspection import inspect_path
from ctc_unet.data.isbi import read_isbi2012


def test_dic_hela_training_layout(shared_data):
    report = inspect_path(shared_data / "DIC-C2DH-HeLa")
    assert report.kind == "ctc-training"
    s01, s02 = report.sequences
    for s in (s01, s02):
        assert (s.n_frames, s.shape, s.dtype, s.digits) == (84, (512, 512), "uint8", 3)
    assert s01.gt_seg_frames == [2, 5, 21, 31, 33, 34, 39, 54, 67]
    assert s01.partial[67] == (3, 18)
    assert s01.st_frames == 84 and s01.gt_tra_frames == 84
    assert s01.cells_per_gt[2] == 10
    assert s02.gt_seg_frames == [] and s02.st_frames == 0


def test_dic_hela_tracks_parse(shared_data):
    seq = open_ctc_dataset(shared_data / "DIC-C2DH-HeLa").sequence("01")
    tracks = seq.tracks()
    assert len(tracks) == 38
    assert all(r.end <= 83 for r in tracks)
    assert {r.parent for r in tracks if r.parent} <= {r.label for r in tracks}


def test_challenge_layout(shared_data):
    report = inspect_path(shared_data / "challenge" / "DIC-C2DH-HeLa")
    assert report.kind == "ctc-challenge"
    assert [s.n_frames for s in report.sequences] == [115, 115]


def test_isbi2012(shared_data):
    data = read_isbi2012(shared_data / "ISBI2012")
    assert data.train_volume.shape == data.train_labels.shape == (30, 512, 512)
    assert data.test_volume is not None and data.test_volume.shape == (30, 512, 512)
    assert set(np.unique(data.train_labels)) == {0, 1}


def test_cli_inspect_real(shared_data):
    result = CliRunner().invoke(app, ["inspect", str(shared_data / "DIC-C2DH-HeLa")])
    assert result.exit_code == 0
    assert "frame 067 is partly annotated: 3 of 18 tracked cells" in result.output
    result = CliRunner().invoke(app, ["inspect", str(shared_data / "ISBI2012")])
    assert result.exit_code == 0 and "30 x 512x512 uint8" in result.output


def test_isbi_labels_as_their_own_prediction_score_as_the_challenge_would(shared_data,
                                                                          tmp_path):
    """The labels of slices 25-29 as the prediction: Rand error < 0.01; with every membrane
    dilated by one pixel (cells one pixel smaller all round): < 0.05."""
    import json

    import tifffile
    from scipy import ndimage as ndi

    labels = read_isbi2012(shared_data / "ISBI2012").train_labels[25:30]
    thick = np.stack([~ndi.binary_dilation(s == 0) for s in labels]).astype(np.float32)
    for name, stack, limit in (("same", labels.astype(np.float32), 0.01),
                               ("thick", thick, 0.05)):
        tifffile.imwrite(tmp_path / f"{name}.tif", stack, photometric="minisblack")
        tifffile.imwrite(tmp_path / "labels.tif", labels * 255, photometric="minisblack")
        out = tmp_path / f"ev-{name}"
        result = CliRunner().invoke(app, ["evaluate", str(tmp_path / f"{name}.tif"), "--gt",
                                          str(tmp_path / "labels.tif"), "--out", str(out)])
        assert result.exit_code == 0, result.output
        row = json.loads((out / "evaluation.json").read_text())[0]
        assert row["rand_error"] < limit and row["info_error"] < limit, (name, row)


def test_which_real_datasets_train_refits_by_itself(shared_data):
    """``train.refit: auto`` on the data held here: a lone sequence with sparse masks is
    refitted; silver truth on every frame, a second sequence that reports, or ISBI 2012's
    slices (all annotated) are not."""
    from pathlib import Path

    from ctc_unet.config import load_config
    from ctc_unet.training.split import refit_reason

    dic, gowt1 = shared_data / "DIC-C2DH-HeLa", shared_data / "Fluo-N2DH-GOWT1"
    assert refit_reason(dic, load_config("DIC-C2DH-HeLa", profile="cpu")) is None  # GT+ST: 84
    # the paper's recipe trains on gold masks only, and 02 is not annotated here
    assert refit_reason(dic, load_config("DIC-C2DH-HeLa")).endswith(
        "has masks (GT) on 9 of its 84 frames")
    assert refit_reason(gowt1, load_config("Fluo-N2DH-GOWT1", profile="cpu")) is None
    alone = Path(__file__).resolve().parents[1] / "benchmarks/experiments/one-sequence.yaml"
    assert refit_reason(gowt1, load_config("Fluo-N2DH-GOWT1", alone, profile="cpu")).endswith(
        "has masks (GT+ST) on 30 of its 92 frames")
    assert refit_reason(shared_data / "ISBI2012", load_config("ISBI2012")) is None
