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
import os
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from ctc_unet.data.locate import dataset_name, resolve_dataset
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import atomic_write, write_text_atomic
from ctc_unet.rundir import RunDir, load_checkpoint, read_json
from ctc_unet.training.loop import TrainResult
from ctc_unet.training.split import refit_reason, refit_split
from ctc_unet.workflow.train import TrainOutcome, default_run_dir, train_run

logger = logging.getLogger(__name__)


def chosen_iteration(parent: RunDir) -> int:
    """The iteration of the checkpoint that ``parent`` chose (its best, else its last)."""
    path = parent.chosen
    if not path.is_file():
        raise CtcUnetError(f"{parent.root}: no checkpoint; train it before refitting")
    return int(load_checkpoint(path)["iteration"])


def default_refit_dir(parent: RunDir, hold_out: bool) -> Path:
    """``RUN/refit`` (``RUN/refit-holdout`` with ``hold_out``)."""
    return parent.root / "refit-holdout" if hold_out else parent.own_refit.root


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


def train_and_refit(name: str, *, config: Path | None, profile: str | None,
                    data_dir: Path | None, run_dir: Path | None, iterations: int | None,
                    seed: int | None, device: torch.device, resume: bool, progress: bool,
                    refit: bool | None) -> tuple[TrainOutcome, TrainOutcome | None]:
    """``train_run``, then, once the run has finished, its refit on every annotated frame
    (``RUN/refit``) where ``train.refit`` asks for one (``refit``: True always, False never)
    or, with ``resume``, where an unfinished one waits. A run that has finished is not trained
    again by ``resume`` (unless ``iterations`` extends it). Returns the run's outcome and the
    refit's (None when none trained in this call)."""
    run = RunDir(run_dir or default_run_dir(dataset_name(name), profile))
    if resume and _has_finished(run, iterations):
        logger.info("%s has finished training (--iterations N extends it)", run.root)
        status = run.load_status()
        outcome = TrainOutcome(run, TrainResult(int(status.get("iteration") or 0), "finished",
                                                None, ""), int(status.get("iterations") or 0))
    else:
        outcome = train_run(name, config=config, profile=profile, data_dir=data_dir,
                            run_dir=run_dir, iterations=iterations, seed=seed, device=device,
                            resume=resume, progress=progress, refit=refit)
    if outcome.result.status != "finished" or int(os.environ.get("RANK", 0)) > 0:
        return outcome, None
    target = run.own_refit
    waiting = resume and target.last.is_file() and not target.has_finished()
    reason = None if refit is False else _reason(run, data_dir, refit)
    if refit is False or not (reason or waiting):
        return outcome, None
    reason = reason or f"{target.root} has not finished"
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        logger.info("%s; under torchrun, train leaves the refit to `ctc-unet refit %s` (one "
                    "process)", reason, run.root)
        return outcome, None
    if _made_already(run):
        return outcome, None
    logger.info("%s: refitting on every annotated frame into %s", reason, target.root)
    return outcome, refit_run(run.root, data=None, run_dir=target.root, hold_out=False,
                              seed=None, data_dir=data_dir, device=device,
                              resume=target.last.is_file(), progress=progress)


def _has_finished(run: RunDir, iterations: int | None) -> bool:
    """Whether ``run`` finished training and ``iterations`` (if given) would not extend it."""
    if not (run.last.is_file() and run.has_finished()):
        return False
    return iterations is None or iterations == run.load_config().train.iterations


def _reason(run: RunDir, data_dir: Path | None, refit: bool | None) -> str | None:
    """Why the finished ``run`` gets a refit (``refit_reason``; ``refit`` True forces one)."""
    if refit:
        return "--refit"
    root = resolve_dataset(run.dataset(None), data_dir)[0]
    return refit_reason(root, run.load_config())


def _made_already(run: RunDir) -> bool:
    """Whether the run's refit has finished and stands; a warning where it was made from
    another checkpoint of ``run`` than the one the run chose now (it is left as it is)."""
    target = run.finished_refit()
    if target is None:
        return False
    made, chosen = read_json(target.refit).get("iterations"), chosen_iteration(run)
    if made == chosen:
        logger.info("%s has finished already", target.root)
    else:
        logger.warning("%s was trained for %s iterations but %s now chose its checkpoint at "
                       "%d; remove it and run `ctc-unet refit %s` for a refit that matches",
                       target.root, made, run.root, chosen, run.root)
    return True
