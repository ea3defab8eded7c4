"""The U-Net of Ronneberger et al. (2015), as in the paper's Fig. 1.

Contracting path: per level two unpadded 3x3 convolutions, each followed by a ReLU, then 2x2
max pooling with stride 2; the channels double per level. Expanding path: a 2x2
up-convolution that halves the channels (followed by a ReLU, as in the authors' Caffe
model), concatenation with the centre-cropped feature map of the contracting path, and two
3x3 convolutions with ReLU. A 1x1 convolution maps to the classes. Drop-out at the end of
the contracting path (the deepest encoder level and the bottleneck, as in the authors'
release). Weights are drawn from N(0, 2/N), N = incoming connections of one neuron (He).

At depth 4 with 64 base channels this is the paper's network: 23 convolutional layers, and a
572x572 input gives a 388x388 output.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import nn

from ctc_unet.model.geometry import output_size


class NetworkSpec(Protocol):
    """What builds a network: a ``model`` configuration section (``ctc_unet.config``)."""

    @property
    def input_channels(self) -> int: ...
    n_classes: int
    base_channels: int
    depth: int
    dropout: float


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3), nn.ReLU(inplace=True),
    )


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop (B, C, H, W) to its centred (h, w) window."""
    h, w = x.shape[-2:]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    return x[..., top:top + size[0], left:left + size[1]]


class UNet(nn.Module):
    """The paper's U-Net with configurable depth, width, drop-out and classes.

    Input (B, in_channels, H, W) with H, W valid sizes (see ``ctc_unet.model.geometry``); output
    (B, n_classes, H - 2m, W - 2m) logits, m the margin (92 at depth 4).
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 2, base_channels: int = 64,
                 depth: int = 4, dropout: float = 0.5, head_init: str = "he") -> None:
        super().__init__()
        self.depth = depth
        self.in_channels = in_channels
        self.n_classes = n_classes
        chans = [base_channels * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for c in chans[:-1]:
            self.down.append(_double_conv(cin, c))
            cin = c
        self.pool = nn.MaxPool2d(2, 2)
        self.bottom = _double_conv(chans[-2], chans[-1])
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.upconv = nn.ModuleList()
        self.up = nn.ModuleList()
        for c in reversed(chans[:-1]):
            self.upconv.append(nn.Sequential(nn.ConvTranspose2d(2 * c, c, 2, stride=2),
                                             nn.ReLU(inplace=True)))
            self.up.append(_double_conv(2 * c, c))
        self.head = nn.Conv2d(chans[0], n_classes, 1)
        self.head_init = head_init
        self.channels_last = False
        self.reset_parameters()

    @classmethod
    def from_config(cls, spec: NetworkSpec, head_init: str = "he") -> UNet:
        """The network a ``model`` configuration section describes (its input channels count
        the frames of temporal context)."""
        return cls(spec.input_channels, spec.n_classes, spec.base_channels, spec.depth,
                   spec.dropout, head_init)

    def use_channels_last(self, enabled: bool = True) -> UNet:
        """Keep weights and activations channels-last (NHWC): oneDNN's fastest convolution
        layout on CPUs (benchmarks/bench_inference.py --variants: 1.15x, 0.82 of the matmul
        rate); inputs are converted in ``forward``."""
        self.channels_last = enabled
        fmt = torch.channels_last if enabled else torch.contiguous_format
        return self.to(memory_format=fmt)

    def reset_parameters(self) -> None:
        """He initialisation: weights ~ N(0, sqrt(2 / N)), biases 0. With ``head_init =
        "xavier"`` the 1x1 output layer, which has no ReLU after it, gets N(0, sqrt(1 / N))
        instead (Glorot for a linear layer), so the first logits are not twice as spread."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            elif isinstance(m, nn.ConvTranspose2d):
                # stride == kernel: each output pixel sees one tap per input channel
                n = m.in_channels * (m.kernel_size[0] // m.stride[0]) * (
                    m.kernel_size[1] // m.stride[1])
            else:
                continue
            gain = 1.0 if m is self.head and self.head_init == "xavier" else 2.0
            nn.init.normal_(m.weight, 0.0, math.sqrt(gain / n))
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        skips: list[torch.Tensor] = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i == self.depth - 1:
                x = self.dropout(x)
            skips.append(x)
            x = self.pool(x)
        x = self.dropout(self.bottom(x))
        # TorchScript (ctc-unet export) knows neither zip(strict=) nor reversed() of a list
        for j, (upconv, block) in enumerate(zip(self.upconv, self.up)):  # noqa: B905
            x = upconv(x)
            skip = center_crop(skips[len(skips) - 1 - j], (x.shape[-2], x.shape[-1]))
            x = block(torch.cat([skip, x], dim=1))
        return self.head(x)

    def output_size(self, n: int) -> int:
        """Output size for an input of ``n`` px (raises TileSizeError if invalid)."""
        return output_size(n, self.depth)


class UNetProbabilities(nn.Module):
    """The U-Net followed by a softmax over the classes: (B, C, H, W) -> (B, n_classes, H - 2m,
    W - 2m) probabilities. The form an exported model takes (TorchScript-able; its state dict
    is the U-Net's under ``unet.``), so that consumers need no post-processing step."""

    def __init__(self, in_channels: int = 1, n_classes: int = 2, base_channels: int = 64,
                 depth: int = 4) -> None:
        super().__init__()
        self.unet = UNet(in_channels, n_classes, base_channels, depth, dropout=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.unet(x), dim=1)


def conv_layers(model: nn.Module) -> list[nn.Module]:
    """The convolutional layers (including up-convolutions) of a model."""
    return [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
