"""Issue 42: the division threshold learned from a dataset's own tracks (TRA markers and
man_track.txt on reference masks), for ``ctc-unet track --learn-from``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import load_config
from ctc_unet.data.ctc import TrackRecord, write_tracks
from ctc_unet.data.images import write_label_tiff
from ctc_unet.tracking.division_learning import label_candidates, learn_division_evidence
from ctc_unet.tracking.divisions import learn_threshold
from ctc_unet.tracking.linking import candidate_divisions, track_instances

CFG = load_config(None).tracking
runner = CliRunner()
SIZE, T, SPLIT = 96, 12, 6


def _disk(img: np.ndarray, yx: tuple[float, float], r: float, label: int) -> None:
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    img[(yy - yx[0]) ** 2 + (xx - yx[1]) ** 2 <= r * r] = label


def _unequal_division(centres: list[tuple[int, int]], is_division: bool = True):
    """Masks, markers and man_track records of cells at ``centres`` that each split at frame
    SPLIT into a large and a small part (areas about 3:1, on opposite sides): a division that
    the default threshold rejects (the daughters are unlike). With ``is_division`` false the
    reference calls the small part a cell of its own that came in (no parent)."""
    masks = [np.zeros((SIZE, SIZE), np.uint16) for _ in range(T)]
    markers = [np.zeros((SIZE, SIZE), np.uint16) for _ in range(T)]
    records = []
    for k, (y, x) in enumerate(centres):
        mother, big, small = 3 * k + 1, 3 * k + 2, 3 * k + 3
        records += [TrackRecord(mother, 0, SPLIT - 1, 0),
                    TrackRecord(big, SPLIT, T - 1, mother if is_division else 0),
                    TrackRecord(small, SPLIT, T - 1, mother if is_division else 0)]
        for t in range(T):
            if t < SPLIT:
                _disk(masks[t], (y, x), 11, mother)
                _disk(markers[t], (y, x), 3, mother)
            else:
                for lab, dx, r in ((big, -6, 10), (small, 11, 5.5)):
                    _disk(masks[t], (y, x + dx), r, lab)
                    _disk(markers[t], (y, x + dx), 2, lab)
    return masks, markers, records


def _divisions(records) -> int:
    parents = [r.parent for r in records if r.parent]
    return sum(parents.count(p) == 2 for p in set(parents))


def test_the_learned_threshold_accepts_most_true_minus_false_and_otherwise_keeps_the_default():
    assert learn_threshold([0.2, 0.9, 0.05], [True, True, True], 0.5) == 0.05
    # a false candidate at 0.6 under trues at 0.9: reject it with a margin
    assert learn_threshold([0.9, 0.6, 0.95], [True, False, True], 0.5) == pytest.approx(
        np.sqrt(0.6 * 0.9))
    assert learn_threshold([0.8, 0.3], [True, False], 0.5) == 0.5  # the default already best
    assert learn_threshold([], [], 0.5) == 0.5
    with pytest.raises(ValueError):
        learn_threshold([0.1, 0.2], [True], 0.5)


def test_candidates_are_labelled_by_the_reference_tracks():
    masks, markers, records = _unequal_division([(30, 30), (66, 60)])
    weighed = candidate_divisions(masks, CFG)
    assert len(weighed) == 2 and all(w.frame == SPLIT for w in weighed)
    assert all(w.evidence < CFG.division_evidence for w in weighed)  # the default says no
    true = label_candidates(masks, markers, records, frames=list(range(T)), cfg=CFG)
    assert true.is_division.tolist() == [True, True] and true.censored == 0
    masks, markers, records = _unequal_division([(30, 30)], is_division=False)
    false = label_candidates(masks, markers, records, frames=list(range(T)), cfg=CFG)
    assert false.is_division.tolist() == [False]


def test_a_division_the_default_misses_is_found_with_the_threshold_learned_elsewhere():
    masks, markers, records = _unequal_division([(30, 30), (66, 60)])
    learned = learn_division_evidence(
        [label_candidates(masks, markers, records, frames=list(range(T)), cfg=CFG)],
        CFG.division_evidence)
    assert learned.threshold < CFG.division_evidence
    assert (learned.candidates, learned.divisions, learned.accepted_false) == (2, 2, 0)
    other, _, _ = _unequal_division([(48, 40)])  # another sequence, never learned from
    assert _divisions(track_instances(other, CFG)[1]) == 0
    found = track_instances(other, dataclasses.replace(CFG, division_evidence=learned.threshold))
    assert _divisions(found[1]) == 1


def test_a_candidate_cut_short_by_the_last_frame_teaches_nothing():
    masks, markers, records = _unequal_division([(30, 30)])
    cut = label_candidates(masks[:SPLIT + 2], markers[:SPLIT + 2], records,
                           frames=list(range(T)), cfg=CFG)
    assert cut.evidence.size == 0 and cut.censored == 1


def _dataset(root, with_seg: bool = True):
    """A CTC training dataset of the two-division sequence (GT SEG on every frame or none)."""
    masks, markers, records = _unequal_division([(30, 30), (66, 60)])
    frames = _mkdir(root / "01")
    for t in range(T):
        tifffile.imwrite(frames / f"t{t:03d}.tif", (masks[t] > 0).astype(np.uint8))
        write_label_tiff(root / "01_GT" / "TRA" / f"man_track{t:03d}.tif", markers[t])
        if with_seg:
            write_label_tiff(root / "01_GT" / "SEG" / f"man_seg{t:03d}.tif", masks[t])
    write_tracks(root / "01_GT" / "TRA" / "man_track.txt", records)
    return root


def _mkdir(path):
    path.mkdir(parents=True)
    return path


def test_cli_track_learns_divisions_from_a_training_dataset(tmp_path):
    data = _dataset(tmp_path / "train")
    other, _, _ = _unequal_division([(48, 40)])
    seg = _mkdir(tmp_path / "seg")
    for t, m in enumerate(other):
        write_label_tiff(seg / f"mask{t:03d}.tif", m)
    plain = runner.invoke(app, ["track", str(seg), "--out", str(tmp_path / "A_RES")])
    assert plain.exit_code == 0 and "0 divisions" in plain.output, plain.output
    learned = runner.invoke(app, ["track", str(seg), "--out", str(tmp_path / "B_RES"),
                                  "--learn-from", str(data)])
    assert learned.exit_code == 0 and "1 divisions" in learned.output, learned.output


def test_cli_track_learn_from_without_reference_masks_is_a_clean_error(tmp_path):
    data = _dataset(tmp_path / "train", with_seg=False)
    seg = _mkdir(tmp_path / "seg")
    write_label_tiff(seg / "mask000.tif", np.ones((8, 8), np.uint16))
    out = tmp_path / "01_RES"
    result = runner.invoke(app, ["track", str(seg), "--out", str(out), "--learn-from",
                                 str(data)])
    assert result.exit_code == 1, result.output
    assert "nothing to learn divisions from" in result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_masks_with_errors_are_preferred_and_used_only_where_they_cover_every_frame(tmp_path):
    from ctc_unet.data.ctc import open_ctc_dataset
    from ctc_unet.workflow.track import reference_masks

    data = _dataset(tmp_path / "train")
    masks, _, _ = _unequal_division([(30, 30), (66, 60)])
    err = _mkdir(data / "01_ERR_SEG")
    for t in range(T - 1):
        write_label_tiff(err / f"mask{t:03d}.tif", masks[t])
    kind, _ = reference_masks(open_ctc_dataset(data).sequence("01"))
    assert kind == "gold truth"  # 01_ERR_SEG lacks the last frame
    write_label_tiff(err / f"mask{T - 1:03d}.tif", masks[T - 1])
    kind, read = reference_masks(open_ctc_dataset(data).sequence("01"))
    assert kind == "01_ERR_SEG masks" and np.array_equal(read(3), masks[3])


def test_the_api_links_arrays_with_a_threshold_learned_from_a_dataset(tmp_path):
    import ctc_unet

    data = _dataset(tmp_path / "train")
    other, _, _ = _unequal_division([(48, 40)])
    assert _divisions(ctc_unet.link(other)[1]) == 0
    assert _divisions(ctc_unet.link(other, learn_from=data)[1]) == 1
