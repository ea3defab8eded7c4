"""Measures as their owners compute them: ISBI 2012 scores (Fiji), DET on arrays against
py-ctcmetrics, clipped sub-sequences, the biological CTC measures, and the validation
protocol (what chooses never reports)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import load_config
from ctc_unet.data.ctc import TrackRecord, open_ctc_dataset, write_results
from ctc_unet.evaluation.clip import clip_tracks
from ctc_unet.evaluation.ctc import evaluate_ctc_sequence
from ctc_unet.evaluation.det import det_measure, detection_counts
from ctc_unet.evaluation.isbi import isbi_measures, rand_info_scores, thin_borders
from ctc_unet.postprocess.search import search_postprocess
from ctc_unet.tracking.overlap import track

runner = CliRunner()


def _one_cell() -> np.ndarray:
    gt = np.zeros((12, 12), np.int32)
    gt[1:11, 1:11] = 1  # 100 px of cell
    return gt


def test_split_cell_scores_its_hand_computed_value():
    gt = _one_cell()
    prop = gt > 0
    prop[:, 5] = False  # a 1-px membrane cuts the cell into 40 + 50 px; its 10 px are dams
    # p(A) = .4, p(B) = .5, 10 singletons: sumB2 = sumAB2 = .16 + .25 + .1 / 100 = .411,
    # sumA2 = 1: precision 1, recall .411, V_Rand = 2 * .411 / 1.411
    v_rand, _ = rand_info_scores(gt, thin_borders(prop))
    assert v_rand == pytest.approx(2 * 0.411 / 1.411)


def test_merged_cells_score_their_hand_computed_value():
    gt = np.zeros((12, 13), np.int32)
    gt[1:11, 1:6], gt[1:11, 7:12] = 1, 2
    prop = gt > 0
    prop[1:11, 6] = True  # the membrane between them is missing: one 110 px segment
    # p = .5, .5 in one segment: sumA2 = .5, sumB2 = 1, sumAB2 = .5: P = .5, R = 1
    v_rand, _ = rand_info_scores(gt, thin_borders(prop))
    assert v_rand == pytest.approx(2 * 0.5 / 1.5)


def test_thinning_leaves_one_pixel_dams_and_assigns_every_other_border_pixel():
    cell = np.zeros((9, 15), bool)
    cell[:, :5], cell[:, 10:] = True, True  # two cells, a 5 px wide border between them
    labels = thin_borders(cell)
    assert set(np.unique(labels).tolist()) == {0, 1, 2}
    assert (labels == 0).sum() == 9 and (labels[:, 7] == 0).all()  # the middle column only


def test_slices_with_equal_label_numbers_are_not_merged():
    labels = np.zeros((2, 20, 20), np.uint8)
    labels[0, 2:9, 2:18], labels[0, 11:18, 2:18] = 1, 1  # two cells, top and bottom
    labels[1, 2:18, 2:9], labels[1, 2:18, 11:18] = 1, 1  # two cells, left and right
    m = isbi_measures(labels.astype(np.float32), labels)
    assert m["rand_error"] == pytest.approx(0.0) and m["info_error"] == pytest.approx(0.0)
    assert m["pixel_error"] == 0.0


def test_isbi_thresholds_are_the_challenges():
    labels = np.zeros((1, 20, 20), np.uint8)
    labels[0, 2:18, 2:18] = 1
    m = isbi_measures(labels.astype(np.float32), labels)
    assert sorted(m["v_rand_by_threshold"]) == pytest.approx([0.1 * i for i in range(10)])


def test_det_on_arrays_counts_splits_misses_and_false_positives():
    markers = np.zeros((20, 20), np.int32)
    markers[2:4, 2:4], markers[2:4, 10:12], markers[12:14, 2:4] = 1, 2, 3
    result = np.zeros_like(markers)
    result[1:5, 1:13] = 7  # covers markers 1 and 2: one split operation
    result[15:19, 15:19] = 8  # detects nothing: a false positive; marker 3 is missed
    assert detection_counts(markers, result) == {"NS": 1, "FN": 1, "FP": 1, "markers": 3}
    assert det_measure([markers], [result]) == pytest.approx(1 - (5 + 10 + 1) / 30)


def _imperfect_results(root, out):
    """Sequence 01's true labels with a missed cell, a false positive and a merge."""
    seq = open_ctc_dataset(root).sequence("01")
    frames = sorted(seq.frames)
    labels = [seq.read_st_seg(t).astype(np.int32) for t in frames]
    ids = [i for i in np.unique(labels[2]) if i]
    labels[2][labels[2] == ids[0]] = 0
    labels[3][20:30, 20:30] = labels[3].max() + 1
    ids = [i for i in np.unique(labels[5]) if i]
    labels[5][labels[5] == ids[1]] = ids[0]
    masks, records = track(labels)
    write_results(out, "01", frames, masks, records=records, digits=seq.digits)
    return seq, frames, masks


