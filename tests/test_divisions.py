"""Division evidence (issue 23): cues a mitosis shows on any sequence, weighed together
(tests of the tracker deciding with it: tests/test_tracking_global.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ctc_unet.tracking.divisions import FLOOR, Candidate, cues, evidence, ramp

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
