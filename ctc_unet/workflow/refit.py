"""Refit: once a run has chosen its checkpoint iteration and post-processing, train the same
recipe again on every annotated frame, for ``predict`` and ``submit``.

The refit run lives in ``RUN/refit`` by default, beside the scored run whose figures stand for
it (a model trained on its reporting frames cannot be scored on them). ``hold_out`` keeps the
parent's reporting frames apart (and the gap around them): the refit then trains on more
frames than the parent, further from the reporting block, and ``evaluate --frames report``
scores both on the same frames; the honest proxy for whether more frames help.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from ctc_unet.data.locate import resolve_dataset
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import atomic_write, write_text_atomic
from ctc_unet.rundir import RunDir, load_checkpoint
from ctc_unet.training.split import refit_split
from ctc_unet.workflow.train import TrainOutcome, train_run

logger = logging.getLogger(__name__)


def chosen_iteration(parent: RunDir) -> int:
    """The iteration of the checkpoint that ``parent`` chose (its best, else its last)."""
    path = parent.chosen
    if not path.is_file():
        raise CtcUnetError(f"{parent.root}: no checkpoint; train it before refitting")
    return int(load_checkpoint(path)["iteration"])


def default_refit_dir(parent: RunDir, hold_out: bool) -> Path:
    """``RUN/refit`` (``RUN/refit-holdout`` with ``hold_out``)."""
    return parent.root / ("refit-holdout" if hold_out else "refit")


def refit_run(parent_dir: Path, *, data: str | None, run_dir: Path | None, hold_out: bool,
              seed: int | None, data_dir: Path | None, device: torch.device, resume: bool,
              progress: bool) -> TrainOutcome:
    """Train the recipe of the finished run ``parent_dir`` again, for as many iterations as its
    chosen checkpoint had, on every annotated frame of ``data`` (default: the run's dataset);
    the parameters are ``ctc_unet.api.refit``'s. The parent's post-processing is copied."""
    parent = RunDir(parent_dir)
    cfg = parent.load_config()
    if parent.refit.is_file():
        raise CtcUnetError(f"{parent.root} is itself a refit; refit its parent run")
    if not parent.split.is_file():
        raise CtcUnetError(f"{parent.root}: no split.json; train it before refitting")
    iterations = chosen_iteration(parent)
    root = resolve_dataset(parent.dataset(data), data_dir)[0]
    if not root.is_dir():
        raise CtcUnetError(f"{root}: dataset folder not found; give --data DATASET (the data "
                           f"{parent.root} was trained on)")
    run = RunDir(run_dir or default_refit_dir(parent, hold_out))
    fresh = not (resume and run.last.is_file())
    before = parent.load_split()
    split = refit_split(root, cfg, before, hold_out) if fresh else None
    recipe = replace(cfg, train=replace(cfg.train, iterations=iterations))

    def ready(r: RunDir) -> None:  # inputs checked: the refit's own files
        if fresh:
            if parent.postprocess.is_file():
                atomic_write(r.postprocess, lambda p: shutil.copyfile(parent.postprocess, p))
            added = sorted({(f.sequence, f.t) for f in split.train}
                           - {(f.sequence, f.t) for f in before.train})
            write_text_atomic(r.refit, json.dumps({
                "parent": str(parent.root.resolve()), "hold_out": hold_out,
                "iterations": iterations, "parent_training_frames": len(before.train),
                "training_frames": len(split.train),
                "added": [f"{s}:{t}" for s, t in added]}, indent=1))
            logger.info("refit of %s: %d training frames (the run had %d), %d iterations, "
                        "post-processing copied%s", parent.root, len(split.train),
                        len(before.train), iterations,
                        "; its reporting frames held out" if hold_out else "")

    return train_run(str(root), config=None, profile=None, data_dir=data_dir, run_dir=run.root,
                     iterations=None, seed=seed, device=device, resume=resume,
                     progress=progress, recipe=recipe, split=split, on_ready=ready)