def test_det_on_arrays_equals_py_ctcmetrics(synthetic_root, tmp_path):
    seq, frames, masks = _imperfect_results(synthetic_root, tmp_path)
    scores = evaluate_ctc_sequence(tmp_path / "01_RES", synthetic_root / "01_GT")
    markers = [seq.read_gt_tra(t) for t in frames]
    assert scores["DET"] < 1.0
    assert det_measure(markers, masks) == pytest.approx(scores["DET"], abs=1e-9)
    # the report says what DET charged: the missed cell, the false object and the merge, as
    # py-ctcmetrics counted them, equal to the counts on the arrays
    ours = [detection_counts(m, r) for m, r in zip(markers, masks, strict=True)]
    assert {k: scores[f"AOGM_{k}"] for k in ("NS", "FN", "FP")} == {
        k: sum(c[k] for c in ours) for k in ("NS", "FN", "FP")} == {"NS": 1, "FN": 1, "FP": 1}
    n = sum(c["markers"] for c in ours)
    assert scores["DET"] == pytest.approx(1 - (5 + 10 + 1) / (10 * n))


def test_clipped_tracks_keep_labels_and_drop_outside_parents():
    records = [TrackRecord(1, 0, 4, 0), TrackRecord(2, 5, 9, 1), TrackRecord(3, 5, 7, 1),
               TrackRecord(4, 8, 9, 3), TrackRecord(5, 0, 2, 0)]
    clipped = {r.label: r for r in clip_tracks(records, 6, 9)}
    assert set(clipped) == {2, 3, 4}
    assert clipped[2] == TrackRecord(2, 0, 3, 0)  # began before the block: no parent there
    assert clipped[4] == TrackRecord(4, 2, 3, 3)  # divided inside the block: parent kept


def test_linking_benchmark_measures_are_py_ctcmetrics_own(synthetic_root, tmp_path):
    """LNK, BIO(0), OP_CLB(0) and CHOTA as py-ctcmetrics computes them for the same folders,
    and OP_CLB(0) = (LNK + BIO(0)) / 2, BIO(0) = the mean of CT, TF, BC(0) (and CCA when
    defined), as the Cell Linking Benchmark defines them."""
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    _imperfect_results(synthetic_root, tmp_path)
    ours = evaluate_ctc_sequence(tmp_path / "01_RES", synthetic_root / "01_GT")
    theirs = evaluate_sequence(str(tmp_path / "01_RES"), str(synthetic_root / "01_GT"),
                               metrics=["DET", "TRA", "LNK", "CT", "TF", "BC", "CCA", "BIO",
                                        "CHOTA"])  # LNK needs DET or TRA asked for
    for key in ("LNK", "BIO(0)", "OP_CLB(0)", "CHOTA"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-12), key
    parts = [ours[k] for k in ("CT", "TF", "BC(0)", "CCA") if k in ours]
    assert ours["BIO(0)"] == pytest.approx(sum(parts) / len(parts))
    assert ours["OP_CLB(0)"] == pytest.approx((ours["LNK"] + ours["BIO(0)"]) / 2)
    assert 0.0 < ours["LNK"] < 1.0 and 0.0 < ours["CHOTA"] < 1.0  # the errors cost links


