"""The global tracker (issue 15): a division is found, a flicker is not, a gap keeps the
track going, linking is globally optimal, and `ctc-unet track` writes a valid result."""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import replace

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import TrackingConfig
from ctc_unet.tracking.linking import track_global
from ctc_unet.tracking.overlap import track
from ctc_unet.tracking.tracklets import link_frames

runner = CliRunner()
CFG = TrackingConfig()


def _frames(n: int) -> list[np.ndarray]:
    """n empty 40x40 frames, each with a still cell in a corner (no frame is ever empty)."""
    out = []
    for _ in range(n):
        f = np.zeros((40, 48), np.uint16)
        f[30:38, 38:46] = 9
        out.append(f)
    return out


def _divisions(records) -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for r in records:
        if r.parent:
            kids.setdefault(r.parent, []).append(r.label)
    return {p: k for p, k in kids.items() if len(k) == 2}


def test_a_real_division_is_found():
    frames = _frames(10)
    for t in range(5):
        frames[t][10:20, 10:20] = 1  # the mother, 100 px
    for t in range(5, 10):
        d = t - 5
        frames[t][10:20, 9 - d:14 - d] = 1  # two halves of 50 px drifting apart
        frames[t][10:20, 16 + d:21 + d] = 2
    _, records = track_global(frames, CFG)
    divisions = _divisions(records)
    assert len(divisions) == 1
    mother = next(iter(divisions))
    assert {r.label: r for r in records}[mother].end == 4
    assert all({r.label: r for r in records}[k].begin == 5 for k in divisions[mother])
    # the greedy tracker finds it too: both halves claim the mother
    assert len(_divisions(track(frames)[1])) == 1


def test_a_cell_that_flickers_into_two_fragments_is_not_a_division():
    frames = _frames(10)
    for t in range(10):
        if t == 4:
            frames[t][10:20, 10:16] = 1  # 60 px and 40 px fragments, touching
            frames[t][10:20, 16:20] = 2
        else:
            frames[t][10:20, 10:20] = 1
    assert not _divisions(track_global(frames, replace(CFG, fragment_area=0.0))[1])
    masks, records = track_global(frames, CFG)  # default: the fragment is merged back
    assert not _divisions(records)
    cell = {int(m[15, 12]) for m in masks}
    assert len(cell) == 1 and int(masks[4][15, 18]) == cell.pop()  # the fragment merged
    assert len(records) == 2  # the cell and the still one
    # the greedy tracker calls this a division
    assert len(_divisions(track(frames)[1])) == 1


def test_a_cell_split_for_two_frames_whose_fragment_goes_on_stays_one_track():
    """The cell splits into two halves for frames 4-5; the half that did not take the cell's
    identity is the one the whole cell links to in frame 6 (GOWT1 02's watershed splits
    large nuclei like this). One track, both halves its pixels, no division."""
    frames = _frames(10)
    for t in range(10):
        if t == 4:
            frames[t][10:20, 10:16], frames[t][10:20, 16:20] = 1, 2  # 60 + 40 px
        elif t == 5:
            frames[t][10:20, 10:13], frames[t][10:20, 13:20] = 1, 2  # 30 + 70 px
        else:
            frames[t][10:20, 10:20] = 1
    old = track_global(frames, replace(CFG, fragment_goes_on=False))
    assert len(old[1]) == 3 and not _divisions(old[1])  # the cell breaks into two tracks
    masks, records = track_global(frames, CFG)
    assert not _divisions(records) and len(records) == 2
    cell = {int(m[15, 11]) for m in masks}
    assert len(cell) == 1 and all(int(masks[t][15, 18]) == next(iter(cell)) for t in range(10))
    assert {(r.begin, r.end) for r in records} == {(0, 9)}


def test_a_cell_touching_a_neighbour_that_splits_into_fragments_is_not_a_division():
    """A cell beside a touching neighbour breaks into two fragments for two frames (ragged
    outlines, seeded), then is whole again: no division, and the neighbour keeps its track."""
    rng = np.random.default_rng(1)
    frames = _frames(12)
    for t in range(12):
        r = rng.integers(-1, 2, 2)
        frames[t][10:20, 21:31] = 3  # the neighbour, touching the cell's right edge
        if t in (5, 6):
            frames[t][10 + r[0]:20, 10:15] = 1
            frames[t][10:20 + r[1], 15:21] = 2
        else:
            frames[t][10 + r[0]:20 + r[1], 10:21] = 1
    masks, records = track_global(frames, CFG)
    assert not _divisions(records)
    neighbour = {int(m[15, 28]) for m in masks}
    assert len(neighbour) == 1  # one track from the first frame to the last
    assert len(_divisions(track(frames)[1])) == 1  # the greedy tracker calls it a division


def test_a_cell_missed_for_one_frame_goes_on_across_the_gap():
    frames = _frames(10)
    for t in range(10):
        if t != 4:
            frames[t][10 + t:20 + t, 10:20] = 1
    masks, records = track_global(frames, CFG)
    by_label = {r.label: r for r in records}
    before, after = int(masks[3][15, 15]), int(masks[5][18, 15])
    assert by_label[before].end == 3 and by_label[after].begin == 5
    assert by_label[after].parent == before  # CTC's encoding of a gap: a parent link
    assert not _divisions(records)


