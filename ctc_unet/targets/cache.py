"""Training targets of one annotated frame (target + weight map) and their on-disk cache,
keyed by content so each frame is computed once per run directory."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ctc_unet.config import TargetConfig
from ctc_unet.files import atomic_write
from ctc_unet.targets.borders import separation_borders
from ctc_unet.targets.weights import NEGLIGIBLE, weight_map

logger = logging.getLogger(__name__)


def make_targets(labels: np.ndarray, cfg: TargetConfig, ignore: np.ndarray | None = None,
                 n_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Target (H, W) uint8 and weights (H, W) float32 for instance labels (H, W).

    Classes: 0 background, 1 cell; the separation borders are 0 with ``n_classes`` 2 (the
    paper) and a class 2 of their own with ``n_classes`` 3.
    """
    border = separation_borders(labels, cfg.border_width)
    inner = np.where(border, 0, labels)
    target = (inner > 0).astype(np.uint8)
    if n_classes == 3:
        target[border] = 2
    weights = weight_map(inner, target, cfg.w0, cfg.sigma, ignore=ignore,
                         class_balance=cfg.class_balance, n_classes=n_classes)
    return target, weights


def target_key(labels: np.ndarray, ignore: np.ndarray | None, cfg: TargetConfig,
               n_classes: int = 2) -> str:
    """Content key of a target: labels, ignore mask and the parameters that shape them."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(labels.astype(np.int64)).tobytes())
    h.update(str(labels.shape).encode())
    if ignore is not None:
        h.update(np.packbits(ignore).tobytes())
    params = (cfg.border_width, cfg.w0, cfg.sigma, cfg.class_balance, NEGLIGIBLE)
    if n_classes != 2:  # keys of 2-class targets stay as they were
        params += (n_classes,)
    h.update(repr(params).encode())
    return h.hexdigest()[:32]


def cached_targets(cache_dir: Path | None, labels: np.ndarray, cfg: TargetConfig,
                   ignore: np.ndarray | None = None, *, n_classes: int = 2
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``make_targets`` with an on-disk cache keyed by content (computed once per frame)."""
    if cache_dir is None:
        return make_targets(labels, cfg, ignore, n_classes)
    key = target_key(labels, ignore, cfg, n_classes)
    path = Path(cache_dir) / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path) as z:
                return z["target"], z["weights"]
        except (OSError, ValueError, KeyError):
            logger.warning("unreadable target cache %s; recomputing", path)
    target, weights = make_targets(labels, cfg, ignore, n_classes)

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, target=target, weights=weights)

    atomic_write(path, write)
    return target, weights
