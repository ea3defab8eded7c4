"""Augmentation as MONAI transforms: the paper's elastic deformation, shift, rotation, flips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.transforms import Compose, MapTransform

from ctc_unet.config import AugmentConfig
from ctc_unet.training.augment import (
    RandTileSampled,
    coarse_displacement,
    make_augmentation,
    resample,
    sample_seed,
    sampling_grid,
)

OFF = AugmentConfig(elastic_prob=0.0, shift=False, rotate_prob=0.0, rot90_prob=0.0,
                    flip_prob=0.0, contrast_prob=0.0, brightness_prob=0.0, gamma_prob=0.0,
                    noise_prob=0.0)


def blobs(h: int = 96, w: int = 96) -> np.ndarray:
    lab = np.zeros((h, w), np.float32)
    lab[10:40, 10:45] = 3
    lab[50:85, 20:60] = 7
    lab[15:50, 55:90] = 12
    return lab


def smooth_image(h: int = 96, w: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w] / 20.0
    return (np.sin(yy) * np.cos(1.3 * xx)).astype(np.float32)


def test_identity_returns_the_input():
    img, lab = smooth_image(), blobs()
    weights = np.random.default_rng(0).random((96, 96)).astype(np.float32)
    t = RandTileSampled(["image", "label", "weight"], ["bicubic", "nearest", "bilinear"],
                        (96, 96), OFF)
    out = t({"image": img[None], "label": lab[None], "weight": weights[None]})
    assert torch.allclose(out["image"][0], torch.from_numpy(img), atol=1e-4)
    assert torch.equal(out["label"][0], torch.from_numpy(lab))
    assert torch.allclose(out["weight"][0], torch.from_numpy(weights), atol=1e-4)


def test_zero_displacement_field_is_identity_too():
    img = smooth_image()
    grid = sampling_grid((96, 96), (96, 96), (47.5, 47.5), 0.0, flip=False,
                         displacement=torch.zeros(2, 96, 96))
    assert torch.allclose(resample(img[None], grid, "bicubic")[0], torch.from_numpy(img),
                          atol=1e-4)


def test_coarse_grid_is_3x3_with_points_on_corners_and_centre():
    rng = np.random.RandomState(5)
    field = coarse_displacement((101, 81), 3, 10.0, rng)
    coarse = np.random.RandomState(5).normal(0, 10.0, size=(2, 3, 3))
    assert field.shape == (2, 101, 81)
    for (i, y), (j, x) in [((0, 0), (0, 0)), ((1, 50), (1, 40)), ((2, 100), (2, 80))]:
        assert np.allclose(field[:, y, x].numpy(), coarse[:, i, j], atol=1e-4)
    assert abs(float(field.std()) - 10.0) < 6.0  # smooth, of the order of the grid's std


def test_labels_keep_exactly_their_ids_under_deformation():
    lab = blobs()
    cfg = AugmentConfig(shift=False, rotate_prob=1.0, rotate_range=20.0, flip_prob=0.5)
    t = RandTileSampled(["label"], ["nearest"], (96, 96), cfg)
    for seed in range(10):
        t.set_random_state(seed)
        out = t({"label": lab[None]})["label"]
        assert set(torch.unique(out).tolist()) == {0.0, 3.0, 7.0, 12.0}
        assert not torch.equal(out[0], torch.from_numpy(lab))


def test_same_seed_same_sample_and_other_seed_other_sample():
    data = {"image": smooth_image(200, 200)[None], "label": (blobs(200, 200) > 0)[None]
            .astype(np.float32), "weight": np.ones((1, 200, 200), np.float32)}
    cfg = AugmentConfig()
    a = make_augmentation(cfg, 188, 4, seed=sample_seed(1, 17))(data)
    b = make_augmentation(cfg, 188, 4, seed=sample_seed(1, 17))(data)
    c = make_augmentation(cfg, 188, 4, seed=sample_seed(1, 18))(data)
    assert all(torch.equal(a[k], b[k]) for k in ("image", "label", "weight"))
    assert not torch.equal(a["image"], c["image"])
    assert sample_seed(1, 17) == sample_seed(1, 17) != sample_seed(2, 17)


def test_pipeline_shapes_and_output_window_alignment():
    img = smooth_image(572, 572)
    lab = (img > 0.2).astype(np.float32)
    out = make_augmentation(OFF, 572, 388)({"image": img[None], "label": lab[None],
                                            "weight": np.ones((1, 572, 572), np.float32)})
    assert out["image"].shape == (1, 572, 572)
    assert out["label"].shape == out["weight"].shape == (1, 388, 388)
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float32 for v in out.values())
    # labels and weights are the valid centre of the tile (92 px margin at depth 4)
    assert torch.equal(out["label"][0], torch.from_numpy(lab[92:480, 92:480]))


def test_tile_larger_than_frame_is_mirrored():
    img = smooth_image(64, 64)
    t = RandTileSampled(["image"], ["bilinear"], (96, 96), OFF)
    out = t({"image": img[None]})["image"][0].numpy()
    mirrored = np.pad(img, 16, mode="reflect")
    assert np.allclose(out, mirrored, atol=1e-4)


def test_rot90_and_flip_are_exact_permutations():
    img = np.random.default_rng(2).random((64, 64)).astype(np.float32)
    candidates = [np.rot90(img, k) for k in range(4)]
    candidates += [np.fliplr(c) for c in candidates]
    cfg = AugmentConfig(elastic_prob=0.0, shift=False, rotate_prob=0.0, rot90_prob=1.0,
                        flip_prob=0.5)
    t = RandTileSampled(["image"], ["nearest"], (64, 64), cfg)
    for seed in range(6):
        t.set_random_state(seed)
        out = t({"image": img[None]})["image"][0].numpy()
        assert any(np.array_equal(out, c) for c in candidates)


def test_gray_value_changes_touch_only_the_image():
    img = smooth_image(188, 188)
    lab = (img > 0).astype(np.float32)
    cfg = AugmentConfig(elastic_prob=0.0, shift=False, rotate_prob=0.0, rot90_prob=0.0,
                        flip_prob=0.0, contrast_prob=1.0, brightness_prob=1.0, gamma_prob=1.0,
                        noise_prob=1.0)
    out = make_augmentation(cfg, 188, 4, seed=3)({"image": img[None], "label": lab[None],
                                                  "weight": lab[None]})
    assert not torch.allclose(out["image"][0], torch.from_numpy(img), atol=1e-3)
    assert torch.equal(out["label"][0], torch.from_numpy(lab[92:96, 92:96]))


def test_pipeline_is_made_of_monai_transforms():
    pipeline = make_augmentation(AugmentConfig(), 188, 4)
    assert isinstance(pipeline, Compose)
    assert isinstance(pipeline.transforms[0], MapTransform)


def test_output_window_must_be_centred():
    with pytest.raises(ValueError, match="centred"):
        RandTileSampled(["image"], ["nearest"], (100, 100), OFF, (51, 51))


def test_cell_sampling_centres_tiles_on_cells_and_uniform_mostly_does_not():
    """A frame that is 3% cell: with cell_sampling 1 every tile's centre pixel is cell; the
    paper's uniform positions put it on a cell about 3% of the time."""
    from dataclasses import replace

    lab = np.zeros((200, 200), np.float32)
    lab[20:40, 150:170] = 1  # 400 px of 40000
    lab[160:170, 10:30] = 1
    img = smooth_image(200, 200)

    def centres_on_cells(cfg: AugmentConfig, n: int = 60) -> float:
        t = make_augmentation(cfg, 65, 65)  # odd: pixel 32 is the centre
        hits = 0
        for i in range(n):
            t.set_random_state(seed=sample_seed(0, i))
            out = t({"image": img[None], "label": lab[None],
                     "weight": np.ones((1, 200, 200), np.float32)})
            hits += int(out["label"][0, 32, 32] == 1)
        return hits / n

    moving = replace(OFF, shift=True)
    assert centres_on_cells(replace(moving, cell_sampling=1.0)) == 1.0
    assert centres_on_cells(moving) < 0.15
    half = centres_on_cells(replace(moving, cell_sampling=0.5), n=120)
    assert 0.3 < half < 0.75


