"""Which torch device a command runs on."""

from __future__ import annotations

import torch

from ctc_unet.errors import CtcUnetError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; else the named device, checked to exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise CtcUnetError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CtcUnetError(f"device {name!r} requested but CUDA is not available")
    if device.type == "mps" and not (hasattr(torch.backends, "mps")
                                     and torch.backends.mps.is_available()):
        raise CtcUnetError(f"device {name!r} requested but MPS is not available")
    if device.type not in ("cpu", "cuda", "mps"):
        raise CtcUnetError(f"unsupported device {name!r} (use auto, cpu, cuda or cuda:N)")
    return device