def test_a_block_is_scored_as_its_own_sequence(synthetic_root, tmp_path):
    _imperfect_results(synthetic_root, tmp_path)
    whole = evaluate_ctc_sequence(tmp_path / "01_RES", synthetic_root / "01_GT")
    block = evaluate_ctc_sequence(tmp_path / "01_RES", synthetic_root / "01_GT", (6, 9), digits=3,
                                  st_dir=synthetic_root / "01_ST")
    assert block["Valid"] == 1.0 and whole["Valid"] == 1.0
    assert block["n_gt_seg"] == 1 and block["n_st_seg"] == 4  # GT frame 7; ST 6-9
    assert block["DET"] == pytest.approx(1.0) and whole["DET"] < 1.0  # the errors are in 2-5
    # CCA needs complete cell cycles (a track from division to division): none here
    assert {"CT", "TF", "BC(0)", "divisions", "divisions_ref"} <= set(whole)


def test_search_punishes_false_positives_when_markers_are_known():
    truth = np.zeros((64, 64), np.int32)
    truth[8:24, 8:24], truth[40:56, 40:56] = 1, 2
    markers = np.where(np.isin(truth, [1, 2]), truth, 0)
    prob = np.where(truth > 0, 0.95, 0.05).astype(np.float32)
    prob[40:46, 5:11] = 0.6  # a faint blob where there is no cell
    cfg = load_config(None, overrides={"targets": {"border_width": 0}})
    with_det = search_postprocess([prob], [truth], cfg, [markers])
    seg_only = search_postprocess([prob], [truth], cfg)
    assert with_det["measure"] == "OP_CSB" and with_det["det"] == pytest.approx(1.0)
    assert with_det["threshold"] >= 0.6 or with_det["min_size"] > 36
    assert seg_only["measure"] == "SEG"


