"""Reading and writing TIFF images: frames as 2D gray values, label images checked for what
they can hold (the CTC format's uint16), each read naming its file when it fails."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tifffile

from ctc_unet.errors import DataError
from ctc_unet.files import atomic_write

logger = logging.getLogger(__name__)


def read_tiff(path: Path) -> np.ndarray:
    """Read a whole TIFF file; DataError names the file when it is missing or unreadable."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        data = tifffile.imread(path)
    except Exception as exc:  # tifffile raises several types for corrupt files
        raise DataError(f"{path}: unreadable TIFF ({type(exc).__name__}: {exc})") from exc
    if data.size == 0:  # tifffile returns an empty array for some broken files
        raise DataError(f"{path}: unreadable TIFF (no image data)")
    return data


def tiff_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the first series of a TIFF without reading its pixels."""
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return tuple(series.shape), np.dtype(series.dtype)
    except Exception as exc:
        raise DataError(f"{path}: unreadable TIFF ({type(exc).__name__}: {exc})") from exc


def squeeze_2d(image: np.ndarray, path: Path) -> np.ndarray:
    """Drop singleton axes; a frame that is not 2D after that is an error."""
    image = np.squeeze(image)
    if image.ndim != 2:
        raise DataError(f"{path}: expected a 2D image, got shape {image.shape}")
    return image


MAX_LABEL = int(np.iinfo(np.uint16).max)  # CTC label images (and results) are uint16


def check_labels(labels: np.ndarray, path: Path, shape: tuple[int, ...] | None,
                 relabel: bool = True) -> np.ndarray:
    """Validate a label image: integer, non-negative, and (when given) of the frame's shape.

    Labels above 65535 (the CTC format's uint16), which would size per-label arrays by the
    largest value, are renumbered 1..n with ``relabel`` (segmentation masks: only overlaps
    count) and refused without it (tracking markers, whose labels name tracks); more than
    65535 objects are refused either way.
    """
    labels = squeeze_2d(labels, path)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: label image has dtype {labels.dtype}; labels must be integers")
    if np.issubdtype(labels.dtype, np.signedinteger) and labels.size and labels.min() < 0:
        raise DataError(f"{path}: label image has negative values")
    if shape is not None and labels.shape != tuple(shape):
        raise DataError(
            f"{path}: mask shape {labels.shape} differs from its frame's shape {tuple(shape)}"
        )
    if labels.size and int(labels.max()) > MAX_LABEL:
        values = np.unique(labels)
        n = int(values.size - (values[0] == 0))
        if not relabel or n > MAX_LABEL:
            raise DataError(f"{path}: label {int(values[-1])} exceeds {MAX_LABEL}, the largest "
                            f"label of the CTC format ({n} objects); renumber the labels")
        logger.info("%s: labels up to %d renumbered 1..%d", path, int(values[-1]), n)
        labels = np.searchsorted(values, labels).astype(np.int32) + int(values[0] != 0)
    return labels


def write_label_tiff(path: Path, labels: np.ndarray) -> Path:
    """Write a uint16 label TIFF atomically (GT, ST or result masks)."""
    atomic_write(Path(path), lambda p: tifffile.imwrite(p, np.asarray(labels, np.uint16),
                                                         compression="zlib"))
    return Path(path)
