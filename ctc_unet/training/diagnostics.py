"""Training diagnostics (pure torch): dead ReLUs per block, update-to-weight ratios per layer,
and whether the output has collapsed to a constant.

A block's dead fraction is the share of its output channels that are zero at every pixel of
the current batch (a ReLU that never fires passes no gradient: a whole dead block stops the
signal). The update ratio of a layer is ||w_after - w_before|| / ||w_before|| of one
optimizer step; a healthy run sits around 1e-3, far above that the step overshoots.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def blocks(model: nn.Module) -> dict[str, nn.Module]:
    """The U-Net's double-convolution blocks by name: down1..downD, bottom, up1..upD."""
    out = {f"down{i + 1}": b for i, b in enumerate(model.down)}
    out["bottom"] = model.bottom
    out.update({f"up{i + 1}": b for i, b in enumerate(model.up)})
    return out


@contextmanager
def dead_fractions(model: nn.Module, into: dict[str, float]):
    """While active, each forward pass records into ``into`` the dead-channel fraction of
    every block's output (B, C, H, W): channels that are zero at every pixel and sample."""
    handles = []
    for name, block in blocks(model).items():
        def hook(_m, _inp, out, name=name):
            alive = out.detach().flatten(2).amax(dim=2).amax(dim=0) > 0  # (C,)
            into[name] = float(1.0 - alive.float().mean())
        handles.append(block.register_forward_hook(hook))
    try:
        yield into
    finally:
        for h in handles:
            h.remove()


def weight_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the convolution weights, keyed by parameter name."""
    return {n: p.detach().clone() for n, p in model.named_parameters()
            if n.endswith("weight") and p.dim() == 4}


def update_ratios(model: nn.Module, before: dict[str, torch.Tensor]) -> dict[str, float]:
    """||w - w_before|| / ||w_before|| per convolution weight since ``before``."""
    params = dict(model.named_parameters())
    return {n: float((params[n].detach() - w).norm() / w.norm().clamp_min(1e-12))
            for n, w in before.items()}


def is_constant(prob_cell: torch.Tensor | float, threshold: float) -> bool:
    """True when the spread (std over pixels) of a cell probability is below ``threshold``."""
    spread = float(prob_cell.std()) if isinstance(prob_cell, torch.Tensor) else prob_cell
    return spread < threshold
