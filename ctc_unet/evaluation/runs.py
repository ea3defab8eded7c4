"""Evaluating a trained run: predict the frames that have ground truth, then score them (CTC
measures through py-ctcmetrics, or ISBI 2012 measures), with overlay pictures."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ctc_unet.training.rundir import RunDir

logger = logging.getLogger(__name__)


def evaluate_ctc_run(run: RunDir | None, path: Path, root: Path, sequence: list[str] | None,
                     frames: str, out: Path | None, device: torch.device,
                     interactive: bool = False) -> tuple[list[dict], Path]:
    """Score CTC results against the GT of ``root`` (predicting them first when ``run`` is a
    RunDir); returns the rows and the folder for evaluation.json/.csv and overlays."""
    from ctc_unet.data.ctc import open_ctc_dataset, read_tiff, res_folder
    from ctc_unet.data.frames import normalize_image
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.evaluation.ctc import evaluate_ctc_sequence
    from ctc_unet.plots import contour_overlay

    dataset = open_ctc_dataset(root)
    seqs = [dataset.sequence(s) for s in sequence] if sequence else [
        s for s in dataset.sequences.values() if s.gt_seg and s.tracks_file]
    for s in seqs:
        if not (s.gt_seg and s.tracks_file):
            raise CtcUnetError(f"{root}: sequence {s.name} has no ground truth (SEG and TRA) "
                               "to evaluate against")
    if not seqs:
        raise CtcUnetError(f"{root}: no sequence with ground truth (XX_GT/SEG and TRA)")
    val: dict[str, list[int]] = {}
    if frames == "val":
        if run is None:
            raise CtcUnetError("--frames val needs a run directory")
        from ctc_unet.training.split import Split

        for r in Split.from_json(run.split.read_text()).val:
            val.setdefault(r.sequence, []).append(r.t)
        if not sequence:
            seqs = [s for s in seqs if s.name in val]
        if not seqs:
            raise CtcUnetError(f"{run.root}: the run holds out no GT frame of {root.name}")
    if run is not None:
        from ctc_unet.inference.predictor import load_predictor, predict_sequence

        res_root = run.root / "results" / root.name
        first = seqs[0]
        pred = load_predictor(run, device, first.frame_shape(min(first.frames)))
        for s in seqs:
            predict_sequence(pred, s, res_root, interactive=interactive)
        dest = out or run.root / "evaluation" / root.name
    else:
        res_root, dest = path, out or path / "evaluation"
    rows = []
    for s in seqs:
        res = res_folder(res_root, s.name)
        if not res.is_dir():
            raise CtcUnetError(f"{res}: results folder not found")
        seg_frames = val.get(s.name) if frames == "val" else None
        if frames == "val" and not seg_frames:
            raise CtcUnetError(f"the run holds out no frame of sequence {s.name}")
        scores = evaluate_ctc_sequence(res, root / f"{s.name}_GT", seg_frames)
        rows.append({"dataset": root.name, "sequence": s.name, "seg_frames": frames, **scores})
        for t in (seg_frames or sorted(s.gt_seg))[:4]:
            mask = read_tiff(res / f"mask{t:0{s.digits}d}.tif")
            contour_overlay(normalize_image(s.read_frame(t)), s.read_gt_seg(t), mask,
                            dest / "overlays" / f"{s.name}_t{t:0{s.digits}d}.png",
                            f"{root.name} {s.name} t={t}  green: GT, magenta: prediction")
    return rows, dest


def evaluate_isbi_run(run: RunDir, root: Path, device: torch.device) -> list[dict]:
    """Predict the run's held-out ISBI 2012 slices with and without TTA and score them."""
    from dataclasses import replace

    import numpy as np

    from ctc_unet.data.isbi import read_isbi2012
    from ctc_unet.evaluation.isbi import isbi_measures
    from ctc_unet.inference.predictor import load_predictor
    from ctc_unet.training.split import Split

    data = read_isbi2012(root)
    slices = [r.t for r in Split.from_json(run.split.read_text()).val] or list(
        range(data.train_volume.shape[0]))
    pred = load_predictor(run, device, data.train_volume.shape[1:])
    rows = []
    for tta in (False, True):
        p = replace(pred, cfg=replace(pred.cfg, inference=replace(pred.cfg.inference, tta=tta)))
        prob = np.stack([p.probabilities(data.train_volume[z])[1] for z in slices])
        m = isbi_measures(prob, data.train_labels[slices])
        rows.append({"dataset": "ISBI2012", "slices": f"{slices[0]}-{slices[-1]}",
                     "tta": pred.cfg.inference.tta_count if tta else 1,
                     "rand_error": m["rand_error"], "rand_threshold": m["rand_threshold"],
                     "pixel_error": m["pixel_error"]})
    return rows
