"""The paper's energy function (eq. 1): pixel-wise softmax with weighted cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                           weights: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of -w(x) log p_l(x)(x).

    logits: (B, K, H, W); target: (B, H, W) class indices; weights: (B, H, W), 0 = ignored.
    Returns a scalar: the paper's E = sum_x w(x) log p_l(x)(x) (up to sign) divided by the
    number of output pixels B*H*W, so ignored pixels add nothing.
    """
    nll = F.cross_entropy(logits.float(), target.long(), reduction="none")
    return (weights.float() * nll).mean()
