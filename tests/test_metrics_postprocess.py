"""SEG on arrays (checked against py-ctcmetrics) and instances from probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from ctc_metrics.metrics import seg as ctc_seg
from ctc_metrics.utils.representations import match

from ctc_unet.config import PostprocessConfig
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.evaluation.seg import pixel_iou, seg_measure, seg_scores
from ctc_unet.postprocess.instances import fill_holes, instances_from_probability, restore_borders
from ctc_unet.targets.borders import two_class_target


def random_instances(seed: int, n: int = 12, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lab = np.zeros((size, size), np.uint16)
    for i in range(1, n + 1):
        y, x = rng.integers(0, size - 20, 2)
        h, w = rng.integers(5, 20, 2)
        lab[y:y + h, x:x + w] = i
    return lab


def test_seg_matches_py_ctcmetrics(tmp_path):
    refs, results, ious, labels = [], [], [], []
    for seed in range(4):
        ref = random_instances(seed)
        res = np.roll(random_instances(seed), 2, axis=1)
        res[res == 3] = 0  # a missed object
        res[40:50, 40:60] = 99  # a false positive
        refs.append(ref)
        results.append(res)
        tifffile.imwrite(tmp_path / f"ref{seed}.tif", ref)
        tifffile.imwrite(tmp_path / f"res{seed}.tif", res)
        lr, _, _, _, iou = match(str(tmp_path / f"ref{seed}.tif"), str(tmp_path / f"res{seed}.tif"))
        labels.append(lr)
        ious.append(iou)
    assert np.isclose(seg_measure(refs, results), ctc_seg(labels, ious))


def test_seg_rules():
    ref = np.zeros((10, 10), np.int32)
    ref[0:4, 0:4] = 1  # 16 px
    res = np.zeros_like(ref)
    res[0:4, 0:2] = 5  # covers exactly half: not a match
    assert seg_scores(ref, res).tolist() == [0.0]
    res[0:4, 0:3] = 5  # 12 of 16: match, IoU 12/16
    assert np.isclose(seg_scores(ref, res)[0], 0.75)
    assert seg_measure([ref], [ref]) == 1.0 and pixel_iou(ref, ref) == 1.0


def test_perfect_probabilities_give_the_gt_instances(synthetic_root):
    """The 2-class target of the GT, read as a probability, gives back the GT instances: the
    same objects one to one; only a few pixels at the open ends of a separation border (where
    the border cannot be told from background) may differ."""
    ds = open_ctc_dataset(synthetic_root)
    for seq in ds.sequences.values():
        for t in sorted(seq.gt_seg):
            gt = seq.read_gt_seg(t)
            prob = two_class_target(gt, 2).astype(np.float32)
            inst = instances_from_probability(prob, PostprocessConfig(min_size=10), 2)
            assert inst.dtype == np.uint16
            ids = np.unique(gt)[1:]
            assert sorted(np.unique(inst))[1:] == list(range(1, len(ids) + 1))
            lut = {i: np.bincount(gt[inst == i]).argmax() for i in np.unique(inst)[1:]}
            assert sorted(lut.values()) == sorted(ids.tolist())  # one to one
            table = np.zeros(int(inst.max()) + 1, np.int64)
            for i, g in lut.items():
                table[i] = g
            mapped = table[inst]
            assert np.count_nonzero(mapped != gt) <= 0.005 * np.count_nonzero(gt)
            assert np.all(seg_scores(gt, inst) > 0.97)


def test_restore_borders_only_fills_gaps_between_cells():
    lab = np.zeros((20, 30), np.int32)
    lab[5:15, 2:12] = 1
    lab[5:15, 14:24] = 2  # a 2 px gap at columns 12, 13
    out = restore_borders(lab, 2)
    assert np.all(out[5:15, 12] == 1) and np.all(out[5:15, 13] == 2)
    assert np.all(out[:5] == 0) and np.all(out[:, 24:] == 0)  # free edges do not grow


def test_fill_holes_and_min_size():
    lab = np.zeros((20, 20), np.int32)
    lab[2:12, 2:12] = 4
    lab[5:7, 5:7] = 0
    assert np.all(fill_holes(lab)[5:7, 5:7] == 4)
    prob = np.zeros((20, 20), np.float32)
    prob[1:4, 1:4] = 0.9  # 9 px
    prob[8:18, 8:18] = 0.9
    inst = instances_from_probability(prob, PostprocessConfig(min_size=10))
    assert inst.max() == 1 and inst[10, 10] == 1 and inst[2, 2] == 0


def _touching_cells_with_a_gap() -> tuple[np.ndarray, np.ndarray]:
    """Two touching discs (radius 30, centres 58 px apart) and a predicted cell probability
    whose 2 px border between them has a 3 px gap (0.6, above the 0.5 threshold)."""
    yy, xx = np.mgrid[:120, :200]
    d1 = np.hypot(yy - 60, xx - 70)
    d2 = np.hypot(yy - 60, xx - 128)
    truth = np.zeros(yy.shape, np.int64)
    truth[(d1 <= 30) & (d1 <= d2)] = 1
    truth[(d2 <= 30) & (d2 < d1)] = 2
    prob = np.where(truth > 0, 0.95, 0.05)
    border = (truth > 0) & (np.abs(d1 - d2) <= 1.0)
    prob[border] = 0.1
    gap = border & (np.abs(yy - 60) <= 1)  # 3 rows of the border line
    prob[gap] = 0.6
    return prob, truth


@pytest.mark.parametrize("seeds", ["probability", "distance"])
def test_a_gap_in_the_predicted_border_does_not_merge_two_cells(seeds):
    prob, truth = _touching_cells_with_a_gap()
    components = instances_from_probability(prob, PostprocessConfig(min_size=0))
    assert components.max() == 1  # the plain rule merges them through the gap
    cfg = PostprocessConfig(min_size=0, method="watershed", seeds=seeds)
    labels = instances_from_probability(prob, cfg)
    assert labels.max() == 2
    assert seg_measure([truth], [labels]) > 0.9


@pytest.mark.parametrize("seeds", ["probability", "distance"])
def test_a_textured_interior_stays_one_cell(seeds):
    yy, xx = np.mgrid[:100, :100]
    r = np.hypot(yy - 50, xx - 50)
    prob = np.where(r <= 35, 0.9, 0.05)
    prob[(r >= 10) & (r <= 13)] = 0.3  # a dark ring around the nucleus: a hole-like texture
    rng = np.random.default_rng(0)
    speckle = (r < 30) & (rng.random(prob.shape) < 0.05)
    prob[speckle] = 0.2
    cfg = PostprocessConfig(min_size=0, method="watershed", seeds=seeds)
    labels = instances_from_probability(prob, cfg)
    assert labels.max() == 1
    assert (labels[r <= 35] == 1).mean() > 0.99
