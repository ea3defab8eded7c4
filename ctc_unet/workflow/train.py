"""Training a run directory: the dataset and configuration resolved, the run directory's lock,
``status.json``, and a fresh run that fails before its first checkpoint leaving nothing."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ctc_unet.config import Config, load_config
from ctc_unet.data.locate import dataset_inputs, dataset_name, resolve_dataset
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import check_apart, remove_empty, write_text_atomic
from ctc_unet.rundir import RunDir, RunLock, Split, load_checkpoint
from ctc_unet.training.loop import TrainResult, train
from ctc_unet.workflow.runlog import invocation, run_log

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    """A finished or interrupted training call: its run directory and how it ended."""

    run: RunDir
    result: TrainResult
    iterations: int  # the run's total


def default_run_dir(dataset: str, profile: str | None) -> Path:
    """``runs/<dataset>[-<profile>]``."""
    return Path("runs") / (dataset + (f"-{profile}" if profile else ""))


def train_run(name: str, *, config: Path | None, profile: str | None, data_dir: Path | None,
              run_dir: Path | None, iterations: int | None, seed: int | None,
              device: torch.device, resume: bool, progress: bool,
              recipe: Config | None = None, split: Split | None = None,
              on_ready: Callable[[RunDir], None] | None = None,
              refit: bool | None = None) -> TrainOutcome:
    """Train on dataset ``name`` (a name or alias, downloaded when missing, or a folder) into
    a run directory; the parameters are ``ctc_unet.api.train``'s. Once every input has been
    checked, before anything is written, train.log opens in the run directory (and
    ``on_ready(run)`` is called). A fresh run trains ``recipe`` (default: the dataset's
    configuration files) on ``split`` (default: the protocol of its ``split`` section).
    ``refit`` (True: always, False: never) is recorded as the run's ``train.refit``."""
    rank = int(os.environ.get("RANK", 0))
    dataset = dataset_name(name)  # the configuration is checked before any download
    run = RunDir(run_dir or default_run_dir(dataset, profile))
    fresh = not (resume and run.last.is_file())
    if fresh and run.last.is_file():
        raise CtcUnetError(f"{run.root} already holds a run; pass --resume to continue it "
                           "or choose another --run-dir")
    # a resumed run keeps its saved config and seed: the config files are not read
    recipe = (recipe or load_config(dataset, config, profile=profile)) if fresh else None
    cfg = _run_config(run, recipe, bool(config or profile), iterations, seed)
    if refit is not None:
        cfg = replace(cfg, train=replace(cfg.train, refit="always" if refit else "never"))
    root, _ = resolve_dataset(name, data_dir, download=True, progress=progress)
    check_apart(run.root, dataset_inputs(root), replaces=False)
    created = [p for p in (run.root, *run.root.parents) if not p.exists()][::-1]
    before = set(run.root.iterdir()) if run.root.is_dir() else set()
    started = owned = False

    log = contextlib.ExitStack()

    def ready() -> None:  # every input checked: from here on the run directory is written
        nonlocal started
        started = True
        if rank == 0:
            log.enter_context(run_log(run.log))
            logger.info("command: %s", invocation(name))
            write_text_atomic(run.dataset_record, json.dumps(
                {"name": cfg.dataset, "folder": str(root.resolve())}, indent=1))
            if on_ready is not None:
                on_ready(run)

    lock = RunLock(run) if rank == 0 else contextlib.nullcontext()
    try:
        with lock, log:
            owned = True  # from here on this process is the run directory's only writer
            try:
                result = train(root, run, cfg, device, resume=resume, progress=progress,
                               on_ready=ready, split=split)
                if rank == 0 and result.status == "finished" and cfg.tracking.track_support:
                    from ctc_unet.workflow.support import learn_track_support

                    learn_track_support(run, root, cfg, device)
            except KeyboardInterrupt as exc:
                if not (started and run.last.is_file()):
                    raise
                # a signal outside the loop's own handling (e.g. while a checkpoint was being
                # written): the last complete checkpoint stands, as after a stop in the loop
                result = TrainResult(int(load_checkpoint(run.last)["iteration"]), "interrupted",
                                     None, "", getattr(exc, "signal", "SIGINT"))
            except BaseException as exc:
                if rank == 0 and started and not (fresh and not run.last.is_file()):
                    with contextlib.suppress(OSError):  # e.g. the disk is full
                        write_status(run, "failed", iteration=None, total=cfg.train.iterations,
                                     detail=repr(exc)[:500])
                raise
            if rank == 0:
                write_status(run, result.status, iteration=result.iteration,
                             total=cfg.train.iterations, detail=result.signal)
    except BaseException:
        if rank == 0 and owned and fresh and not run.last.is_file():
            # a fresh run that failed before its first checkpoint (a bad input, a full disk,
            # a signal) leaves nothing: what it created goes, what was there stays
            remove_new_entries(run.root, before)
            remove_empty(created)
        raise
    return TrainOutcome(run, result, cfg.train.iterations)


def _run_config(run: RunDir, recipe: Config | None, asked_for_config: bool,
                iterations: int | None, seed: int | None) -> Config:
    """The configuration a run trains with: ``recipe`` for a fresh run (``iterations`` and
    ``seed`` override it), else the resumed run's saved one (its seed kept)."""
    if recipe is None:
        cfg = run.load_config()
        if asked_for_config:
            logger.warning("--resume uses the run's saved config.yaml; --config/--profile "
                           "are ignored")
    else:
        cfg = recipe
        if seed is not None:
            cfg = replace(cfg, train=replace(cfg.train, seed=seed))
    if iterations:
        cfg = replace(cfg, train=replace(cfg.train, iterations=iterations))
    return cfg


def remove_new_entries(folder: Path, before: set[Path]) -> None:
    """Remove what appeared in ``folder`` since ``before`` was listed."""
    if not folder.is_dir():
        return
    for p in set(folder.iterdir()) - before:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()


def write_status(run: RunDir, status: str, *, iteration: int | None, total: int,
                 detail: str | None) -> None:
    """status.json: how the last training call ended, for batch scripts to act on."""
    write_text_atomic(run.status, json.dumps({
        "status": status, "iteration": iteration, "iterations": total, "detail": detail,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1))
