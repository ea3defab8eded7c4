import numpy as np
from scipy import ndimage as ndi

from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.data.inspection import inspect_path
from ctc_unet.data.synthetic import make_sequence


def _touching_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    pairs = set()
    for axis in (0, 1):
        a = labels
        b = np.roll(labels, 1, axis=axis)
        m = (a > 0) & (b > 0) & (a != b)
        pairs |= {tuple(sorted(p)) for p in zip(a[m].tolist(), b[m].tolist(), strict=True)}
    return pairs


def test_sequence_has_touching_and_dividing_cells_with_texture():
    seq = make_sequence(np.random.default_rng(3), size=256, n_frames=10)
    assert seq.images.shape == (10, 256, 256) and seq.images.dtype == np.uint8
    assert all(_touching_pairs(lab) for lab in seq.labels)
    divisions = [r for r in seq.tracks if r.parent]
    assert len(divisions) == 2 and divisions[0].parent == divisions[1].parent
    mother = next(r for r in seq.tracks if r.label == divisions[0].parent)
    assert mother.end + 1 == divisions[0].begin
    # every track is visible in every frame of its range (no occluded cells)
    for r in seq.tracks:
        for t in range(r.begin, r.end + 1):
            assert (seq.labels[t] == r.label).sum() > 50
    img, lab = seq.images[0].astype(float), seq.labels[0]
    inner = ndi.binary_erosion(lab > 0, iterations=3)
    background = ~ndi.binary_dilation(lab > 0, iterations=3)
    assert img[inner].mean() > img[background].mean() + 40  # cells are brighter
    assert img[inner].std() > 8 and img[background].std() > 5  # texture and noise


def test_same_seed_same_data():
    a = make_sequence(np.random.default_rng(1), 128, 4)
    b = make_sequence(np.random.default_rng(1), 128, 4)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)


def test_written_dataset_layout_and_partial_frame(synthetic_root):
    ds = open_ctc_dataset(synthetic_root, require_gt=True)
    report = inspect_path(synthetic_root)
    assert report.kind == "ctc-training"
    s1, s2 = report.sequences
    assert (s1.n_frames, s1.shape, s1.dtype) == (10, (256, 256), "uint8")
    assert s1.st_frames == 10 and s1.gt_tra_frames == 10 and s1.n_divisions == 1
    assert list(s1.partial) == [4] and s1.partial[4][0] == 2 and s1.partial[4][1] >= 8
    assert not s2.partial
    # markers lie inside their cells and carry the track labels
    seq = ds.sequence("01")
    tracks = {r.label for r in seq.tracks()}
    for t in (1, 7):
        seg, tra = seq.read_gt_seg(t), seq.read_gt_tra(t)
        assert set(np.unique(tra)[1:]) <= tracks
        assert np.all(seg[tra > 0] > 0)
