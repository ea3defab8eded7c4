import shutil

import numpy as np
import pytest
import tifffile

from ctc_unet.data.ctc import (
    TrackRecord,
    format_tracks,
    open_ctc_dataset,
    parse_man_track,
    res_folder,
    write_mask,
    write_tracks,
)
from ctc_unet.data.inspection import annotation_coverage
from ctc_unet.errors import DataError


def test_open_synthetic_dataset_indexes_every_kind_of_file(synthetic_root):
    ds = open_ctc_dataset(synthetic_root, require_gt=True)
    assert list(ds.sequences) == ["01", "02"]
    seq = ds.sequence("1")
    assert sorted(seq.frames) == list(range(10))
    assert seq.digits == 3
    assert sorted(seq.gt_seg) == [1, 4, 7]
    assert len(seq.gt_tra) == 10 and len(seq.st_seg) == 10
    frame = seq.read_frame(1)
    assert frame.shape == (256, 256) and frame.dtype == np.uint8
    seg = seq.read_gt_seg(1)
    assert seg.shape == frame.shape and np.issubdtype(seg.dtype, np.integer)


def test_man_track_roundtrip(tmp_path):
    records = [TrackRecord(1, 0, 4, 0), TrackRecord(2, 5, 9, 1), TrackRecord(3, 5, 9, 1)]
    path = write_tracks(tmp_path / "res_track.txt", records)
    assert path.read_text() == "1 0 4 0\n2 5 9 1\n3 5 9 1\n"
    assert parse_man_track(path) == records
    assert format_tracks(reversed(records)) == path.read_text()


@pytest.mark.parametrize(("text", "msg"), [
    ("1 0 4\n", "four non-negative integers"),
    ("1 0 x 0\n", "four non-negative integers"),
    ("1 5 4 0\n", "begins"),
    ("1 0 4 0\n1 5 6 0\n", "listed twice"),
    ("2 0 4 7\n", "parent"),
    ("0 0 4 0\n", "background"),
])
def test_bad_track_file_names_file_and_line(tmp_path, text, msg):
    path = tmp_path / "man_track.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=msg) as err:
        parse_man_track(path)
    assert str(path) in str(err.value)


def test_write_mask_uses_input_digit_count_and_uint16(tmp_path):
    res = res_folder(tmp_path, "01")
    mask = np.zeros((5, 7), np.int64)
    mask[1:3, 2:4] = 300
    p3 = write_mask(res, 7, mask, digits=3)
    p4 = write_mask(res, 7, mask, digits=4)
    assert p3.name == "mask007.tif" and p4.name == "mask0007.tif"
    assert res.name == "01_RES"
    back = tifffile.imread(p3)
    assert back.dtype == np.uint16 and np.array_equal(back, mask)
    assert not list(res.glob("*.part"))


def test_write_mask_rejects_float_and_out_of_range(tmp_path):
    with pytest.raises(ValueError):
        write_mask(tmp_path, 0, np.zeros((4, 4), np.float32), 3)
    with pytest.raises(ValueError):
        write_mask(tmp_path, 0, np.full((4, 4), 70000), 3)


def test_four_digit_frames(tmp_path):
    (tmp_path / "01").mkdir()
    for t in range(3):
        tifffile.imwrite(tmp_path / "01" / f"t{t:04d}.tif", np.zeros((8, 8), np.uint16))
    seq = open_ctc_dataset(tmp_path).sequence("01")
    assert seq.digits == 4 and sorted(seq.frames) == [0, 1, 2]


def test_annotation_coverage_counts_markers_without_mask():
    seg = np.zeros((10, 10), np.uint16)
    seg[0:3, 0:3] = 5
    markers = np.zeros_like(seg)
    markers[1, 1] = 1  # inside a segmented cell
    markers[8, 8] = 2  # no mask
    markers[5, 5] = 3  # no mask
    assert annotation_coverage(seg, markers) == (1, 3)


# ----------------------------------------------------------------------------- bad input


def _copy(synthetic_root, tmp_path):
    dst = tmp_path / "ds"
    shutil.copytree(synthetic_root, dst)
    return dst


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        open_ctc_dataset(tmp_path / "nope")


def test_no_frames(tmp_path):
    (tmp_path / "01").mkdir()
    (tmp_path / "01" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no frames"):
        open_ctc_dataset(tmp_path)


def test_gt_shape_mismatch_names_file(synthetic_root, tmp_path):
    ds = _copy(synthetic_root, tmp_path)
    bad = ds / "01_GT" / "SEG" / "man_seg001.tif"
    tifffile.imwrite(bad, np.zeros((100, 120), np.uint16))
    with pytest.raises(DataError, match="differs from its frame") as err:
        open_ctc_dataset(ds).sequence("01").read_gt_seg(1)
    assert "man_seg001.tif" in str(err.value)


def test_non_integer_gt(synthetic_root, tmp_path):
    ds = _copy(synthetic_root, tmp_path)
    tifffile.imwrite(ds / "01_GT" / "SEG" / "man_seg001.tif", np.zeros((256, 256), np.float32))
    with pytest.raises(DataError, match="must be integers"):
        open_ctc_dataset(ds).sequence("01").read_gt_seg(1)


def test_unreadable_tiff(synthetic_root, tmp_path):
    ds = _copy(synthetic_root, tmp_path)
    (ds / "01" / "t002.tif").write_bytes(b"this is not a tiff")
    with pytest.raises(DataError, match="unreadable TIFF") as err:
        open_ctc_dataset(ds).sequence("01").read_frame(2)
    assert "t002.tif" in str(err.value)
