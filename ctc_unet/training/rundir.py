"""The run directory: a run describes itself, so ``predict`` and ``submit`` need nothing else.

    config.yaml          resolved configuration
    split.json           training and validation frames
    checkpoint_last.pt   model, optimizer, scheduler, iteration, RNG state (atomic writes)
    checkpoint_best.pt   the best validation score so far
    metrics.jsonl        one JSON record per log / validation event
    train.log            the log
    curves.png           loss and validation curves
    postprocess.json     threshold and minimum size chosen on the validation frames
    status.json          how the last training call ended (finished, interrupted, failed)
    .lock                held by the trainer that uses the run directory
    cache/targets/       weight maps, keyed by content
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ctc_unet.config import Config, from_dict, read_yaml
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import atomic_write

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunDir:
    """Paths of a run directory."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def split(self) -> Path:
        return self.root / "split.json"

    @property
    def last(self) -> Path:
        return self.root / "checkpoint_last.pt"

    @property
    def best(self) -> Path:
        return self.root / "checkpoint_best.pt"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    @property
    def postprocess(self) -> Path:
        return self.root / "postprocess.json"

    @property
    def target_cache(self) -> Path:
        return self.root / "cache" / "targets"

    def load_config(self) -> Config:
        """The run's resolved configuration."""
        if not self.config.is_file():
            raise CtcUnetError(f"{self.root}: not a run directory (no config.yaml)")
        return from_dict(read_yaml(self.config), str(self.config))

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl (flushed, so a crash keeps what was written)."""
        with open(self.metrics, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records of metrics.jsonl (a torn last line is skipped)."""
        if not self.metrics.is_file():
            return []
        out = []
        for line in self.metrics.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


class RunLock:
    """An exclusive lock on a run directory, so two trainers never write into the same one
    (also across hosts sharing a filesystem: a POSIX record lock, which NFS honours). The OS
    releases it when the process ends, so a crashed job leaves no stale lock."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl
        import socket

        self.run.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.run.lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise CtcUnetError(f"{self.run.root} is in use by {holder}; wait for it to finish "
                               "or choose another --run-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file beside ``path``, then rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: torch.save(state, p))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (tensors and plain containers only)."""
    if not path.is_file():
        raise CtcUnetError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CtcUnetError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})"
                           ) from exc
