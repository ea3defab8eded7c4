"""Greedy overlap tracking and CTC results that py-ctcmetrics accepts."""

from __future__ import annotations

import numpy as np
from ctc_metrics.scripts.validate import validate_sequence

from ctc_unet.data.ctc import TrackRecord, parse_man_track, write_results
from ctc_unet.data.synthetic import make_sequence
from ctc_unet.tracking.overlap import track


def frame(*boxes: tuple[int, int, int, int, int]) -> np.ndarray:
    lab = np.zeros((40, 40), np.uint16)
    for label, y, x, h, w in boxes:
        lab[y:y + h, x:x + w] = label
    return lab


def test_continuation_division_birth_and_end():
    frames = [
        frame((5, 5, 5, 10, 10), (9, 25, 25, 8, 8)),             # two cells
        frame((1, 6, 6, 10, 10), (2, 26, 25, 8, 8)),             # both move a little
        frame((3, 4, 5, 6, 10), (4, 11, 5, 6, 10), (7, 30, 0, 5, 5)),  # 1st divides, 2nd gone,
    ]                                                             # a new cell appears
    masks, records = track(frames)
    a, b = masks[0][10, 10], masks[0][28, 28]
    assert masks[1][10, 10] == a and masks[1][28, 28] == b  # ids kept over time
    d1, d2, new = masks[2][6, 8], masks[2][13, 8], masks[2][32, 2]
    assert len({a, b, d1, d2, new}) == 5
    rec = {r.label: r for r in records}
    assert rec[a] == TrackRecord(a, 0, 1, 0)
    assert rec[b] == TrackRecord(b, 0, 1, 0)  # no successor: the track ends
    assert rec[d1] == TrackRecord(d1, 2, 2, a) and rec[d2] == TrackRecord(d2, 2, 2, a)
    assert rec[new] == TrackRecord(new, 2, 2, 0)


def test_small_overlap_does_not_link():
    _masks, records = track([frame((1, 0, 0, 10, 10)), frame((1, 9, 9, 10, 10))],
                           min_overlap=0.1)
    assert len(records) == 2 and all(r.parent == 0 for r in records)


def test_merge_continues_the_larger_overlap():
    masks, records = track([frame((1, 0, 0, 10, 10), (2, 0, 12, 10, 4)),
                            frame((5, 0, 0, 10, 16))])
    assert masks[1][0, 0] == masks[0][0, 0]
    assert {r.label: r.end for r in records}[masks[0][0, 12]] == 0


def test_synthetic_sequences_give_valid_ctc_results_with_a_division(tmp_path):
    for seed in (0, 1):
        seq = make_sequence(np.random.default_rng(seed), 128, 8)
        masks, records = track(list(seq.labels))
        assert sum(r.parent > 0 for r in records) == 2  # one division, two daughters
        res = write_results(tmp_path / f"s{seed}", "01", list(range(8)), masks,
                            records=records, digits=3)
        assert sorted(p.name for p in res.iterdir())[:2] == ["mask000.tif", "mask001.tif"]
        assert validate_sequence(str(res), threads=1)["Valid"] == 1
        assert parse_man_track(res / "res_track.txt") == records


def test_results_replace_older_results_atomically(tmp_path):
    lab = [frame((1, 0, 0, 5, 5))]
    masks, records = track(lab)
    first = write_results(tmp_path, "02", [7], masks, records=records, digits=4)
    assert (first / "mask0007.tif").is_file()
    (first / "mask0099.tif").write_bytes((first / "mask0007.tif").read_bytes())  # older
    again = write_results(tmp_path, "02", [7], masks, records=records, digits=4)
    assert not (again / "mask0099.tif").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["02_RES"]
    assert (again / "res_track.txt").read_text() == "1 7 7 0\n"
