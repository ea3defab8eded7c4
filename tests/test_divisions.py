"""Division evidence (issue 23): cues a mitosis shows on any sequence, weighed together."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ctc_unet.config import TrackingConfig
from ctc_unet.tracking.divisions import FLOOR, Candidate, cues, evidence, ramp
from ctc_unet.tracking.linking import track_global

TEXTBOOK = Candidate(mother_area=100.0, mother_yx=(50.0, 50.0),
                     mother_history=(120.0,) * 10, mother_frames=12,
                     daughter_areas=(60.0, 55.0), daughter_yx=((50.0, 40.0), (50.0, 61.0)),
                     daughter_frames=(20, 20))


def test_ramp_runs_from_floor_to_one_between_its_anchors_either_way():
    assert ramp(0.0, 0.2, 0.6) == FLOOR and ramp(1.0, 0.2, 0.6) == 1.0
    assert ramp(0.4, 0.2, 0.6) == pytest.approx(FLOOR + (1 - FLOOR) / 2)
    assert ramp(2.0, 1.8, 1.15) == FLOOR and ramp(1.0, 1.8, 1.15) == 1.0  # falling ramp


def test_a_textbook_division_has_every_cue_for_it():
    assert all(v == 1.0 for v in cues(TEXTBOOK).values())
    assert evidence(TEXTBOOK) == 1.0


def test_one_strong_cue_against_outweighs_the_rest():
    merged = replace(TEXTBOOK, mother_area=230.0, mother_history=(110.0,) * 10,
                     daughter_areas=(115.0, 112.0))  # two cells merged, coming apart
    assert cues(merged)["rounded"] == FLOOR and evidence(merged) < 0.5
    same_side = replace(TEXTBOOK, daughter_yx=((40.0, 60.0), (60.0, 62.0)))
    assert evidence(same_side) < 0.5
    flicker = replace(TEXTBOOK, daughter_frames=(1, 20))
    assert evidence(flicker) < 0.5


def test_a_cue_just_past_a_former_cut_off_no_longer_decides_alone():
    """DIC-HeLa 01 frame 64 (silver truth): daughters of 3682 and 7400 px (ratio 0.498, under
    the old 0.5 cut-off), on opposite sides of the mother: a division."""
    near = replace(TEXTBOOK, daughter_areas=(49.8, 100.0))
    assert 0.5 < evidence(near) < 1.0


def _frames(n: int) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        f = np.zeros((48, 64), np.uint16)
        f[40:46, 56:62] = 9  # a still cell: no frame is empty
        out.append(f)
    return out


def _divisions(records) -> list[int]:
    kids: dict[int, int] = {}
    for r in records:
        if r.parent:
            kids[r.parent] = kids.get(r.parent, 0) + 1
    return [p for p, n in kids.items() if n == 2]


@pytest.mark.parametrize("rule", ["evidence", "cutoffs"])
def test_unequal_ragged_daughters_divide_under_evidence_only(rule):
    """A round mother splits into daughters of about 45 and 100 px with ragged outlines
    (seeded): the evidence rule finds the division, the cut-off rule (ratio >= 0.5) does not."""
    rng = np.random.default_rng(3)
    frames = _frames(12)
    for t in range(12):
        j = rng.integers(0, 2, 4)
        if t < 6:
            frames[t][10 + j[0]:24 + j[1], 18:30] = 1  # the mother, about 170 px
        else:
            d = t - 6
            frames[t][12 + j[0]:21 + j[1], 16 - d:21 - d] = 1  # about 45 px
            frames[t][11 + j[2]:22 + j[3], 22 + d:31 + d] = 2  # about 100 px
    cfg = replace(TrackingConfig(), division_rule=rule)
    found = _divisions(track_global(frames, cfg)[1])
    assert len(found) == (1 if rule == "evidence" else 0)


def test_two_touching_cells_that_merge_and_part_are_not_a_division():
    """Two cells segmented as one object for three frames, then apart again: the object's
    area doubled against the tracklet's own history, so its end is no division."""
    frames = _frames(14)
    for t in range(14):
        if 5 <= t < 8:
            frames[t][10:20, 10:32] = 1  # merged: 220 px
        else:
            frames[t][10:20, 10:20] = 1
            frames[t][10:20, 22:32] = 2
    assert not _divisions(track_global(frames, TrackingConfig())[1])
    cutoffs = replace(TrackingConfig(), division_rule="cutoffs")
    assert len(_divisions(track_global(frames, cutoffs)[1])) == 1  # each limit passes alone
