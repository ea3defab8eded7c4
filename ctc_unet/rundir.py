"""The run directory: a run describes itself, so ``predict`` and ``submit`` need nothing else.

    config.yaml          resolved configuration
    split.json           training and validation frames
    checkpoint_last.pt   model, optimizer, scheduler, iteration, RNG state (atomic writes)
    checkpoint_best.pt   the best validation score so far
    metrics.jsonl        one JSON record per log / validation event
    train.log            the log
    curves.png           loss and validation curves
    postprocess.json     threshold and minimum size chosen on the validation frames
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
from ctc_unet.dataio import atomic_write
from ctc_unet.errors import CtcUnetError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunDir:
    """Paths of a run directory."""

    root: Path

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


def write_text_atomic(path: Path, text: str) -> None:
    """Write a small text file atomically."""
    atomic_write(path, lambda p: p.write_text(text))

