"""The tracking ceiling of a set of masks: TRA equals its hand-computed value and no tracker
labelling the same masks scores higher."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from conftest import benchmark_module

from ctc_unet.config import TrackingConfig
from ctc_unet.data.ctc import TrackRecord, format_tracks, write_results
from ctc_unet.evaluation.ctc import evaluate_ctc_sequence
from ctc_unet.tracking.linking import track_instances

ceiling_tracks = benchmark_module("ceiling").ceiling_tracks
true_positives = benchmark_module("ceiling").true_positives


def _box(frame: np.ndarray, label: int, y: int, x: int, size: int = 8) -> None:
    frame[y:y + size, x:x + size] = label


def _write_gt(folder, markers: list[np.ndarray], records: list[TrackRecord]):
    tra = folder / "01_GT" / "TRA"
    tra.mkdir(parents=True)
    for t, m in enumerate(markers):
        tifffile.imwrite(tra / f"man_track{t:03d}.tif", m.astype(np.uint16))
    (tra / "man_track.txt").write_text(format_tracks(records))
    return folder / "01_GT"


def _score(tmp_path, name, masks, records, gt):
    res = write_results(tmp_path / name, "01", list(range(len(masks))), masks,
                        records=records, digits=3)
    return evaluate_ctc_sequence(res, gt)


def _division_with_a_missed_frame():
    """A mother (frames 0-2) divides into two daughters (3-5); the masks miss the mother in
    frame 1 and the first daughter in frame 3, and hold one object that is no cell."""
    markers = [np.zeros((48, 48), np.int32) for _ in range(6)]
    for t in range(3):
        _box(markers[t], 1, 20, 20)
    for t in range(3, 6):
        _box(markers[t], 2, 10, 20)
        _box(markers[t], 3, 30, 20)
    records = [TrackRecord(1, 0, 2, 0), TrackRecord(2, 3, 5, 1), TrackRecord(3, 3, 5, 1)]
    masks = [m.copy() * 5 for m in markers]  # other labels than the markers'
    masks[1][:] = 0
    masks[3][masks[3] == 10] = 0
    _box(masks[4], 40, 0, 0, 4)  # a false positive
    return markers, records, masks


def test_true_positives_are_objects_matching_one_marker():
    markers = np.zeros((20, 20), np.int32)
    markers[2:4, 2:4], markers[2:4, 10:12], markers[12:14, 2:4] = 1, 2, 3
    result = np.zeros_like(markers)
    result[1:5, 1:13] = 7  # covers markers 1 and 2: matches two, no true positive
    result[12:14, 2:3] = 8  # half of marker 3: not more than half, no match
    result[15:19, 15:19] = 9
    assert true_positives(markers, result) == {}
    result[12:14, 2:4] = 8
    assert true_positives(markers, result) == {3: 8}


def test_ceiling_tra_is_its_hand_computed_value_and_beats_the_tracker(tmp_path):
    markers, records, masks = _division_with_a_missed_frame()
    gt = _write_gt(tmp_path / "gt", markers, records)
    out, tracks = ceiling_tracks(masks, markers, records)
    for m, o in zip(masks, out, strict=True):  # the same objects, relabelled
        assert np.array_equal(m > 0, o > 0)
    ceiling = _score(tmp_path, "ceiling", out, tracks, gt)
    # 9 markers and 8 reference edges (6 track links, 2 parent links): AOGM0 = 10 x 9 +
    # 1.5 x 8 = 102. The masks miss 2 markers (FN: 2 x 10) and add an object (FP: 1); the
    # edges touching a missed node cannot be right: mother 0-1 and 1-2, mother -> first
    # daughter, first daughter 3-4 (EA: 4 x 1.5). Nothing else costs.
    assert ceiling["TRA"] == pytest.approx(1 - (20 + 1 + 6) / 102)
    second = [r for r in tracks if r.begin == 3 and r.parent]
    assert len(second) == 1  # the second daughter keeps its parent link
    tracked, tracker_records = track_instances(masks, TrackingConfig())
    assert _score(tmp_path, "tracker", tracked, tracker_records, gt)["TRA"] <= ceiling["TRA"]


def test_ceiling_of_the_reference_itself_is_perfect(tmp_path):
    markers, records, _ = _division_with_a_missed_frame()
    gt = _write_gt(tmp_path / "gt", markers, records)
    out, tracks = ceiling_tracks(markers, markers, records)
    scores = _score(tmp_path, "ceiling", out, tracks, gt)
    assert scores["TRA"] == pytest.approx(1.0) and scores["BC(0)"] == pytest.approx(1.0)
    assert scores["divisions"] == 1
