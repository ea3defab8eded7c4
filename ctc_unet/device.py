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


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (CUDA with bf16, or a CPU with AVX512-BF16
    or AMX, as oneDNN reports it); elsewhere bf16 is emulated and slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The mixed-precision type of a training step: ``auto`` is bf16 where the device computes
    it natively, else float32 (None); ``bf16`` everywhere; ``fp16`` on CUDA only (it needs a
    loss scaler; elsewhere float32)."""
    if amp == "auto":
        return torch.bfloat16 if native_bf16(device) else None
    if amp == "bf16" and device.type in ("cpu", "cuda"):
        return torch.bfloat16
    if amp == "fp16" and device.type == "cuda":
        return torch.float16
    return None


def describe_hardware(device: torch.device, processes: int = 1) -> dict[str, object]:
    """What a run ran on, for its metrics (results tables read it): device type and name,
    CPU cores and torch threads, processes, torch version."""
    import os
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), name)
    except OSError:
        pass
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    return {"device": device.type, "name": name, "cores": os.cpu_count(),
            "threads": torch.get_num_threads(), "processes": processes,
            "torch": torch.__version__}
