"""The validation protocol (``training/split.py``): which frames train, choose and report, for
every dataset in relative terms, and never a near-copy of a training frame among the frames
that choose or report."""

from __future__ import annotations

import shutil

import pytest

from ctc_unet.config import ConfigError, load_config
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.data.synthetic import write_synthetic_dataset
from ctc_unet.errors import DataError
from ctc_unet.rundir import Split
from ctc_unet.training.split import held_out_block, isbi_split, make_split


def _near(split: Split, gap: int) -> list[tuple]:
    """(training frame, held-out frame) pairs of one sequence closer than ``gap`` + 1."""
    held = [*split.val, *split.report]
    return [(a.t, b.t) for a in split.train for b in held
            if a.sequence == b.sequence and abs(a.t - b.t) <= gap]


def test_two_annotated_sequences_report_the_second_whole(synthetic_root):
    cfg = load_config(None, overrides={"targets": {"source": "GT+ST"}})
    split = make_split(open_ctc_dataset(synthetic_root), cfg)
    assert split.report_sequences == ["02"]
    assert {r.sequence for r in split.report} == {"02"}
    assert [r.t for r in split.report] == list(range(10))  # every annotated frame of 02
    assert {r.sequence for r in split.train} == {"01"}  # nothing of 02 trains ...
    assert {r.sequence for r in split.val} == {"01"}  # ... or chooses
    assert [(r.t, r.source) for r in split.val] == [(8, "ST"), (9, "ST")]  # at least two
    assert max(r.t for r in split.train) == 3  # 4-7: the gap of 4 frames
    assert _near(split, 4) == []
    assert Split.from_json(split.to_json()) == split


def test_one_annotated_sequence_holds_out_a_block_that_chooses_and_reports(tmp_path):
    root = write_synthetic_dataset(tmp_path / "One", n_sequences=1, n_frames=30)
    cfg = load_config(None, overrides={"targets": {"source": "GT+ST"}})
    split = make_split(open_ctc_dataset(root), cfg)
    assert split.report_sequences == []
    assert [r.t for r in split.val] == list(range(26, 30))  # round(0.14 * 30) = 4
    assert [r.t for r in split.report] == list(range(18, 26))  # round(0.26 * 30) = 8
    assert sorted(r.t for r in split.train) == list(range(14))  # 14-17: the gap
    assert max(r.t for r in split.train) == 13 and _near(split, 4) == []
    assert {r.source for r in split.report} == {"GT", "ST"}  # GT where there is one


@pytest.mark.parametrize("n_frames", [6, 9, 12, 40, 84])
def test_other_lengths_get_a_valid_split_or_a_clear_error(n_frames, tmp_path):
    root = write_synthetic_dataset(tmp_path / f"L{n_frames}", n_sequences=1, n_frames=n_frames,
                                   size=64)
    cfg = load_config(None, overrides={"targets": {"source": "GT+ST"}})
    try:
        split = make_split(open_ctc_dataset(root), cfg)
    except DataError as exc:
        assert n_frames < 10
        assert "too few annotated frames" in str(exc) and "split.gap_frames" in str(exc)
        return
    assert split.train and split.val and split.report
    assert _near(split, cfg.split.gap_frames) == []
    held = {r.t for r in split.val} & {r.t for r in split.report}
    assert held == set()
    assert max(r.t for r in split.report) < min(r.t for r in split.val)  # the tail chooses


def test_a_short_pair_of_sequences_works_where_one_sequence_would_not(tmp_path):
    root = write_synthetic_dataset(tmp_path / "Short", n_sequences=2, n_frames=8, size=64)
    cfg = load_config(None, overrides={"targets": {"source": "GT+ST"}})
    split = make_split(open_ctc_dataset(root), cfg)  # 01 trains 0-1, chooses 6-7; 02 reports
    assert sorted(r.t for r in split.train) == [0, 1] and [r.t for r in split.val] == [6, 7]
    with pytest.raises(DataError, match="too few annotated frames"):  # 01 alone: 6-7
        make_split(open_ctc_dataset(root), load_config(None, overrides={  # choose, 4-5
            "split": {"report_sequence": "none", "train_sequences": ["01"]}}))  # report


def test_held_out_block_is_relative_to_the_annotated_frames():
    cfg = load_config(None).split
    # sparse annotations (Fluo-N2DH-GOWT1 01: GT up to frame 47 of 92): the tail of the
    # annotated frames chooses, not the unannotated end of the sequence
    annotated = [2, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 17, 18, 20, 21, 27, 28, 29, 31, 32,
                 33, 34, 37, 39, 40, 41, 44, 45, 46, 47]
    choose, report, cut = held_out_block(annotated, cfg, report=False)
    assert choose == [44, 45, 46, 47] and report == [] and cut == 40
    choose, report, cut = held_out_block(list(range(84)), cfg, report=True)
    assert (choose[0], report[0], report[-1], cut) == (72, 50, 71, 46)


