"""Test-time augmentation: class probabilities averaged over the 8 symmetries of the square
(flips and 90-degree rotations), each mapped back (the authors' 2015 release averaged over
mirrored inputs; the paper, for EM, over 7 rotated versions)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# The 8 symmetries of the square: (number of 90-degree rotations, transpose-free flip).
DIHEDRAL = [(k, flip) for flip in (False, True) for k in range(4)]


def predict_tta(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                count: int = 8) -> np.ndarray:
    """Average class probabilities over ``count`` (1..8) flips / 90-degree rotations of the
    image, each mapped back. ``image``: (H, W) or (C, H, W), transformed in its last two
    axes; ``predict``: image -> (K, H, W)."""
    if not 1 <= count <= 8:
        raise ValueError("test-time augmentation count must be 1..8")
    total = None
    for k, flip in DIHEDRAL[:count]:
        view = np.rot90(image[..., ::-1] if flip else image, k, axes=(-2, -1))
        prob = np.rot90(predict(np.ascontiguousarray(view)), -k, axes=(1, 2))
        prob = prob[:, :, ::-1] if flip else prob
        total = prob if total is None else total + prob
    return np.ascontiguousarray(total / count, dtype=np.float32)
