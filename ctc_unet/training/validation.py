"""Validation during training, and choosing the post-processing at its end."""

from __future__ import annotations

import json
import logging

import numpy as np
import torch

from ctc_unet.config import Config
from ctc_unet.evaluation.det import det_measure
from ctc_unet.evaluation.seg import pixel_iou, seg_measure
from ctc_unet.files import write_text_atomic
from ctc_unet.inference.tiling import predict_whole
from ctc_unet.inference.tta import predict_tta
from ctc_unet.model.unet import UNet
from ctc_unet.postprocess.instances import instances_from_probability
from ctc_unet.postprocess.search import describe, search_postprocess
from ctc_unet.rundir import RunDir, load_checkpoint
from ctc_unet.targets.frames import AnnotatedFrame

logger = logging.getLogger(__name__)


def validate(model: torch.nn.Module, frames: list[AnnotatedFrame], cfg: Config,
             device: torch.device) -> dict[str, float]:
    """Validation measures; ``val_score`` picks the best checkpoint: for CTC data
    OP_CSB = (SEG + DET) / 2 of the instances when every frame has TRA markers (SEG alone
    ignores false positives), else SEG; 1 - pixel error for ISBI 2012."""
    refs, preds, ious, errors, spreads = [], [], [], [], []
    isbi = bool(frames) and frames[0].ref.source == "ISBI"
    for f in frames:
        prob = predict_whole(model, f.network_input, device)[1]
        spreads.append(float(prob.std()))
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
    out = {"val_pixel_iou": float(np.mean(ious)) if ious else 0.0,
           "val_prob_std": float(np.mean(spreads)) if spreads else 0.0}
    if isbi:
        out["val_pixel_error"] = float(np.mean(errors))
        out["val_score"] = 1.0 - out["val_pixel_error"]
        return out
    out["val_seg"] = seg_measure(refs, preds)
    out["val_score"] = out["val_seg"]
    if frames and all(f.markers is not None for f in frames):
        out["val_det"] = det_measure([f.markers for f in frames], preds)
        out["val_op_csb"] = out["val_score"] = (out["val_seg"] + out["val_det"]) / 2
    return out


def choose_postprocess(run: RunDir, cfg: Config, frames: list[AnnotatedFrame],
                       device: torch.device, *, extra: list[AnnotatedFrame] = ()) -> None:
    """Search threshold and minimum size on the validation frames with the best weights
    (and, for DET, on the markers of the marker-only frames ``extra``); save the choice as
    postprocess.json (used by predict). The probabilities are those predict will see:
    averaged over the test-time augmentation when the config asks for it."""
    model = UNet.from_config(cfg.model)
    model.load_state_dict(load_checkpoint(run.chosen)["model"])
    model.to(device)
    ic = cfg.inference

    def forward(view: np.ndarray) -> np.ndarray:
        return predict_whole(model, view, device)

    marked = all(f.markers is not None for f in frames)
    if not marked:
        extra = []  # without markers of every choosing frame the score is SEG alone
    everything = [*frames, *extra]
    probs = [(predict_tta(forward, f.network_input, ic.tta_count) if ic.tta
              else forward(f.network_input))[1] for f in everything]
    references = [f.labels for f in frames] + [None] * len(extra)
    result = search_postprocess(probs, references, cfg,
                                [f.markers for f in everything] if marked else None)
    result["frames"] = [f"{f.ref.sequence}:{f.ref.t} ({f.ref.source})" for f in everything]
    write_text_atomic(run.postprocess, json.dumps(result, indent=1))
    logger.info("post-processing chosen on %d validation frames%s by %s: %s, threshold %.2f, "
                "min size %d (SEG %.4f%s)", len(frames),
                f" and the markers of {len(extra)} more" if extra else "", result["measure"],
                describe(result),
                result["threshold"], result["min_size"], result["seg"],
                f", DET {result['det']:.4f}" if "det" in result else "")
