"""Track support: which tracks are cells, learned from TRA markers. A lineage's features and
labels are what they should be, a flicker of low probability is dropped and a cell is not,
the learned model is stored in and reloaded from a run directory, and it never learns on a
reporting frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ctc_unet.config import TrackingConfig
from ctc_unet.data.ctc import Sequence
from ctc_unet.rundir import RunDir, Split
from ctc_unet.targets.frames import FrameRef
from ctc_unet.tracking import support as support_module
from ctc_unet.tracking.linking import lineage_examples, track_global
from ctc_unet.tracking.support import (
    FEATURES,
    TrackSupport,
    fit_support,
    lineage_features,
    matched_objects,
    object_probability,
    read_support,
)

CFG = TrackingConfig()


def _movie(n: int = 12, blob: tuple[int, int] = (5, 6)) -> list[np.ndarray]:
    """A cell in every frame (id 1) and, in frames blob[0]..blob[1], a blob elsewhere (id 2)."""
    out = []
    for t in range(n):
        f = np.zeros((60, 60), np.uint16)
        f[10:22, 10 + t:22 + t] = 1
        if blob[0] <= t <= blob[1]:
            f[40:46, 40:46] = 2
        out.append(f)
    return out


def _support() -> TrackSupport:
    """Fitted on rows where cells are long and bright, the rest short and faint."""
    rng = np.random.default_rng(0)
    cells = [[np.log(rng.integers(10, 40)), 0, 0, rng.uniform(3, 6), rng.uniform(0, 0.3),
              rng.uniform(0.85, 0.99)] for _ in range(30)]
    faint = [[np.log(rng.integers(1, 4)), 0, 0, rng.uniform(3, 6), rng.uniform(0, 0.3),
              rng.uniform(0.55, 0.75)] for _ in range(30)]
    return fit_support(np.array(cells + faint), np.r_[np.ones(30), np.zeros(30)])


def test_marker_match_is_the_det_rule():
    """An object matches a marker when it covers more than half of it (3 of 4: yes, 2: no)."""
    labels = np.zeros((4, 8), np.uint16)
    markers = np.zeros((4, 8), np.uint16)
    markers[0, 0:4] = 7
    labels[0, 0:3] = 1
    markers[2, 4:8] = 8
    labels[2, 4:6] = 2
    assert matched_objects(labels, markers) == {1}


def test_lineage_features_by_hand():
    row = lineage_features([(0, 1), (1, 1), (2, 4)], [100, 100, 100], [0.9, 0.8, 0.7], 3)
    assert row == pytest.approx([np.log(3), 1.0, 1.0, np.log(100), 0.0, 0.8])
    assert len(row) == len(FEATURES)


def test_object_probability_is_the_mean_inside_each_object():
    labels = np.array([[1, 1, 0, 2]])
    prob = np.array([[0.5, 1.0, 0.3, 0.2]])
    assert object_probability(labels, prob) == pytest.approx({1: 0.75, 2: 0.2})


def test_fit_separates_and_needs_both_kinds():
    sup = _support()
    p = sup.probability(np.array([[np.log(20), 0, 0, 5.0, 0.1, 0.95],
                                  [np.log(2), 0, 0, 3.5, 0.3, 0.6]]))
    assert p[0] > 0.9 and p[1] < 1 / 11
    with pytest.raises(ValueError, match="at least 5 of each"):
        fit_support(np.ones((8, 6)), np.r_[np.ones(6), np.zeros(2)])


def test_a_faint_flicker_goes_and_the_cell_stays():
    labels = _movie()
    probs = [{k: (0.95 if k == 1 else 0.6) for k in np.unique(f[f > 0]).tolist()}
             for f in labels]
    masks, records = track_global(labels, CFG)
    assert len(records) == 2  # without the learned support the flicker is a track
    masks, records = track_global(labels, CFG, support=_support(), probabilities=probs)
    assert [(r.begin, r.end) for r in records] == [(0, 11)]
    assert all(not (m[40:46, 40:46] > 0).any() for m in masks)


def test_a_bright_short_track_is_kept():
    """The same blob with a cell's probability is kept: the support weighs evidence, not
    only length."""
    labels = _movie()
    probs = [{k: 0.95 for k in np.unique(f[f > 0]).tolist()} for f in labels]
    _, records = track_global(labels, CFG, support=_support(), probabilities=probs)
    assert len(records) == 2


def test_lineage_examples_label_by_markers():
    labels = _movie()
    markers = [np.where(f == 1, 5, 0).astype(np.uint16) for f in labels]  # the blob: none
    probs = [{k: 0.9 for k in np.unique(f[f > 0]).tolist()} for f in labels]
    rows, hits = lineage_examples(labels, CFG, probs, markers)
    order = np.argsort(rows[:, 0])  # the blob spans fewer frames
    assert hits[order].tolist() == [0.0, 1.0]
    assert rows.shape == (2, len(FEATURES))


def test_round_trip_and_bad_files(tmp_path):
    sup = _support()
    again = TrackSupport.from_dict(json.loads(json.dumps(sup.to_dict())))
    assert again == sup
    run = RunDir(tmp_path)
    assert read_support(run.track_support) is None
    run.track_support.write_text(json.dumps(sup.to_dict() | {"weights": [1.0]}))
    from ctc_unet.errors import CtcUnetError

    with pytest.raises(CtcUnetError, match="not a track support"):
        read_support(run.track_support)


def test_learning_frames_leave_out_the_reporting_block_and_its_gap():
    from ctc_unet.workflow.support import learning_blocks

    frames = {t: Path(f"t{t:03d}.tif") for t in range(30)}
    seq = Sequence("01", Path("."), frames, 3, gt_tra=dict(frames))
    split = Split(train=[], val=[], report=[FrameRef("01", t, "GT") for t in range(10, 15)])
    assert learning_blocks(seq, split, 2) == [list(range(0, 8)), list(range(17, 30))]
    split = Split(train=[], val=[], report_sequences=["01"])
    assert learning_blocks(seq, split, 2) == []


def test_a_run_learns_stores_and_uses_its_support(run, synthetic_root, monkeypatch, caplog):
    """On the tiny run: learned on sequence 01 only (02 reports whole), saved, reloaded by
    the predictor when tracking.track_support is on, and absent when it is off."""
    import dataclasses
    import logging

    from ctc_unet.inference.predictor import Predictor
    from ctc_unet.workflow.support import learn_track_support

    monkeypatch.setattr(support_module, "MIN_EXAMPLES", 0)  # the tiny net finds few lineages
    rd = RunDir(run)
    cfg = rd.load_config()
    split = rd.load_split()
    assert split.report_sequences == ["02"]
    with caplog.at_level(logging.INFO):
        sup = learn_track_support(rd, synthetic_root, cfg, torch.device("cpu"))
    record = json.loads(rd.track_support.read_text())
    assert record["frames"] == ["01:0-9"] and record["lineages"] >= 1
    assert read_support(rd.track_support) == sup
    assert "track support learned on 01:0-9" in caplog.text
    assert Predictor.from_run(rd, torch.device("cpu")).support is None  # off by default
    on = dataclasses.replace(cfg, tracking=dataclasses.replace(cfg.tracking,
                                                               track_support=True))
    from ctc_unet.config import dump_config

    dump_config(on, rd.config)
    assert Predictor.from_run(rd, torch.device("cpu")).support == sup


def test_an_exported_package_carries_the_support(run, synthetic_root, tmp_path):
    """export writes the learned support into rdf.yaml; a package loaded by the API, and the
    run directory made from it, track with it."""
    pytest.importorskip("bioimageio.spec")
    import dataclasses

    import ctc_unet
    from ctc_unet.config import dump_config
    from ctc_unet.zoo.package import package_run

    rd = RunDir(run)
    cfg = rd.load_config()
    dump_config(dataclasses.replace(cfg, tracking=dataclasses.replace(
        cfg.tracking, track_support=True)), rd.config)
    sup = _support()
    rd.track_support.write_text(json.dumps(sup.to_dict()))
    package = ctc_unet.export(run, data=synthetic_root, out=tmp_path / "m.bioimageio.zip")
    assert ctc_unet.load_model(package, device="cpu").predictor.support == sup
    assert read_support(package_run(package).track_support) == sup
