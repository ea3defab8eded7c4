"""Learning a run's track support (``ctc_unet.tracking.support``) at the end of training: the
run's model segments the frames of its training sequences that report nothing, the tracker
links them, and each lineage is labelled by the sequence's TRA markers.

Frames: every frame with a TRA marker file of the sequences that are not reported on whole,
except the reporting frames and ``split.gap_frames`` frames on each side of them, in blocks of
consecutive frames (a block of fewer than ``MIN_BLOCK`` frames is skipped). The choice is saved
as track_support.json (weights, the frames it learned on, how many lineages of each kind).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from ctc_unet.config import Config
from ctc_unet.data.ctc import Sequence, open_ctc_dataset
from ctc_unet.files import write_text_atomic
from ctc_unet.inference.predictor import Predictor
from ctc_unet.rundir import RunDir, Split, frame_ranges, frame_runs
from ctc_unet.tracking.linking import lineage_examples
from ctc_unet.tracking.support import TrackSupport, fit_support, object_probability

logger = logging.getLogger(__name__)

MIN_BLOCK = 5


def learning_blocks(seq: Sequence, split: Split, gap: int) -> list[list[int]]:
    """Runs of consecutive frames of ``seq`` with TRA markers, the reporting frames and
    ``gap`` frames around each left out."""
    if seq.name in split.report_sequences:
        return []
    banned: set[int] = set()
    for ref in split.report:
        if ref.sequence == seq.name:
            banned.update(range(ref.t - gap, ref.t + gap + 1))
    usable = [t for t in seq.frames if t in seq.gt_tra and t not in banned]
    return [b for b in frame_runs(usable) if len(b) >= MIN_BLOCK]


def learn_track_support(run: RunDir, root: Path, cfg: Config, device: torch.device
                        ) -> TrackSupport | None:
    """Fit and save the run's track support; None (and nothing written) where the training
    sequences give too few lineages of either kind."""
    ds = open_ctc_dataset(root)
    split = run.load_split()
    rows, hits, used = [], [], []
    for name in sorted(ds.sequences):
        seq = ds.sequences[name]
        blocks = learning_blocks(seq, split, cfg.split.gap_frames)
        pred = (Predictor.from_run(run, device, seq.first_shape, support=False)
                if blocks else None)
        for block in blocks:
            x, y = _block_examples(pred, seq, block)
            rows.append(x)
            hits.append(y)
            used.append(f"{name}:{frame_ranges(block)}")
    x = np.concatenate(rows) if rows else np.zeros((0, 1))
    y = (np.concatenate(hits) >= 0.5).astype(float) if hits else np.zeros(0)
    try:
        support = fit_support(x, y)
    except ValueError as exc:
        logger.warning("track support not learned (%s): predict keeps every track", exc)
        return None
    record = support.to_dict() | {"frames": used, "lineages": len(y),
                                  "cells": int(y.sum())}
    write_text_atomic(run.track_support, json.dumps(record, indent=1))
    logger.info("track support learned on %s: %d lineages, %d of them cells; weights %s",
                ", ".join(used), len(y), int(y.sum()),
                ", ".join(f"{n} {w:+.2f}" for n, w in zip(("bias", *support.features),
                                                         support.weights, strict=True)))
    return support


def _block_examples(pred: Predictor, seq: Sequence, block: list[int]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Lineage rows and marker hits of one block of frames segmented by ``pred``."""
    labels, probs, times = [], [], sorted(seq.frames)
    for t in block:
        prob, lab = pred.segment(seq.read_frame, times, t, str(seq.frames[t]))
        labels.append(lab)
        probs.append(object_probability(lab, prob))
    markers = [seq.read_gt_tra(t) for t in block]
    return lineage_examples(labels, pred.cfg.tracking, probs, markers)