def test_linking_is_globally_optimal_where_greedy_is_wrong():
    # areas 100; A overlaps X by 55 and Y by 40, B overlaps X by 40 and Y by 10. Largest
    # overlap first takes A-X (IoU .38) and leaves B-Y (.05): 0.43 in all; the assignment
    # A-Y + B-X gives 0.5.
    prev = {1: (100, 0.0, 0.0), 2: (100, 0.0, 0.0)}
    cur = {7: (100, 0.0, 0.0), 8: (100, 0.0, 0.0)}
    inter = {(1, 7): 55, (1, 8): 40, (2, 7): 40, (2, 8): 10}
    assert link_frames(prev, cur, inter, min_iou=0.05) == {1: 8, 2: 7}


def _write(folder, frames, name="mask"):
    folder.mkdir(parents=True)
    for t, f in enumerate(frames):
        tifffile.imwrite(folder / f"{name}{t:03d}.tif", f)
    return folder


def test_cli_track_writes_a_valid_result(tmp_path):
    from ctc_metrics.scripts.validate import validate_sequence

    frames = _frames(8)
    for t in range(8):
        frames[t][5:15, 5 + t:15 + t] = 3
    masks = _write(tmp_path / "seg", frames, "man_seg")
    result = runner.invoke(app, ["track", str(masks), "--out", str(tmp_path / "01_RES")])
    assert result.exit_code == 0, result.output
    assert "2 tracks, 0 divisions" in result.output
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate_sequence(str(tmp_path / "01_RES"), threads=1)["Valid"] == 1


def test_cli_track_bad_input_writes_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    shapes = _write(tmp_path / "shapes", _frames(2))
    tifffile.imwrite(shapes / "mask002.tif", np.zeros((10, 10), np.uint16))
    floats = _write(tmp_path / "floats", _frames(2))
    tifffile.imwrite(floats / "mask002.tif", np.zeros((40, 48), np.float32))
    for folder, msg in ((tmp_path / "empty", "no masks"), (shapes, "differs"),
                        (floats, "integers"), (tmp_path / "nowhere", "not found")):
        out = tmp_path / f"{folder.name}_RES"
        result = runner.invoke(app, ["track", str(folder), "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert msg in result.stderr and "Traceback" not in result.output
        assert not out.exists() and not list(tmp_path.glob(f".{out.name}*"))


def test_a_track_keeps_its_identity_when_its_object_splits_into_halves_for_a_frame():
    """Frame 4 holds a moving cell in two halves; the half that continues the track overlaps
    the whole cell of frame 5 less than the other half does. Looking one frame back (the whole
    cell of frame 3) keeps the track; frame-to-frame IoU alone hands it to the other half."""
    frames = _frames(10)
    for t in range(10):
        x = 10 + 2 * max(0, t - 4)
        if t == 4:
            frames[t][10:20, 10:21] = 1
            frames[t][10:20, 21:30] = 2
        else:
            frames[t][10:20, x:x + 20] = 1

    def cell_labels(cfg):
        masks, _ = track_global(frames, cfg)
        return int(masks[0][15, 15]), int(masks[9][15, 25])

    first, last = cell_labels(CFG)
    assert first == last
    first, last = cell_labels(replace(CFG, link_lookback=False, fragment_goes_on=False))
    assert first != last
    # without looking back, the half that goes on is the cell and the other its fragment
    first, last = cell_labels(replace(CFG, link_lookback=False))
    assert first == last


def test_a_short_object_beside_a_cell_that_the_cell_does_not_take_back_stays_apart():
    """A cell shrinks and something small appears for two frames where its edge was, then
    goes; the cell's next object does not cover it, so it is no fragment of the cell: its own
    track, the cell's mask unchanged."""
    frames = _frames(10)
    for t in range(10):
        frames[t][10:20, 10:20 if t < 4 else 18] = 1
        if t in (4, 5):
            frames[t][10:14, 18:21] = 2  # 12 px, within fragment_area of the cell
    masks, records = track_global(frames, CFG)
    cell = int(masks[4][15, 15])
    assert int(masks[4][11, 19]) not in (0, cell)
    assert not _divisions(records)


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
    cfg = replace(CFG, division_rule=rule)
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
    assert not _divisions(track_global(frames, CFG)[1])
    cutoffs = replace(CFG, division_rule="cutoffs")
    assert len(_divisions(track_global(frames, cutoffs)[1])) == 1  # each limit passes alone


def test_a_cell_that_shrinks_to_a_remnant_keeps_its_track_when_containment_may_link():
    """Frame 5 holds what is left of a 10x10 cell (2x2 inside it: IoU 0.04, under min_iou):
    with link_cover the remnant ends the cell's track; without, it starts a track of its own.
    A remnant beside the cell (outside it) never links."""
    frames = _frames(6)
    for t in range(5):
        frames[t][10:20, 10:20] = 1
    frames[5][14:16, 14:16] = 1

    def tracks(cfg):
        masks, records = track_global(frames, cfg)
        return len(records), int(masks[0][15, 15]) == int(masks[5][15, 15])

    assert tracks(replace(CFG, link_cover=0.0)) == (3, False)
    assert tracks(replace(CFG, link_cover=0.5)) == (2, True)
    frames[5][:] = 0
    frames[5][30:38, 38:46] = 9
    frames[5][14:16, 21:23] = 1  # beside where the cell was: no overlap, no link
    assert tracks(replace(CFG, link_cover=0.5))[0] == 3
