"""The movie of tracked frames: a daughter's first frame carries her mother's id in the
division's colour, a bridged gap in another; large frames are shrunk, labels kept."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ctc_unet.data.ctc import TrackRecord
from ctc_unet.movie import DIVISION, GAP, first_frame_marks, movie_frame, sample_grid, write_movie


def _division() -> tuple[list[np.ndarray], list[TrackRecord]]:
    labels = [np.zeros((64, 80), np.int32) for _ in range(4)]
    for t in range(2):
        labels[t][10:50, 20:60] = 1
    for t in range(2, 4):
        labels[t][10:28, 20:60], labels[t][32:50, 20:60] = 2, 3
    return labels, [TrackRecord(1, 0, 1, 0), TrackRecord(2, 2, 3, 1), TrackRecord(3, 2, 3, 1)]


def test_daughters_are_marked_with_their_mother_in_the_division_colour():
    _, records = _division()
    assert first_frame_marks(records) == {(2, 2): ("2<1", DIVISION), (3, 2): ("3<1", DIVISION)}
    gap = [TrackRecord(1, 0, 1, 0), TrackRecord(2, 3, 4, 1)]
    assert first_frame_marks(gap) == {(2, 3): ("2<1", GAP)}


def test_the_division_colour_appears_in_the_daughters_first_frame_only():
    labels, records = _division()
    image = np.full((64, 80), 0.5, np.float32)
    grid = sample_grid(labels[0].shape)

    def red_pixels(t: int) -> int:
        rgb = movie_frame(image, labels[t], t, first_frame_marks(records), grid=grid)
        rgb = rgb.astype(int)  # anti-aliased text: near the division's colour
        return int(np.all(np.abs(rgb - np.array(DIVISION)) < 50, axis=-1).sum())

    assert red_pixels(2) > 0 and red_pixels(3) == 0 and red_pixels(1) == 0


def test_large_frames_are_shrunk_and_labels_stay_labels():
    rows, cols = sample_grid((1000, 500), max_side=384)
    assert (rows.size, cols.size) == (384, 192)
    labels = np.arange(1000 * 500).reshape(1000, 500)
    assert set(np.unique(labels[np.ix_(rows, cols)])) <= set(labels.ravel())
    assert sample_grid((100, 120), max_side=384)[1].size == 120  # small frames keep their size


def test_the_movie_has_one_picture_per_frame(tmp_path):
    labels, records = _division()
    images = (np.full(m.shape, 0.5, np.float32) for m in labels)
    path = write_movie(images, labels, range(4), records, path=tmp_path / "01_tracks.gif")
    with Image.open(path) as movie:
        assert movie.n_frames == 4 and movie.size == (80, 64)
    assert [p.name for p in tmp_path.iterdir()] == ["01_tracks.gif"]
