"""Validation during training, and choosing the post-processing at its end."""

from __future__ import annotations

import json
import logging

import numpy as np
import torch

from ctc_unet.config import Config
from ctc_unet.data.frames import AnnotatedFrame
from ctc_unet.evaluation.seg import pixel_iou, seg_measure
from ctc_unet.files import write_text_atomic
from ctc_unet.inference.tiling import predict_whole
from ctc_unet.model.unet import UNet
from ctc_unet.postprocess.instances import instances_from_probability
from ctc_unet.postprocess.search import search_postprocess
from ctc_unet.training.rundir import RunDir, load_checkpoint

logger = logging.getLogger(__name__)


def validate(model: torch.nn.Module, frames: list[AnnotatedFrame], cfg: Config,
             device: torch.device) -> dict[str, float]:
    """Validation measures; ``val_score`` is the one that picks the best checkpoint: CTC SEG
    of the instances for CTC data, 1 - pixel error for ISBI 2012."""
    refs, preds, ious, errors = [], [], [], []
    isbi = bool(frames) and frames[0].ref.source == "ISBI"
    for f in frames:
        prob = predict_whole(model, f.image, device)[1]
        valid = None if f.ignore is None else ~f.ignore
        if isbi:
            pred = prob > 0.5
            errors.append(float(np.mean(pred != (f.labels > 0))))
            ious.append(pixel_iou(f.labels, pred))
        else:
            refs.append(f.labels)
            preds.append(instances_from_probability(prob, cfg.postprocess,
                                                    cfg.targets.border_width))
            ious.append(pixel_iou(f.labels, preds[-1], valid))
    out = {"val_pixel_iou": float(np.mean(ious)) if ious else 0.0}
    if isbi:
        out["val_pixel_error"] = float(np.mean(errors))
        out["val_score"] = 1.0 - out["val_pixel_error"]
    else:
        out["val_seg"] = seg_measure(refs, preds)
        out["val_score"] = out["val_seg"]
    return out


def choose_postprocess(run: RunDir, cfg: Config, frames: list[AnnotatedFrame],
                       device: torch.device) -> None:
    """Search threshold and minimum size on the validation frames with the best weights;
    save the choice as postprocess.json (used by predict)."""
    mc = cfg.model
    model = UNet(mc.in_channels, mc.n_classes, mc.base_channels, mc.depth, mc.dropout)
    model.load_state_dict(load_checkpoint(run.best if run.best.is_file() else run.last)["model"])
    model.to(device)
    probs = [predict_whole(model, f.image, device)[1] for f in frames]
    result = search_postprocess(probs, [f.labels for f in frames], cfg)
    write_text_atomic(run.postprocess, json.dumps(result, indent=1))
    logger.info("post-processing chosen on %d validation frames: threshold %.2f, min size %d "
                "(SEG %.4f)", len(frames), result["threshold"], result["min_size"], result["seg"])
