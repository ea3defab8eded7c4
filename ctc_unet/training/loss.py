"""The paper's energy function (eq. 1): pixel-wise softmax with weighted cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                           weights: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """-w(x) log p_l(x)(x), summed or averaged over pixels.

    logits: (B, K, H, W); target: (B, H, W) class indices; weights: (B, H, W), 0 = ignored.
    Returns a scalar: with ``reduction="sum"`` the paper's energy E = sum_x w(x) log
    p_l(x)(x) (up to sign); with ``"mean"`` E divided by the number of output pixels B*H*W
    (ignored pixels add nothing either way). A learning rate lr_sum on the sum takes the same
    steps as lr_mean = B*H*W * lr_sum on the mean.
    """
    nll = F.cross_entropy(logits.float(), target.long(), reduction="none")
    total = (weights.float() * nll)
    return total.sum() if reduction == "sum" else total.mean()