def test_fractions_that_leave_nothing_to_train_are_refused():
    with pytest.raises(ConfigError, match="choose_fraction"):
        load_config(None, overrides={"split": {"choose_fraction": 0.5, "report_fraction": 0.5}})
    with pytest.raises(ConfigError, match=r"split\.gap_frames"):
        load_config(None, overrides={"split": {"gap_frames": -1}})


def test_isbi_slices_follow_the_same_protocol():
    split = isbi_split(30, load_config("ISBI2012"))
    assert [r.t for r in split.train] == list(range(19))  # 19: a one-slice gap
    assert [r.t for r in split.report] == list(range(20, 25))
    assert [r.t for r in split.val] == list(range(25, 30))


def test_report_sequence_is_scored_whole(tiny_run, synthetic_root):
    from ctc_unet.evaluation.selection import frame_selection
    from ctc_unet.rundir import RunDir

    run = RunDir(tiny_run)
    assert frame_selection(run, "report", ["01", "02"]) == {"02": (None, None)}
    assert frame_selection(run, "choose", ["01", "02"]) == {"01": ((8, 9), None)}


def test_a_sequence_named_for_reporting_must_not_train(synthetic_root):
    cfg = load_config(None, overrides={"split": {"report_sequence": "01",
                                                 "train_sequences": ["01", "02"]}})
    with pytest.raises(DataError, match="reported on"):
        make_split(open_ctc_dataset(synthetic_root), cfg)


# --------------------------------------------------------------------------- the real data


def test_dic_hela_split_is_pinned(shared_data):
    cfg = load_config("DIC-C2DH-HeLa", profile="cpu")
    split = make_split(open_ctc_dataset(shared_data / "DIC-C2DH-HeLa"), cfg)
    assert [r.t for r in split.val] == list(range(72, 84))
    assert [r.t for r in split.report] == list(range(50, 72))
    assert [r.t for r in split.report if r.source == "GT"] == [54, 67]
    assert [r.t for r in split.train] == [2, 5, 21, 31, 33, 34, 39, *(
        t for t in range(46) if t not in (2, 5, 21, 31, 33, 34, 39))]
    assert _near(split, 4) == []


def test_gowt1_split_reports_sequence_02_whole(shared_data):
    root = shared_data / "Fluo-N2DH-GOWT1"
    if not root.is_dir():
        pytest.skip("Fluo-N2DH-GOWT1 not in the shared data")
    split = make_split(open_ctc_dataset(root), load_config("Fluo-N2DH-GOWT1", profile="cpu"))
    assert split.report_sequences == ["02"] and len(split.report) == 20
    assert {r.sequence for r in [*split.train, *split.val]} == {"01"}
    assert [r.t for r in split.val] == [44, 45, 46, 47]
    assert max(r.t for r in split.train) == 39 and _near(split, 4) == []


def test_a_copy_of_six_frames_gets_a_clear_error(shared_data, tmp_path):
    """A new user's 6-frame copy of DIC-HeLa: one line saying what is needed."""
    src = shared_data / "DIC-C2DH-HeLa"
    dst = tmp_path / "DIC-C2DH-HeLa"
    for sub, pattern in (("01", "t{:03d}.tif"), ("01_ST/SEG", "man_seg{:03d}.tif"),
                         ("01_GT/TRA", "man_track{:03d}.tif")):
        (dst / sub).mkdir(parents=True)
        for t in range(6):
            shutil.copy(src / sub / pattern.format(t), dst / sub / pattern.format(t))
    (dst / "01_GT/SEG").mkdir()
    shutil.copy(src / "01_GT/SEG/man_seg002.tif", dst / "01_GT/SEG/man_seg002.tif")
    with pytest.raises(DataError, match=r"too few annotated frames for the validation "
                       r"protocol \(6: the last 2 choose, the 2 before them report"):
        make_split(open_ctc_dataset(dst), load_config("DIC-C2DH-HeLa", profile="cpu"))


def test_the_split_says_how_it_spends_the_annotated_frames(tmp_path, caplog):
    root = write_synthetic_dataset(tmp_path / "One", n_sequences=1, n_frames=30)
    cfg = load_config(None, overrides={"targets": {"source": "GT+ST"}})
    with caplog.at_level("INFO", logger="ctc_unet.training.split"):
        make_split(open_ctc_dataset(root), cfg)
    assert ("sequence 01: 14 of its 30 annotated frames train, 4 choose, 8 report, 4 lie "
            "within split.gap_frames of the held-out block") in caplog.text
    # one annotated sequence with dense masks (train.refit auto leaves it): the all-frames
    # model is one command away
    assert ("learns from 14 of the 30 frames of sequence 01 with masks (GT+ST); once it has "
            "chosen, `ctc-unet refit RUN` trains the same recipe on all 30") in caplog.text


def test_no_refit_hint_where_a_second_sequence_reports(synthetic_root, caplog):
    with caplog.at_level("INFO", logger="ctc_unet.training.split"):
        make_split(open_ctc_dataset(synthetic_root), load_config(None))
    assert "sequence 01:" in caplog.text and "ctc-unet refit" not in caplog.text