def test_zoom_2_reads_every_second_pixel_and_labels_keep_their_ids():
    img, lab = smooth_image(193, 193), blobs(193, 193)
    grid = sampling_grid((193, 193), (97, 97), (96.0, 96.0), scale=2.0)
    assert torch.allclose(resample(img[None], grid, "bilinear")[0],
                          torch.from_numpy(img[::2, ::2]), atol=1e-4)
    assert torch.equal(resample(lab[None], grid, "nearest")[0], torch.from_numpy(lab[::2, ::2]))
    cfg = AugmentConfig(elastic_prob=0.0, shift=False, rotate_prob=0.0, rot90_prob=0.0,
                        flip_prob=0.0, scale_prob=1.0, scale_range=(0.5, 2.0))
    yy, xx = np.mgrid[:193, :193]
    disk = ((yy - 96) ** 2 + (xx - 96) ** 2 < 24**2).astype(np.float32) * 5
    # a tile of half the frame: even zoomed out twice it reads no mirrored pixels
    t = RandTileSampled(["label"], ["nearest"], (97, 97), cfg)
    scales = []
    for seed in range(8):
        t.set_random_state(seed)
        out = t({"label": disk[None]})["label"]
        assert set(torch.unique(out).tolist()) == {0.0, 5.0}
        scales.append(t._scale)
        # the cell's area shrinks with the square of the zoom
        assert float((out == 5).sum()) == pytest.approx((disk > 0).sum() / t._scale**2,
                                                        rel=0.12)
    assert 0.5 <= min(scales) < 0.9 and 1.1 < max(scales) <= 2.0


