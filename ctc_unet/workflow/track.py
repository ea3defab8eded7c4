"""Tracking a folder of per-frame instance masks (from this tool or any segmenter) into a CTC
result: ``maskNNN.tif`` or ``man_segNNN.tif`` in, ``XX_RES`` (masks + res_track.txt) out,
validated by py-ctcmetrics before it is moved into place."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from ctc_unet.config import TrackingConfig
from ctc_unet.data.ctc import (
    RESULT_WHAT,
    count_divisions,
    indexed_files,
    is_result_folder,
    write_result_folder,
)
from ctc_unet.data.images import check_labels, read_tiff
from ctc_unet.errors import DataError
from ctc_unet.evaluation.ctc import ctcmetrics_problem
from ctc_unet.files import check_apart, check_replaceable
from ctc_unet.tracking.linking import track_instances

logger = logging.getLogger(__name__)

MASK_RE = re.compile(r"^(?:mask|man_seg)(\d{3,4})\.tiff?\Z", re.IGNORECASE)


def read_mask_folder(folder: Path) -> tuple[list[int], list[np.ndarray], int]:
    """Frame indices, (H, W) integer masks and the digit count of a mask folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    files = indexed_files(folder, MASK_RE)
    if not files:
        raise DataError(f"{folder}: no masks (expected maskNNN.tif or man_segNNN.tif)")
    frames = sorted(files)
    masks, shape = [], None
    for t in frames:
        mask = check_labels(read_tiff(files[t]), files[t], shape)
        shape = shape or mask.shape
        masks.append(mask)
    missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
    if missing:
        logger.warning("%s: frames %s are missing; tracks are linked across them as if the "
                       "frames were consecutive, and res_track.txt uses the frame numbers of "
                       "the files", folder, missing[:10])
    digits = len(MASK_RE.match(files[frames[0]].name).group(1))
    return frames, masks, digits


def track_folder(masks_dir: Path, out: Path, cfg: TrackingConfig) -> tuple[Path, int, int]:
    """Track the masks of ``masks_dir`` into the CTC result folder ``out``; returns it, the
    number of tracks and the number of divisions. Nothing is written unless py-ctcmetrics
    validates the result; ``out`` may not be, lie inside or contain ``masks_dir``, and may
    replace only an earlier result."""
    check_apart(out, [masks_dir])
    check_replaceable(out, is_result_folder, RESULT_WHAT)
    frames, masks, digits = read_mask_folder(masks_dir)
    if not any(m.any() for m in masks):
        raise DataError(f"{masks_dir}: no objects in any of its {len(masks)} masks (all "
                        "background); there is nothing to track")
    tracked, records = track_instances(masks, cfg)

    def check(staging: Path) -> None:
        problem = ctcmetrics_problem(staging, out)
        if problem is not None:
            raise DataError(f"{masks_dir}: the tracked result does not pass py-ctcmetrics' "
                            f"validation ({problem}); nothing was written")

    folder = write_result_folder(out, frames, tracked, records, digits=digits, check=check)
    return folder, len(records), count_divisions(records)
