"""Tracking a folder of per-frame instance masks (from this tool or any segmenter) into a CTC
result: ``maskNNN.tif`` or ``man_segNNN.tif`` in, ``XX_RES`` (masks + res_track.txt) out,
validated by py-ctcmetrics before it is moved into place."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ctc_unet.config import TrackingConfig
from ctc_unet.data.ctc import (
    RESULT_WHAT,
    Sequence,
    count_divisions,
    indexed_files,
    is_result_folder,
    open_ctc_dataset,
    write_result_folder,
)
from ctc_unet.data.images import check_labels, read_tiff
from ctc_unet.errors import ConfigError, DataError
from ctc_unet.evaluation.ctc import ctcmetrics_problem
from ctc_unet.files import check_apart, check_replaceable
from ctc_unet.tracking.division_learning import (
    DivisionLearning,
    Labelled,
    label_candidates,
    learn_division_evidence,
)
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


def reference_masks(seq: Sequence) -> tuple[str, Callable[[int], np.ndarray]] | None:
    """The masks of every frame of ``seq`` to learn tracking from, by preference: the
    ``XX_ERR_SEG`` masks the Cell Linking Benchmark gives (masks with a segmenter's errors,
    like the ones to be linked), silver truth (complete by design), gold truth; each only
    where it covers every frame. None when none does or TRA markers or man_track.txt are
    missing."""
    if seq.tracks_file is None or not set(seq.frames) <= set(seq.gt_tra):
        return None
    err_dir = seq.root / f"{seq.name}_ERR_SEG"
    err = indexed_files(err_dir, MASK_RE) if err_dir.is_dir() else {}

    def read_err(t: int) -> np.ndarray:
        return check_labels(read_tiff(err[t]), err[t], seq.first_shape)

    for kind, files, read in ((f"{err_dir.name} masks", err, read_err),
                              ("silver truth", seq.st_seg, seq.read_st_seg),
                              ("gold truth", seq.gt_seg, seq.read_gt_seg)):
        if set(seq.frames) <= set(files):
            return kind, read
    return None


def learn_divisions(dataset_dir: Path, cfg: TrackingConfig) -> DivisionLearning:
    """``division_evidence`` learned on the reference masks of every sequence of a CTC
    training dataset that has them on every frame, with TRA markers and man_track.txt (the
    candidates the tracker weighs there, labelled by the reference tracks)."""
    if cfg.method != "global" or cfg.division_rule != "evidence":
        raise ConfigError(f"learning divisions sets tracking.division_evidence, which only the "
                          f"global tracker's evidence rule uses (the configuration has "
                          f"method: {cfg.method}, division_rule: {cfg.division_rule})")
    dataset = open_ctc_dataset(dataset_dir, require_gt=True)
    parts: list[Labelled] = []
    for name, seq in dataset.sequences.items():
        found = reference_masks(seq)
        if found is None:
            logger.info("%s: sequence %s lacks masks (ERR_SEG, ST or GT SEG), TRA markers or "
                        "man_track.txt on some frame; it teaches nothing", dataset_dir, name)
            continue
        kind, read = found
        frames = sorted(seq.frames)
        masks = [read(t) for t in frames]
        markers = [seq.read_gt_tra(t) for t in frames]
        part = label_candidates(masks, markers, seq.tracks(), frames=frames, cfg=cfg)
        logger.info("%s: sequence %s (%s, %d frames): %d candidate divisions, %d true",
                    dataset_dir, name, kind, len(frames), part.evidence.size,
                    int(part.is_division.sum()))
        parts.append(part)
    if not parts:
        raise DataError(f"{dataset_dir}: no sequence has masks (XX_ERR_SEG, silver or gold "
                        "SEG), TRA markers and man_track.txt on every frame; there is nothing "
                        "to learn divisions from")
    return learn_division_evidence(parts, cfg.division_evidence)


def learned_config(cfg: TrackingConfig, learn_from: Path | None) -> TrackingConfig:
    """``cfg`` with ``division_evidence`` learned from the dataset ``learn_from`` (logged);
    ``cfg`` itself when None."""
    if learn_from is None:
        return cfg
    learned = learn_divisions(learn_from, cfg)
    logger.info("%s: %s", learn_from, learned.describe())
    return dataclasses.replace(cfg, division_evidence=learned.threshold)


def track_folder(masks_dir: Path, out: Path, cfg: TrackingConfig, *,
                 learn_from: Path | None = None) -> tuple[Path, int, int]:
    """Track the masks of ``masks_dir`` into the CTC result folder ``out``; returns it, the
    number of tracks and the number of divisions. With ``learn_from`` (a CTC training
    dataset) the division threshold is learned there first (``learn_divisions``). Nothing
    is written unless py-ctcmetrics validates the result; ``out`` may not be, lie inside or
    contain ``masks_dir``, and may replace only an earlier result."""
    check_apart(out, [masks_dir])
    check_replaceable(out, is_result_folder, RESULT_WHAT)
    cfg = learned_config(cfg, learn_from)
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