def test_blur_smooths_only_the_image():
    img = np.random.default_rng(4).random((96, 96)).astype(np.float32)
    lab = (img > 0.5).astype(np.float32)
    cfg = AugmentConfig(elastic_prob=0.0, shift=False, rotate_prob=0.0, rot90_prob=0.0,
                        flip_prob=0.0, contrast_prob=0.0, brightness_prob=0.0, gamma_prob=0.0,
                        noise_prob=0.0, blur_prob=1.0, blur_range=(1.0, 2.0))
    out = make_augmentation(cfg, 96, 96, seed=1)({"image": img[None], "label": lab[None],
                                                  "weight": lab[None]})
    # white noise: neighbouring pixels differ far less after a blur of at least 1 px
    assert out["image"][0].diff(dim=1).abs().mean() < 0.5 * np.abs(np.diff(img, axis=1)).mean()
    assert torch.equal(out["label"][0], torch.from_numpy(lab))


def test_zoom_and_blur_off_keep_the_samples_of_a_run_without_them():
    data = {"image": smooth_image(200, 200)[None], "label": (blobs(200, 200) > 0)[None]
            .astype(np.float32), "weight": np.ones((1, 200, 200), np.float32)}
    a = make_augmentation(AugmentConfig(), 188, 4, seed=9)(data)
    b = make_augmentation(AugmentConfig(scale_prob=0.0, blur_prob=0.0, scale_range=(0.5, 2.0)),
                          188, 4, seed=9)(data)
    c = make_augmentation(AugmentConfig(scale_prob=1.0, blur_prob=1.0), 188, 4, seed=9)(data)
    assert all(torch.equal(a[k], b[k]) for k in ("image", "label", "weight"))
    assert not torch.equal(a["image"], c["image"])
