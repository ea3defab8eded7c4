"""Training samples: one seeded, augmented tile per iteration, so a resumed or distributed run
draws exactly the samples of an uninterrupted one."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import torch

from ctc_unet.config import Config
from ctc_unet.model.geometry import output_size
from ctc_unet.signals import ignore_signals_in_worker
from ctc_unet.targets.cache import cached_targets
from ctc_unet.targets.frames import AnnotatedFrame
from ctc_unet.training.augment import make_augmentation, sample_seed


class TrainingSamples(torch.utils.data.Dataset):
    """Sample ``i`` is a function of (seed, i) alone: a frame drawn uniformly, then an augmented
    tile of it. Items: image (C, T, T) float32 (C = 1, or the 2k + 1 frames of temporal
    context), target (O, O) int64, weight (O, O) float32."""

    def __init__(self, frames: list[AnnotatedFrame], cfg: Config,
                 cache_dir: Path | None = None) -> None:
        self.tile = cfg.train.tile_size
        self.out = output_size(self.tile, cfg.model.depth)
        self.seed = cfg.train.seed
        self.items = []
        for f in frames:
            target, weights = cached_targets(cache_dir, f.labels, cfg.targets, f.ignore,
                                             n_classes=cfg.model.n_classes)
            image = f.network_input
            self.items.append({"image": (image[None] if image.ndim == 2 else image
                                         ).astype(np.float32),
                               "label": target[None].astype(np.float32),
                               "weight": weights[None]})
        self.augment = make_augmentation(cfg.augment, self.tile, self.out, seed=self.seed)

    def __len__(self) -> int:
        return 2**62  # indexed by iteration; any index is a valid sample

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng(sample_seed(self.seed, index, 0))
        item = self.items[int(rng.integers(len(self.items)))]
        self.augment.set_random_state(seed=sample_seed(self.seed, index, 1))
        s = self.augment(item)
        return {"image": s["image"], "target": s["label"][0].round().long(),
                "weight": s["weight"][0]}


def sample_loader(samples: TrainingSamples, indices: range, num_workers: int
                  ) -> torch.utils.data.DataLoader:
    """Batches of one sample for the given sample indices, in order."""
    return torch.utils.data.DataLoader(
        samples, batch_size=1, sampler=list(indices), num_workers=num_workers,
        persistent_workers=False, generator=torch.Generator().manual_seed(0),
        worker_init_fn=ignore_signals_in_worker if num_workers else None,
        prefetch_factor=4 if num_workers else None)


def stop_workers(batches: object, grace: float = 10.0) -> None:
    """End a DataLoader iterator's worker processes now, not when the iterator happens to be
    collected: the workers ignore SIGTERM (``ignore_signals_in_worker``), so a worker left
    running at exit is one that multiprocessing's exit handler cannot terminate, and the
    process would wait for it forever (seen at the end of DIC-HeLa runs, finished or
    stopped by SIGTERM). Workers still alive after ``grace`` seconds are killed."""
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()
    for child in multiprocessing.active_children():
        child.join(grace)
        if child.is_alive():
            child.kill()
            child.join()
