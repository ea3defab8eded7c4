"""DistributedDataParallel plumbing: the torchrun environment, the process group, and the
collective decisions (stop on a signal, gather RNG states, agree on the final weights)."""

from __future__ import annotations

import hashlib
import os

import torch
import torch.distributed as dist

from ctc_unet.device import resolve_device
from ctc_unet.errors import CtcUnetError


def dist_env() -> tuple[int, int, int]:
    """(RANK, WORLD_SIZE, LOCAL_RANK) as set by torchrun; (0, 1, 0) otherwise."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def setup_device(device: str | torch.device, world: int, local_rank: int) -> torch.device:
    """Join the process group when ``world`` > 1 (NCCL on CUDA, gloo on CPU) and return this
    process's device (``cuda`` becomes this rank's GPU)."""
    device = device if isinstance(device, torch.device) else resolve_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return device


def teardown() -> None:
    """Leave the process group (every rank, success or failure; idempotent).

    Left to the interpreter's exit, the gloo/NCCL process group is destroyed while its
    worker threads may still be joinable, and a rank can die of SIGABRT ("terminate called
    without an active exception") after the run finished; torchrun then reports the job
    failed. Destroying it here, before the CLI returns, ends every run the same way. It is
    local (no barrier): rank 0 may still be choosing the post-processing when the others
    leave.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def any_rank_stopped(signal_name: str | None, world: int, device: torch.device) -> bool:
    """True when this or any other rank received a stop signal."""
    if world == 1:
        return signal_name is not None
    flag = torch.tensor([1.0 if signal_name else 0.0],
                        device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(flag)
    return bool(flag.item() > 0)


def gather_rng(world: int) -> list[torch.Tensor]:
    """Every rank's CPU RNG state (rank order), for an exact resume."""
    rng = torch.get_rng_state()
    if world == 1:
        return [rng]
    gathered: list = [None] * world
    dist.all_gather_object(gathered, rng)
    return gathered


def weights_checksum(model: torch.nn.Module) -> str:
    """SHA-256 (16 hex digits) of all parameters, to compare copies of a model."""
    h = hashlib.sha256()
    for p in model.state_dict().values():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def agree_on_weights(model: torch.nn.Module, world: int) -> str:
    """The weights' checksum, checked to be the same on every rank."""
    checksum = weights_checksum(model)
    if world > 1:
        sums: list = [None] * world
        dist.all_gather_object(sums, checksum)
        if len(set(sums)) != 1:
            raise CtcUnetError(f"ranks disagree on the weights: {sums}")
    return checksum