def test_evaluate_prints_biological_measures_and_divisions(tiny_run, synthetic_root, tmp_path):
    result = runner.invoke(app, ["evaluate", str(tiny_run), "--data", str(synthetic_root),
                                 "--frames", "2-8", "--out", str(tmp_path / "e"),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    for name in ("SEG", "DET", "TRA", "CT", "TF", "BC(0)", "divisions", "divisions_ref"):
        assert name in result.output, name
    rows = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    assert all(r["block"] == "2-8" for r in rows)


def test_evaluate_report_scores_the_reporting_sequence_whole(run, synthetic_root, tmp_path):
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(synthetic_root),
                                 "--frames", "report", "--out", str(tmp_path / "e"),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    assert [(r["sequence"], r["block"]) for r in rows] == [("02", "all")]
    assert (tmp_path / "e" / "lineage_02.png").stat().st_size > 1000


def test_every_division_gets_a_row_of_the_contact_sheet(synthetic_root, tmp_path):
    """A result that is the reference itself (its TRA markers as masks): the sheet shows
    each of its divisions, with crops from before and after the split."""
    from conftest import result_folder

    from ctc_unet.data.ctc import parse_man_track

    res = result_folder(synthetic_root, tmp_path)
    records = parse_man_track(res / "res_track.txt")
    kids = [r.parent for r in records if r.parent]
    parents = {p for p in kids if kids.count(p) >= 2}
    assert parents, "the synthetic sequence has a division"
    result = runner.invoke(app, ["evaluate", str(tmp_path / "res"), "--gt", str(synthetic_root),
                                 "--sequence", "01", "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    sheet = tmp_path / "e" / "divisions_01.png"
    assert sheet.stat().st_size > 5000
    from PIL import Image

    with Image.open(sheet) as img:  # one row per division, each about 280 px high
        assert img.height > 200 * len(parents)


def test_evaluate_report_needs_a_run_that_set_frames_apart(run, synthetic_root):
    split = json.loads((run / "split.json").read_text())
    split["report"], split["report_sequences"] = [], []  # a run from before the protocol
    (run / "split.json").write_text(json.dumps(split))
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(synthetic_root),
                                 "--frames", "report", "--device", "cpu"])
    assert result.exit_code == 1 and "reporting" in result.stderr


def test_evaluate_probability_stack_against_labels(tmp_path):
    import tifffile

    labels = np.zeros((3, 24, 24), np.uint8)
    labels[:, 2:11, 2:22], labels[:, 13:22, 2:22] = 255, 255
    tifffile.imwrite(tmp_path / "labels.tif", labels, photometric="minisblack")
    tifffile.imwrite(tmp_path / "prob.tif", labels, photometric="minisblack")  # uint8: / 255
    result = runner.invoke(app, ["evaluate", str(tmp_path / "prob.tif"), "--gt",
                                 str(tmp_path / "labels.tif"), "--frames", "1-2"])
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())[0]
    assert row["slices"] == "1-2" and row["rand_error"] == pytest.approx(0.0)
    bad = runner.invoke(app, ["evaluate", str(tmp_path / "prob.tif"), "--gt",
                              str(tmp_path / "labels.tif"), "--frames", "2-5"])
    assert bad.exit_code == 1 and "slices 2-5" in bad.stderr


def test_overlap_table_is_the_same_for_small_and_large_label_values():
    """contingency() counts label pairs with one bincount for small labels and with np.unique
    for large ones; SEG and DET are the same either way."""
    from ctc_unet.data.labels import contingency
    from ctc_unet.evaluation.seg import seg_scores

    rng = np.random.default_rng(1)
    ref = rng.integers(0, 6, (64, 64))
    res = rng.integers(0, 5, (64, 64))
    res[:32] = ref[:32]  # some real overlap
    big_ref, big_res = ref * 70001, res * 90001  # same partition, ids beyond the table size
    a, b = contingency(ref, res), contingency(big_ref, big_res)
    assert np.array_equal(a[2], b[2]) and np.array_equal(a[0] * 70001, b[0])
    assert np.allclose(seg_scores(ref, res), seg_scores(big_ref, big_res))
    assert detection_counts(ref, res) == detection_counts(big_ref, big_res)


def test_lineage_rows_put_a_mother_between_her_daughters():
    from ctc_unet.plots import lineage_rows

    tracks = [(1, 0, 4, 0), (2, 5, 9, 1), (3, 5, 9, 1), (4, 0, 9, 0), (5, 2, 3, 0),
              (6, 5, 9, 5)]  # 1 divides into 2 and 3; 5 continues as 6 after a gap
    rows = lineage_rows(tracks)
    assert rows[2] < rows[1] < rows[3] and rows[1] == (rows[2] + rows[3]) / 2
    assert rows[5] == rows[6]  # a single daughter stays on her mother's row
    assert sorted(set(rows.values())) == [0.0, 0.5, 1.0, 2.0, 3.0]  # leaves on rows 0-3


def test_evaluate_lists_the_tracks_ct_does_not_count_and_why(synthetic_root, tmp_path):
    """The reference as result: no incomplete track. Then one track's label changes half-way
    (a new label from frame t on, linked as a gap): that track is listed with its cause."""
    from conftest import result_folder

    from ctc_unet.data.ctc import format_tracks, parse_man_track

    res = result_folder(synthetic_root, tmp_path)
    args = ["evaluate", str(tmp_path / "res"), "--gt", str(synthetic_root), "--sequence",
            "01", "--out", str(tmp_path / "e")]
    assert runner.invoke(app, args).exit_code == 0
    assert (tmp_path / "e" / "tracks_01.csv").read_text() == "sequence,track,begin,end,cause\n"
    records = parse_man_track(res / "res_track.txt")
    parents = {r.parent for r in records}
    leaf = next(r for r in records if r.end - r.begin >= 2 and r.label not in parents)
    t, new = leaf.begin + 1, max(r.label for r in records) + 1
    for k in range(t, leaf.end + 1):
        path = res / f"mask{k:03d}.tif"
        mask = tifffile.imread(path)
        tifffile.imwrite(path, np.where(mask == leaf.label, new, mask).astype(mask.dtype))
    records = [r if r is not leaf else TrackRecord(r.label, r.begin, t - 1, r.parent)
               for r in records] + [TrackRecord(new, t, leaf.end, leaf.label)]
    (res / "res_track.txt").write_text(format_tracks(records))
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "e" / "tracks_01.csv").read_text().splitlines()
    assert lines[1:] == [f"01,{leaf.label},{leaf.begin},{leaf.end},2 result labels"]
