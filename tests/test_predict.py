"""`ctc-unet predict` and the post-processing search."""

from __future__ import annotations

import json

import numpy as np
import tifffile
from conftest import write_isbi
from ctc_metrics.scripts.validate import validate_sequence
from PIL import Image
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import load_config
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.postprocess.search import search_postprocess
from ctc_unet.targets.borders import two_class_target

runner = CliRunner()


def test_training_saved_the_best_postprocess_of_its_grid_on_the_choosing_frames(tiny_run):
    chosen = json.loads((tiny_run / "postprocess.json").read_text())
    assert len(chosen["grid"]) > 10
    assert chosen["score"] == max(g["score"] for g in chosen["grid"])
    assert any(chosen["score"] > g["score"] for g in chosen["grid"])  # the choice mattered
    split = json.loads((tiny_run / "split.json").read_text())
    assert chosen["frames"] == [f"{r['sequence']}:{r['t']} ({r['source']})"
                                for r in split["val"]]


def test_predict_writes_valid_ctc_results(tiny_run, synthetic_root, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(tiny_run), "--data", str(synthetic_root),
                                 "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    for seq in ("01", "02"):
        res = out / f"{seq}_RES"
        masks = sorted(res.glob("mask*.tif"))
        assert [m.name for m in masks] == [f"mask{t:03d}.tif" for t in range(10)]
        first = tifffile.imread(masks[0])
        assert first.dtype == np.uint16 and first.shape == (256, 256)
        assert (res / "res_track.txt").is_file()
        assert validate_sequence(str(res), threads=1)["Valid"] == 1
        napari_ctc_io_checks(res)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def napari_ctc_io_checks(res) -> None:
    """What napari-ctc-io's reader does with a result folder (bentaculum/napari-ctc-io,
    src/napari_ctc_io/reader.py: ``_load_tra`` and the hard checks of ``_check_ctc``): every
    ``*.tif`` in name order stacked as time, the track file read by ``np.loadtxt(delimiter="
    ")`` as N x 4 integers (one line would give a 1-D array, which it cannot iterate), IDs
    positive and unique, each parent present and ended before its daughter starts, and in
    every frame the mask labels equal the tracks alive then."""
    masks = np.stack([tifffile.imread(p) for p in sorted(res.glob("*.tif"))])
    tracks = np.loadtxt(res / "res_track.txt", delimiter=" ").astype(int)
    assert tracks.ndim == 2 and tracks.shape[1] == 4
    ids, start, end, parent = tracks.T
    assert ids.min() >= 1 and len(set(ids)) == len(ids)
    ends = dict(zip(ids, end, strict=True))
    assert all(p in ends and ends[p] < s for p, s in zip(parent, start, strict=True) if p)
    for t in range(start.min(), end.max()):
        alive = set(ids[(start <= t) & (end >= t)])
        assert alive == set(np.unique(masks[t])) - {0}, t


def test_predict_options(tiny_run, synthetic_root, tmp_path):
    out = tmp_path / "o"
    result = runner.invoke(app, ["predict", str(tiny_run), "--data", str(synthetic_root),
                                 "--sequence", "02", "--out", str(out), "--tile", "204",
                                 "--tta", "--save-probabilities", "--movie", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert not (out / "01_RES").exists() and (out / "02_RES").is_dir()
    with Image.open(out / "02_tracks.gif") as movie:
        assert movie.n_frames == 10 and movie.size == (256, 256)
    prob = tifffile.imread(out / "02_PROB" / "prob003.tif")
    assert prob.dtype == np.float32 and prob.shape == (256, 256)
    assert prob.min() >= 0.0 and prob.max() <= 1.0


def test_predict_isbi_writes_a_float32_stack(tiny_run, tmp_path):
    root = write_isbi(tmp_path / "isbi")
    result = runner.invoke(app, ["predict", str(tiny_run), "--data", str(root), "--out",
                                 str(tmp_path / "o"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    stack = tifffile.imread(tmp_path / "o" / "test-volume-probabilities.tif")
    assert stack.shape == (3, 32, 32) and stack.dtype == np.float32
    result = runner.invoke(app, ["predict", str(tiny_run), "--data", str(root), "--out",
                                 str(tmp_path / "m"), "--movie", "--device", "cpu"])
    assert result.exit_code == 1 and "not tracked" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()


def test_predict_errors(tiny_run, synthetic_root, tmp_path):
    cases = [
        (["predict", str(tmp_path), "--data", str(synthetic_root)], "not a run directory"),
        (["predict", str(tiny_run), "--data", str(tmp_path / "none")], "folder not found"),
        (["predict", str(tiny_run), "--data", str(synthetic_root), "--sequence", "05"],
         "no sequence '05'"),
        (["predict", str(tiny_run), "--data", str(synthetic_root), "--tile", "170"],
         "tile size 170"),
    ]
    for args, msg in cases:
        result = runner.invoke(app, [*args, "--device", "cpu"])
        assert result.exit_code == 1, result.output
        assert msg in result.stderr and "Traceback" not in result.output


def test_search_finds_perfect_settings_for_perfect_probabilities(synthetic_root):
    seq = open_ctc_dataset(synthetic_root).sequence("01")
    refs = [seq.read_gt_seg(t) for t in (1, 7)]
    probs = [two_class_target(r, 2).astype(np.float32) for r in refs]
    best = search_postprocess(probs, refs, load_config())
    assert best["seg"] > 0.97 and best["frames"] == 2


def test_a_long_search_says_how_far_it_got(synthetic_root, monkeypatch, caplog):
    import logging

    from ctc_unet.postprocess import search

    ref = open_ctc_dataset(synthetic_root).sequence("01").read_gt_seg(1)
    prob = two_class_target(ref, 2).astype(np.float32)
    monkeypatch.setattr(search, "PROGRESS_EVERY_S", -1.0)  # every threshold counts as long
    with caplog.at_level(logging.INFO, logger=search.__name__):
        quiet = search_postprocess([prob], [ref], load_config(), rules=False)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == len(search.THRESHOLDS) - 1
    assert lines[0].startswith(f"choosing the post-processing: {len(search.MIN_SIZES)} of "
                               f"{len(quiet['grid'])} settings tried on 1 frames")


def test_search_prefers_dropping_fragments_that_seg_does_not_see(synthetic_root):
    seq = open_ctc_dataset(synthetic_root).sequence("01")
    ref = seq.read_gt_seg(1)
    prob = two_class_target(ref, 2).astype(np.float32)
    for y, x in [(5, 5), (5, 120), (250, 5), (128, 250)]:  # small false positives
        prob[y - 2:y + 2, x - 2:x + 2] = 1.0
    best = search_postprocess([prob], [ref], load_config())
    assert best["seg"] > 0.97
    assert best["min_size"] >= 25  # the fragments (16 px) are dropped at no cost in SEG


def test_search_picks_a_seeded_watershed_where_borders_have_gaps(tmp_path):
    from test_metrics_postprocess import _touching_cells_with_a_gap

    prob, truth = _touching_cells_with_a_gap()
    prob[prob == np.float64(0.6)] = 0.93  # a gap no threshold of the grid can close
    cfg = load_config(None, overrides={"targets": {"border_width": 0}})
    best = search_postprocess([prob], [truth], cfg, [truth])
    assert best["method"] == "watershed" and best["seg"] > 0.9
    assert search_postprocess([prob], [truth], cfg, [truth], rules=False)["seg"] < 0.5
    # predict takes the chosen rule from postprocess.json
    import json

    from ctc_unet.rundir import RunDir

    run = RunDir(tmp_path)
    run.postprocess.write_text(json.dumps({k: best[k] for k in (
        "threshold", "min_size", "method", "seeds", "seed_threshold", "seed_distance")}))
    post = run.load_postprocess(cfg.postprocess)
    assert post.method == "watershed" and post.min_size == best["min_size"]


def test_a_run_still_training_says_its_post_processing_is_not_chosen_yet(run, caplog):
    import logging

    import torch

    from ctc_unet.inference.predictor import Predictor
    from ctc_unet.rundir import RunDir

    rd = RunDir(run)
    with caplog.at_level(logging.WARNING):
        Predictor.from_run(rd, torch.device("cpu"))
    assert "not chosen yet" not in caplog.text  # chosen: postprocess.json is there
    rd.postprocess.unlink()  # as between the last checkpoint and the end of the search
    with caplog.at_level(logging.WARNING):
        Predictor.from_run(rd, torch.device("cpu"))
    assert "training has not finished (still running, or killed); the post-processing is " \
        "not chosen yet" in caplog.text
