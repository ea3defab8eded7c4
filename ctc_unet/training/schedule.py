"""Optimizer and learning-rate schedule of a run (paper: SGD with momentum 0.99)."""

from __future__ import annotations

import math

import torch

from ctc_unet.config import TrainConfig


def lr_factor(cfg: TrainConfig, it: int) -> float:
    """Learning-rate multiplier at iteration ``it`` (warm-up, then the schedule)."""
    if cfg.warmup_iterations and it < cfg.warmup_iterations:
        return (it + 1) / cfg.warmup_iterations
    frac = min(it / max(cfg.iterations, 1), 1.0)
    if cfg.lr_schedule == "poly":
        return (1.0 - frac) ** cfg.lr_power
    if cfg.lr_schedule == "step":
        return cfg.lr_gamma ** (it // max(cfg.lr_step, 1))
    if cfg.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    return 1.0


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig
                   ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """The optimizer named by ``cfg.optimizer`` and its schedule (a LambdaLR of ``lr_factor``)."""
    if cfg.optimizer == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(
            model.parameters(), lr=cfg.lr, betas=cfg.adam_betas, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                    weight_decay=cfg.weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(cfg, it))
