"""Reading the ISBI 2012 EM segmentation challenge stacks.

``train-volume.tif`` and ``test-volume.tif`` are 30-slice 512x512 uint8 stacks;
``train-labels.tif`` holds 0 for membrane and 255 for cell interior.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctc_unet.data.images import read_tiff
from ctc_unet.errors import DataError

TRAIN_VOLUME = "train-volume.tif"
TRAIN_LABELS = "train-labels.tif"
TEST_VOLUME = "test-volume.tif"
MEMBRANE, CELL = 0, 255


@dataclass(frozen=True)
class IsbiData:
    """ISBI 2012 stacks, (slices, H, W). ``labels`` is 1 for cell and 0 for membrane."""

    train_volume: np.ndarray
    train_labels: np.ndarray
    test_volume: np.ndarray | None


def is_isbi_folder(root: Path) -> bool:
    """True if ``root`` looks like an ISBI 2012 folder (holds ``train-volume.tif``)."""
    return (Path(root) / TRAIN_VOLUME).is_file()


def read_stack(path: Path) -> np.ndarray:
    """A (Z, H, W) stack of slices, finite; DataError naming the file otherwise."""
    data = read_tiff(path)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise DataError(f"{path}: expected a stack of 2D slices, got shape {data.shape}")
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise DataError(f"{path}: {int((~np.isfinite(data)).sum())} pixel(s) are NaN or "
                        "infinite; fix or remove them")
    return data


def read_isbi2012(root: Path) -> IsbiData:
    """Read and check the ISBI 2012 folder ``root``.

    Raises DataError when the folder or a training file is missing or unreadable, when labels
    and volume differ in shape, or when labels are not binary 0/255.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    volume = read_stack(root / TRAIN_VOLUME)
    labels_path = root / TRAIN_LABELS
    labels = read_stack(labels_path)
    if labels.shape != volume.shape:
        raise DataError(f"{labels_path}: shape {labels.shape} differs from the training "
                        f"volume's {volume.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{labels_path}: labels have dtype {labels.dtype}; expected integers")
    values = np.unique(labels)
    if not set(values.tolist()) <= {MEMBRANE, CELL}:
        raise DataError(f"{labels_path}: labels must be binary (0 = membrane, 255 = cell), "
                        f"found values {values[:8].tolist()}")
    test_path = root / TEST_VOLUME
    test = read_stack(test_path) if test_path.is_file() else None
    return IsbiData(volume, (labels == CELL).astype(np.uint8), test)
