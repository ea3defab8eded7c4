"""CT taken apart: which reference tracks are incomplete and why, with py-ctcmetrics' CT."""

from __future__ import annotations

import numpy as np
import pytest
from test_ceiling import _box, _score, _write_gt

from ctc_unet.data.ctc import TrackRecord
from ctc_unet.evaluation.tracks import complete_tracks, incomplete_tracks, marker_matches


def test_marker_matches_reads_a_frame_as_ct_does():
    markers = np.zeros((20, 20), np.int32)
    markers[2:4, 2:4], markers[2:4, 10:12], markers[12:14, 2:4] = 1, 2, 3
    result = np.zeros_like(markers)
    result[1:5, 1:13] = 7   # covers markers 1 and 2: both merged (0)
    result[12:14, 2:3] = 8  # half of marker 3: not more than half, missed (-1)
    assert marker_matches(markers, result) == {1: 0, 2: 0, 3: -1}


def _six_tracks():
    """Reference: A complete; B missed in frame 2; C and D merged into one object in frame
    4; E (0-2) and F (3-5) one cell whose reference track restarts without a parent, which
    the result follows as one track."""
    markers = [np.zeros((64, 64), np.int32) for _ in range(6)]
    masks = [np.zeros((64, 64), np.int32) for _ in range(6)]
    for t in range(6):
        for label, y, x in ((1, 5, 5), (2, 5, 30), (3, 30, 5), (4, 30, 20)):
            _box(markers[t], label, y, x)
        _box(markers[t], 5 if t < 3 else 6, 50, 50)
        _box(masks[t], 10, 5, 5)
        if t != 2:
            _box(masks[t], 20 if t < 2 else 21, 5, 30)
        if t == 4:
            masks[t][30:38, 5:28] = 30  # one object over C and D
        else:
            _box(masks[t], 30, 30, 5)
            _box(masks[t], 40 if t < 4 else 41, 30, 20)
        _box(masks[t], 50, 50, 50)
    reference = [TrackRecord(1, 0, 5, 0), TrackRecord(2, 0, 5, 0), TrackRecord(3, 0, 5, 0),
                 TrackRecord(4, 0, 5, 0), TrackRecord(5, 0, 2, 0), TrackRecord(6, 3, 5, 0)]
    records = [TrackRecord(10, 0, 5, 0), TrackRecord(20, 0, 1, 0), TrackRecord(21, 3, 5, 20),
               TrackRecord(30, 0, 5, 0), TrackRecord(40, 0, 3, 0), TrackRecord(41, 5, 5, 40),
               TrackRecord(50, 0, 5, 0)]
    return markers, reference, masks, records


def test_incomplete_tracks_name_their_causes_and_ct_equals_py_ctcmetrics(tmp_path):
    markers, reference, masks, records = _six_tracks()
    complete, losses = incomplete_tracks(markers, reference, masks, records)
    causes = {loss.label: loss.causes() for loss in losses}
    assert complete == 1 and 1 not in causes
    assert causes[2] == "missed in 2; 2 result labels"
    assert causes[3] == "merged with another cell in 4"
    assert causes[4] == "merged with another cell in 4; 2 result labels"
    assert causes[5] == "its result track spans 0-5"
    assert causes[6] == "its result track spans 0-5"
    gt = _write_gt(tmp_path / "gt", markers, reference)
    scores = _score(tmp_path, "res", masks, records, gt)
    assert complete_tracks(complete, len(reference), len(records)) == pytest.approx(
        scores["CT"]) == pytest.approx(2 / 13)


def test_incomplete_tracks_number_frames_as_the_sequence_does():
    markers, reference, masks, records = _six_tracks()
    shift = [TrackRecord(r.label, r.begin + 10, r.end + 10, r.parent) for r in reference]
    res = [TrackRecord(r.label, r.begin + 10, r.end + 10, r.parent) for r in records]
    complete, losses = incomplete_tracks(iter(markers), shift, iter(masks), res, first=10)
    assert complete == 1
    assert {loss.label: loss.causes() for loss in losses}[2] == "missed in 12; 2 result labels"
