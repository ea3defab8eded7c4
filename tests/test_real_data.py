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
