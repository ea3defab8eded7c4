"""Separation borders and weight maps (paper section 3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from ctc_unet.config import TargetConfig, load_config
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.targets.borders import separation_borders
from ctc_unet.targets.cache import cached_targets, make_targets, target_key
from ctc_unet.targets.frames import load_frame, training_frames
from ctc_unet.targets.ignore import unannotated_mask
from ctc_unet.targets.weights import NEGLIGIBLE, class_weights, weight_map

CFG = TargetConfig()


def two_touching_disks(h: int = 120, w: int = 160, r: int = 30) -> np.ndarray:
    """Two disks whose overlap is split down the middle: a straight shared edge at x = 80."""
    yy, xx = np.mgrid[:h, :w]
    a = (yy - 60) ** 2 + (xx - 55) ** 2 <= r**2
    b = (yy - 60) ** 2 + (xx - 105) ** 2 <= r**2
    lab = np.zeros((h, w), np.int32)
    lab[a & (xx < 80)] = 1
    lab[b & (xx >= 80)] = 2
    return lab


def brute_force_weights(labels, target, w0, sigma, wc):
    """Eq. 2 with one full-image distance transform per cell and no cut-off."""
    ids = [i for i in np.unique(labels) if i]
    d = np.sort(np.stack([ndi.distance_transform_edt(labels != i) for i in ids]), axis=0)
    term = w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2))
    return wc[target] + np.where(target == 0, term, 0.0)


def test_touching_disks_are_separated_by_background():
    lab = two_touching_disks()
    assert ((lab[:, 79] == 1) & (lab[:, 80] == 2)).sum() > 20  # a long shared edge
    target, _ = make_targets(lab, CFG)
    contact = (lab == 1) & (np.roll(lab, -1, axis=1) == 2)
    contact |= (lab == 2) & (np.roll(lab, 1, axis=1) == 1)
    assert np.all(target[contact] == 0)
    _, n = ndi.label(target, structure=np.ones((3, 3)))
    assert n == 2  # separated even under 8-connectivity
    assert np.all(target[(lab > 0) & ~ndi.binary_dilation(contact, iterations=2)] == 1)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_gap_has_the_configured_width(width):
    lab = two_touching_disks()
    gap = separation_borders(lab, width)
    assert gap[60].sum() == width  # along the line through both centres
    assert not separation_borders(lab, 0).any()


def test_border_does_not_eat_cells_that_only_touch_background():
    lab = np.zeros((50, 50), np.int32)
    lab[10:20, 10:20] = 1
    lab[30:40, 30:40] = 2
    assert not separation_borders(lab, 2).any()


def test_weight_map_peaks_on_the_border_and_decays_with_sigma():
    lab = two_touching_disks()
    target, w = make_targets(lab, CFG)
    wc = class_weights(target)
    border = (lab > 0) & (target == 0)
    peak = np.unravel_index(np.argmax(w), w.shape)
    assert ndi.distance_transform_edt(~border)[peak] <= 2  # in the gap (or its open end)
    # about w_c + w0 on the border: d1 + d2 = 3 px across a 2 px gap
    assert np.all(w[border] > wc[0] + 0.8 * CFG.w0) and w.max() <= wc[0] + CFG.w0
    assert np.all(w[(lab > 0) & ~border] == wc[1])
    # decays away from the border: walk up from the gap through the background
    column = w[:60, 80] - wc[0]
    outside = np.nonzero(lab[:60, 80] == 0)[0]
    values = column[outside][::-1]  # from the end of the gap upwards
    values = values[np.argmax(values):]  # from the notch's apex on
    assert np.all(np.diff(values) < 1e-6) and values[0] > 3 * values[10] > 0
    # exactly eq. 2 (up to the negligible cut-off)
    inner = np.where(border, 0, lab)
    ref = brute_force_weights(inner, target, CFG.w0, CFG.sigma, wc)
    assert np.allclose(w, ref, atol=CFG.w0 * NEGLIGIBLE * 1.01)


def test_sigma_sets_the_decay_length():
    lab = two_touching_disks()
    narrow = make_targets(lab, TargetConfig(sigma=3.0))[1]
    wide = make_targets(lab, TargetConfig(sigma=8.0))[1]
    # 8 px beyond the end of the shared edge, in the notch between the two cells
    assert lab[36, 80] == 0 and lab[44, 80] > 0
    assert wide[36, 80] > narrow[36, 80] + 1.0


def test_fast_weight_map_equals_brute_force_with_many_cells():
    rng = np.random.default_rng(0)
    seeds = np.zeros((160, 160), np.int32)
    pts = rng.integers(0, 160, size=(40, 2))
    seeds[pts[:, 0], pts[:, 1]] = np.arange(1, 41)
    dist, (iy, ix) = ndi.distance_transform_edt(seeds == 0, return_indices=True)
    lab = np.where(dist < 9, seeds[iy, ix], 0)  # Voronoi cells cut to disks: many contacts
    target, w = make_targets(lab, CFG)
    inner = np.where((lab > 0) & (target == 0), 0, lab)
    ref = brute_force_weights(inner, target, CFG.w0, CFG.sigma, class_weights(target))
    assert np.allclose(w, ref, atol=CFG.w0 * NEGLIGIBLE * 1.01)


def test_class_weights_balance_frequencies():
    target = np.zeros((10, 10), np.uint8)
    target[:2] = 1
    wc = class_weights(target)
    assert np.isclose(wc[0] * 80, wc[1] * 20)
    assert np.isclose((wc[target]).mean(), 1.0)
    valid = np.zeros_like(target, bool)
    valid[:4] = True
    assert np.isclose(class_weights(target, valid)[1], class_weights(target, valid)[0])


def test_ignored_pixels_get_zero_weight():
    lab = two_touching_disks()
    ignore = np.zeros(lab.shape, bool)
    ignore[:, :20] = True
    _target, w = make_targets(lab, CFG, ignore)
    assert np.all(w[ignore] == 0) and np.all(w[~ignore] > 0)


def test_isbi_config_has_no_separation_term():
    cfg = load_config("ISBI2012").targets
    lab = two_touching_disks()
    target, w = make_targets(lab, cfg)
    assert np.array_equal(target, (lab > 0).astype(np.uint8))
    assert len(np.unique(w)) == 2


def test_unannotated_mask_from_markers_without_st():
    seg = np.zeros((80, 80), np.int32)
    seg[10:30, 10:30] = 1
    markers = np.zeros_like(seg)
    markers[18:22, 18:22] = 1  # annotated
    markers[58:62, 58:62] = 2  # not annotated
    mask = unannotated_mask(seg, markers, margin=3)
    assert mask[60, 60] and mask[60, 60 + 13]  # median GT radius (~11 px) + margin
    assert not mask[20, 20] and not mask[5, 70]


def test_partly_annotated_frame_ignores_unannotated_cells(synthetic_root):
    ds = open_ctc_dataset(synthetic_root)
    seq = ds.sequence("01")
    frame = load_frame(ds, next(r for r in training_frames(ds, "GT", ["01"]) if r.t == 4), CFG)
    assert frame.ignore is not None
    _, w = make_targets(frame.labels, CFG, frame.ignore)
    markers, seg = seq.read_gt_tra(4), seq.read_gt_seg(4)
    silver = seq.read_st_seg(4)
    annotated = set(np.unique(seg)) - {0}
    unannotated = set(np.unique(markers)) - {0} - annotated
    assert len(annotated) == 2 and len(unannotated) >= 6
    for lab in unannotated:  # the whole (silver) extent of the cell carries no weight
        assert np.all(w[silver == lab] == 0)
    for lab in annotated:
        assert np.all(w[seg == lab] > 0)
    # a fully annotated frame ignores nothing
    full = load_frame(ds, next(r for r in training_frames(ds, "GT", ["01"]) if r.t == 1), CFG)
    assert full.ignore is None


def test_target_sources(synthetic_root):
    ds = open_ctc_dataset(synthetic_root)
    gt, st, both = (training_frames(ds, s) for s in ("GT", "ST", "GT+ST"))
    assert len(gt) == 6 and {r.source for r in gt} == {"GT"}
    assert len(st) == 20 and {r.source for r in st} == {"ST"}
    assert len(both) == 20 and sum(r.source == "GT" for r in both) == 6
    st_frame = load_frame(ds, st[0], CFG)
    assert st_frame.ignore is None and st_frame.labels.max() > 0


def test_cache_computes_once(tmp_path, monkeypatch):
    lab = two_touching_disks()
    t1, w1 = cached_targets(tmp_path, lab, CFG)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr("ctc_unet.targets.cache.make_targets", fail)
    t2, w2 = cached_targets(tmp_path, lab, CFG)
    assert np.array_equal(t1, t2) and np.array_equal(w1, w2)
    assert target_key(lab, None, CFG) != target_key(lab, None, TargetConfig(sigma=4.0))
    assert target_key(lab, None, CFG) != target_key(lab, np.zeros(lab.shape, bool), CFG)


def test_weight_map_without_cells_is_class_weight_only():
    lab = np.zeros((20, 20), np.int32)
    w = weight_map(lab, np.zeros((20, 20), np.uint8))
    assert np.allclose(w, 1.0)


def test_third_class_marks_separation_borders_and_weights_them():
    """n_classes 3: the separation border between touching cells is class 2 (not
    background), every other pixel keeps its 2-class value, class weights cover 3 classes and
    the separation term lies on the border pixels too."""
    lab = two_touching_disks()
    two, _ = make_targets(lab, CFG)
    three, w3 = make_targets(lab, CFG, n_classes=3)
    border = separation_borders(lab, CFG.border_width)
    assert border.sum() > 40
    assert np.all(three[border] == 2)
    assert np.array_equal(three[~border], two[~border])
    wc = class_weights(three, n_classes=3)
    assert wc.shape == (3,) and wc[2] > wc[1] > wc[0]  # rarer classes weigh more
    # on a border pixel: its class weight plus the separation term (d1 + d2 small)
    y, x = np.argwhere(border)[len(np.argwhere(border)) // 2]
    assert w3[y, x] > wc[2] + 0.5 * CFG.w0
    assert target_key(lab, None, CFG) != target_key(lab, None, CFG, n_classes=3)
