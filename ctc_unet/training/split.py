"""Which annotated frames train and which validate, and loading them."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctc_unet.config import Config
from ctc_unet.data.ctc import CtcDataset, open_ctc_dataset
from ctc_unet.data.frames import AnnotatedFrame, FrameRef, isbi_frames, load_frame, training_frames
from ctc_unet.data.isbi import is_isbi_folder, read_isbi2012
from ctc_unet.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """Annotated frames used for training and for validation."""

    train: list[FrameRef]
    val: list[FrameRef]

    def to_json(self) -> str:
        def rows(refs: list[FrameRef]) -> list[dict]:
            return [{"sequence": r.sequence, "t": r.t, "source": r.source} for r in refs]
        return json.dumps({"train": rows(self.train), "val": rows(self.val)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Split:
        data = json.loads(text)
        return cls(*([FrameRef(**r) for r in data[k]] for k in ("train", "val")))


def _spread(items: list, fraction: float) -> list:
    """``fraction`` of ``items`` (at least one if fraction > 0), spread evenly."""
    if fraction <= 0 or len(items) < 2:
        return []
    n = min(len(items) - 1, max(1, round(fraction * len(items))))
    idx = np.linspace(0, len(items) - 1, n + 2)[1:-1].round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


def make_split(dataset: CtcDataset, cfg: Config) -> Split:
    """Split a CTC dataset's annotated frames according to ``cfg.split``."""
    sc = cfg.split
    annotated = [n for n, s in dataset.sequences.items() if s.gt_seg or s.st_seg]
    train_seqs = [dataset.sequence(s).name for s in sc.train_sequences] or [
        n for n in annotated if n not in {dataset.sequence(v).name for v in sc.val_sequences}]
    if sc.val_sequences:
        val = training_frames(dataset, "GT", sc.val_sequences)
    else:
        gt = [r for r in training_frames(dataset, "GT", train_seqs)] if any(
            dataset.sequences[s].gt_seg for s in train_seqs) else []
        val = ([r for r in gt if r.t in set(sc.val_frames)] if sc.val_frames
               else _spread(gt, sc.val_fraction))
    held = {(r.sequence, r.t) for r in val}
    train = [r for r in training_frames(dataset, cfg.targets.source, train_seqs)
             if (r.sequence, r.t) not in held]
    if not train:
        raise DataError(f"{dataset.root}: no training frames left after holding out validation")
    return Split(train, val)


def isbi_split(n_slices: int, cfg: Config) -> Split:
    """ISBI 2012: slices as frames; ``split.val_frames`` (else a fraction) validate."""
    refs = [FrameRef("train", z, "ISBI") for z in range(n_slices)]
    val = ([r for r in refs if r.t in set(cfg.split.val_frames)] if cfg.split.val_frames
           else _spread(refs, cfg.split.val_fraction))
    return Split([r for r in refs if r not in val], val)


def load_frames(root: Path, cfg: Config, split: Split | None = None
                ) -> tuple[Split, list[AnnotatedFrame], list[AnnotatedFrame]]:
    """The split (made if not given) and the loaded training and validation frames."""
    if is_isbi_folder(root):
        data = read_isbi2012(root)
        split = split or isbi_split(data.train_volume.shape[0], cfg)
        return (split, isbi_frames(data, [r.t for r in split.train]),
                isbi_frames(data, [r.t for r in split.val]))
    dataset = open_ctc_dataset(root)
    split = split or make_split(dataset, cfg)
    return (split, [load_frame(dataset, r, cfg.targets) for r in split.train],
            [load_frame(dataset, r, cfg.targets) for r in split.val])
