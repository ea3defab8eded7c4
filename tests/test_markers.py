"""TRA markers as supervision (``targets.markers``): a dataset with SEG masks on a few frames
and markers on all trains on every annotated frame of its training part, never on a frame
that chooses or reports (nor within the gap before them), and a marker frame teaches its
markers as cell, the far background as background, and ignores the band between."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ctc_unet.config import load_config
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.targets.frames import load_frame, typical_reach
from ctc_unet.targets.ignore import cell_reach, marker_band
from ctc_unet.training.split import make_split


def _sparse(synthetic_root, tmp_path, gt: set[int], keep_02: bool = False):
    """The synthetic dataset with GT masks on the frames ``gt`` of 01 only (its silver truth
    there), no ST, and 02 with SEG only with ``keep_02``; markers on every frame of both."""
    root = shutil.copytree(synthetic_root, tmp_path / "Sparse-C2DH")
    shutil.rmtree(root / "01_GT" / "SEG")
    (root / "01_GT" / "SEG").mkdir()
    for t in sorted(gt):
        shutil.copy(root / "01_ST" / "SEG" / f"man_seg{t:03d}.tif", root / "01_GT" / "SEG")
    shutil.rmtree(root / "01_ST")
    shutil.rmtree(root / "02_ST")
    if not keep_02:
        shutil.rmtree(root / "02_GT" / "SEG")
    return root


@pytest.fixture
def sparse(synthetic_root, tmp_path):
    return _sparse(synthetic_root, tmp_path, {0, 2, 4, 6, 8})


def _cfg(markers: bool, **split):
    return load_config(None, overrides={"targets": {"source": "GT", "markers": markers},
                                        "split": {"choose_fraction": 0.34,
                                                  "report_fraction": 0.2, "gap_frames": 1,
                                                  **split}})


def test_marker_frames_train_only_before_the_held_out_block(sparse):
    dataset = open_ctc_dataset(sparse)  # GT on 0, 2, 4, 6, 8 of 01
    plain = make_split(dataset, _cfg(False, report_sequence="none"))
    split = make_split(dataset, _cfg(True, report_sequence="none"))
    assert [(r.t, r.source) for r in plain.train] == [(0, "GT"), (2, "GT")]
    held = {r.t for r in (*split.val, *split.report)}
    assert held == {4, 6, 8} and {r.t for r in split.val} == {6, 8}
    cut = min(held) - 1  # gap_frames 1 before the held-out block
    assert sorted((r.t, r.source) for r in split.train) == [
        (0, "GT"), (1, "TRA"), (2, "GT")]  # 3 is in the gap: every frame < cut trains
    assert all(r.t < cut for r in split.train)
    assert all(r.source != "TRA" for r in (*split.val, *split.report))


def test_a_reported_sequence_gives_no_marker_frames(synthetic_root, tmp_path):
    root = _sparse(synthetic_root, tmp_path, {0, 2, 4, 6, 8}, keep_02=True)
    split = make_split(open_ctc_dataset(root), _cfg(True))
    assert split.report_sequences == ["02"]
    assert {r.sequence for r in split.train} == {"01"}
    assert {r.source for r in split.train} == {"GT", "TRA"}


def test_a_marker_frame_teaches_markers_and_far_background(sparse):
    dataset = open_ctc_dataset(sparse)
    cfg = _cfg(True, report_sequence="none")
    ref = next(r for r in make_split(dataset, cfg).train if r.source == "TRA")
    frame = load_frame(dataset, ref, cfg.targets)
    seq = dataset.sequences[ref.sequence]
    markers = seq.read_gt_tra(ref.t)
    assert np.array_equal(frame.labels, markers.astype(np.int32))
    assert frame.ignore is not None and not (frame.ignore & (markers > 0)).any()
    reach = typical_reach(seq)
    far = ~marker_band(markers, reach, cfg.targets.ignore_margin) & (markers == 0)
    assert np.array_equal(~frame.ignore & (markers == 0), far)
    assert reach > 0 and far.any()


def test_cell_reach_is_the_quantile_of_centroid_distances():
    mask = np.zeros((40, 80), np.int32)
    mask[10:13, 10:13] = 1           # reach sqrt(2)
    mask[20, 20:41] = 2              # a line of 21 px: reach 10 from its centre
    assert cell_reach([mask]) == pytest.approx(np.sqrt(2) + 0.95 * (10 - np.sqrt(2)))
    band = marker_band(mask == 1, 2.0, 1)
    assert band[11, 15] and not band[11, 16] and not band[11, 11]


def test_markers_need_some_masks_to_learn_the_cell_size(sparse):
    from ctc_unet.errors import DataError

    for p in (sparse / "01_GT" / "SEG").glob("*.tif"):
        p.unlink()
    with pytest.raises(DataError):
        typical_reach(open_ctc_dataset(sparse).sequences["01"])


def test_the_choosing_region_lends_its_markers_to_the_choice(sparse):
    from ctc_unet.rundir import Split

    dataset = open_ctc_dataset(sparse)  # GT on 0, 2, 4, 6, 8 of 01: 6 and 8 choose
    off = make_split(dataset, _cfg(False, report_sequence="none"))
    on = make_split(dataset, _cfg(False, report_sequence="none", choose_markers=True))
    assert off.choose_markers == [] and "choose_markers" not in off.to_json()
    assert [(r.t, r.source) for r in on.choose_markers] == [(7, "TRA"), (9, "TRA")]
    assert Split.from_json(on.to_json()) == on
    assert (on.train, on.val, on.report) == (off.train, off.val, off.report)
    assert "for DET" in on.describe()


def test_frames_without_a_mask_count_in_det_not_in_seg():
    from ctc_unet.postprocess.search import search_postprocess

    cell = np.zeros((40, 40), np.int32)
    cell[10:20, 10:20] = 1
    prob = np.where(cell > 0, 0.9, 0.1).astype(np.float32)
    blank = np.full((40, 40), 0.1, np.float32)  # the marker's cell is missed here
    cfg = load_config(None)
    with_marker = search_postprocess([prob, blank], [cell, None], cfg, [cell, cell],
                                     rules=False)
    alone = search_postprocess([prob], [cell], cfg, [cell], rules=False)
    assert with_marker["seg"] == alone["seg"] == 1.0
    assert alone["det"] == 1.0 and with_marker["det"] < 1.0


def test_a_sparse_dataset_trains_on_every_annotated_frame(synthetic_root, tmp_path):
    """SEG on two frames of 01, markers on all: the run trains on every frame of its training
    part, records which trained (by source), chose and reported, and chooses its
    post-processing with the choosing region's markers too."""
    from conftest import TINY_OVERRIDES, train_through_api

    from ctc_unet.rundir import Split

    root = _sparse(synthetic_root, tmp_path, {0, 2, 4, 6, 8}, keep_02=True)
    overrides = {**TINY_OVERRIDES,
                 "targets": {"source": "GT", "markers": True},
                 "split": {"choose_fraction": 0.34, "gap_frames": 1, "choose_markers": True},
                 "train": {**TINY_OVERRIDES["train"], "iterations": 10, "val_every": 10,
                           "checkpoint_every": 10}}
    run = train_through_api(root, tmp_path, overrides)
    split = Split.from_json(run.split.read_text())
    assert sorted((r.t, r.source) for r in split.train) == [
        (0, "GT"), (1, "TRA"), (2, "GT"), (3, "TRA"), (4, "GT")]  # 5: the gap before 6
    assert [r.t for r in split.val] == [6, 8] and split.report_sequences == ["02"]
    assert [(r.t, r.source) for r in split.choose_markers] == [(7, "TRA"), (9, "TRA")]
    chosen = json.loads(run.postprocess.read_text())
    assert chosen["frames"][-2:] == ["01:7 (TRA)", "01:9 (TRA)"]
