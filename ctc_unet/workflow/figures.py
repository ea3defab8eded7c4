"""``targets``: the paper's Fig. 3 for one frame of a dataset, as PNGs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ctc_unet.config import load_config
from ctc_unet.data.locate import dataset_inputs, resolve_dataset
from ctc_unet.files import check_apart
from ctc_unet.model.geometry import output_size
from ctc_unet.plots import target_figures
from ctc_unet.targets.cache import make_targets
from ctc_unet.targets.frames import annotated_frame
from ctc_unet.training.augment import make_augmentation

logger = logging.getLogger(__name__)


def write_target_figures(dataset: str, *, out: Path, sequence: str, frame: int | None,
                         source: str | None, config: Path | None, samples: int, tile: int,
                         seed: int, data_dir: Path | None) -> list[Path]:
    """Raw image, annotation overlay, 2-class target with separation borders, weight map and
    ``samples`` augmented samples of one annotated frame, as PNGs in ``out``; the parameters
    are ``ctc_unet.api.targets``'."""
    root, name = resolve_dataset(dataset, data_dir)
    check_apart(out, dataset_inputs(root), replaces=False)
    overrides = {"targets": {"source": source}} if source else None
    cfg = load_config(name, config, overrides)
    out_size = output_size(tile)
    fr = annotated_frame(root, sequence, frame, cfg.targets)
    target, weights = make_targets(fr.labels, cfg.targets, fr.ignore, cfg.model.n_classes)
    aug = make_augmentation(cfg.augment, tile, out_size, seed=seed)
    draws = [aug({"image": fr.image[None], "label": target[None].astype(np.float32),
                  "weight": weights[None]}) for _ in range(samples)]
    title = f"{root.name} {fr.ref.sequence} t={fr.ref.t} ({fr.ref.source})"
    paths = target_figures(fr.image, fr.labels, target, weights, ignore=fr.ignore,
                           samples=draws, out_dir=out, title=title)
    ignored = 0 if fr.ignore is None else int(fr.ignore.sum())
    logger.info("%s: %d cells, %d border px, weights %.2f..%.2f, %d ignored px", title,
                len(np.unique(fr.labels)) - 1, int(((fr.labels > 0) & (target == 0)).sum()),
                float(weights.min()), float(weights.max()), ignored)
    return paths
