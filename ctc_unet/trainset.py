"""Training and validation data of a run: the split, the targets, and one seeded sample per
iteration (so a resumed or distributed run draws exactly the samples of an uninterrupted one).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctc_unet.augment import make_augmentation
from ctc_unet.config import Config
from ctc_unet.dataio import CtcDataset, open_ctc_dataset
from ctc_unet.errors import DataError
from ctc_unet.geometry import output_size
from ctc_unet.isbi import is_isbi_folder, read_isbi2012
from ctc_unet.samples import AnnotatedFrame, FrameRef, isbi_frames, load_frame, training_frames
from ctc_unet.targets import cached_targets

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


def _seed(*keys: int) -> int:
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


class TrainingSamples(torch.utils.data.Dataset):
    """Sample ``i`` is a function of (seed, i) alone: a frame drawn uniformly, then an augmented
    tile of it. Items: image (1, T, T) float32, target (O, O) int64, weight (O, O) float32."""

    def __init__(self, frames: list[AnnotatedFrame], cfg: Config,
                 cache_dir: Path | None = None) -> None:
        self.tile = cfg.train.tile_size
        self.out = output_size(self.tile, cfg.model.depth)
        self.seed = cfg.train.seed
        self.items = []
        for f in frames:
            target, weights = cached_targets(cache_dir, f.labels, cfg.targets, f.ignore)
            self.items.append({"image": f.image[None].astype(np.float32),
                               "label": target[None].astype(np.float32),
                               "weight": weights[None]})
        self.augment = make_augmentation(cfg.augment, self.tile, self.out, seed=self.seed)

    def __len__(self) -> int:
        return 2**62  # indexed by iteration; any index is a valid sample

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng(_seed(self.seed, index, 0))
        item = self.items[int(rng.integers(len(self.items)))]
        self.augment.set_random_state(seed=_seed(self.seed, index, 1))
        s = self.augment(item)
        return {"image": s["image"], "target": s["label"][0].round().long(),
                "weight": s["weight"][0]}


def sample_loader(samples: TrainingSamples, indices: range, num_workers: int
                  ) -> torch.utils.data.DataLoader:
    """Batches of one sample for the given sample indices, in order."""
    return torch.utils.data.DataLoader(
        samples, batch_size=1, sampler=list(indices), num_workers=num_workers,
        persistent_workers=False, generator=torch.Generator().manual_seed(0),
        prefetch_factor=4 if num_workers else None)
