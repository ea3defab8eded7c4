"""A movie of tracked frames (animated GIF): every object coloured by its track and labelled
with its track id, a daughter's first frame marked with her mother's id (red for a division,
orange for a bridged gap), so that a false division or a lost identity is seen by playing it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from ctc_unet.data.ctc import TrackRecord, children
from ctc_unet.files import atomic_write
from ctc_unet.plots import overlay

MAX_SIDE = 384  # px of the movie's longer side
COLOURS = 64  # a GIF's palette: 64 colours keep a 115-frame 512 px sequence near 9 MB
FONT_SIZE = 12
DIVISION = (255, 60, 60)
GAP = (255, 165, 0)
PLAIN = (255, 255, 0)


def sample_grid(shape: tuple[int, int], max_side: int = MAX_SIDE
                ) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices that shrink an (H, W) array to at most ``max_side`` px on its
    longer side (nearest neighbour: labels stay labels)."""
    scale = min(1.0, max_side / max(shape))
    return tuple(np.minimum((np.arange(max(1, round(n * scale))) / scale).astype(int), n - 1)
                 for n in shape)


def first_frame_marks(records: Sequence[TrackRecord]
                      ) -> dict[tuple[int, int], tuple[str, tuple]]:
    """(track label, its first frame) -> (text, colour) of each child track: ``label<mother``
    in red when the mother divides (two or more children), in orange for a single child (a
    bridged gap)."""
    marks = {}
    for parent, kids in children(records).items():
        colour = DIVISION if len(kids) >= 2 else GAP
        for kid in kids:
            marks[(kid.label, kid.begin)] = (f"{kid.label}<{parent}", colour)
    return marks


@functools.cache
def _font():
    from PIL import ImageFont

    return ImageFont.load_default(size=FONT_SIZE)


def movie_frame(image: np.ndarray, labels: np.ndarray, t: int,
                marks: dict[tuple[int, int], tuple[str, tuple]],
                *, grid: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """One RGB (h, w, 3) uint8 frame: image (H, W) in about [0, 1] and its tracked labels
    (H, W) of frame ``t`` sampled on ``grid`` (rows, columns), ids at the objects' centres."""
    from PIL import Image, ImageDraw

    font = _font()
    rows, cols = np.ix_(*grid)
    small = labels[rows, cols]
    rgb = (overlay(image[rows, cols], small) * 255).astype(np.uint8)
    picture = Image.fromarray(rgb)
    draw = ImageDraw.Draw(picture)
    ids = [int(i) for i in np.unique(small) if i]
    for i, (y, x) in zip(ids, ndi.center_of_mass(small > 0, small, ids), strict=True):
        text, colour = marks.get((i, t), (str(i), PLAIN))
        draw.text((x, y), text, fill=colour, anchor="mm", font=font, stroke_width=1,
                  stroke_fill=(0, 0, 0))
    draw.text((4, 4), f"t={t}", fill=(255, 255, 255), font=font, stroke_width=1,
              stroke_fill=(0, 0, 0))
    return np.asarray(picture)


def write_movie(images: Iterable[np.ndarray], labels: Sequence[np.ndarray],
                frames: Sequence[int], records: Sequence[TrackRecord], *, path: Path,
                ms_per_frame: int = 200) -> Path:
    """Animated GIF of ``labels`` (tracked, one (H, W) array per frame number in ``frames``)
    over ``images`` ((H, W), about [0, 1]), written atomically; at most MAX_SIDE px on the
    longer side."""
    from PIL import Image

    grid = sample_grid(labels[0].shape)
    marks = first_frame_marks(records)
    pictures = [Image.fromarray(movie_frame(img, lab, t, marks, grid=grid))
                .quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT,
                          dither=Image.Dither.NONE)
                for img, lab, t in zip(images, labels, frames, strict=True)]

    def save(tmp: Path) -> None:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=ms_per_frame, loop=0, optimize=True)

    atomic_write(Path(path), save)
    return Path(path)
