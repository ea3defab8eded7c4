"""Weight averaging: an exponential moving average (EMA, Polyak averaging) of the trained
weights, which validation, checkpoint choice and prediction use instead of the last step's.

With Adam or momentum 0.99 the weights of consecutive checkpoints differ by more than the
frames that choose among them can tell apart (docs/evaluation.md); the average follows the
same trajectory with the step-to-step noise smoothed out. ``torch.optim.swa_utils``'s
``AveragedModel`` keeps it; the decay warms up as ``min(decay, (1 + n) / (10 + n))`` after
``n`` updates, so the first iterations' weights (random initialisation) do not linger.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel


def ema_decay(decay: float, updates: int) -> float:
    """The decay of update ``updates + 1``: ``decay``, lowered while few updates were made."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


def make_average(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """An EMA of ``model``'s weights with ``decay`` in (0, 1); None when ``decay`` is 0."""
    if decay <= 0.0:
        return None

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor],
               updates: torch.Tensor) -> None:
        torch._foreach_lerp_(averaged, current, 1.0 - ema_decay(decay, int(updates)))

    return AveragedModel(model, multi_avg_fn=update, use_buffers=True)
