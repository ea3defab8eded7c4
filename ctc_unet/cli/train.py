"""``ctc-unet train``."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, DeviceOption, user_errors

logger = logging.getLogger(__name__)


@user_errors
def train(
    name: Annotated[str, typer.Argument(
        help="Dataset name or alias (PhC-U373, DIC-HeLa, ISBI2012, ...), downloaded when "
        "missing, or a dataset folder.")],
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML merged over configs/defaults.yaml and configs/<dataset>.yaml.")]
    = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", help="Settings profile from configs/profiles/, e.g. 'cpu' (fewer "
        "channels, smaller tiles) so a real run fits a laptop.")] = None,
    data_dir: DataDirOption = None,
    run_dir: Annotated[Path | None, typer.Option(
        "--run-dir", help="Run directory (default: runs/<dataset>[-<profile>]).")] = None,
    iterations: Annotated[int | None, typer.Option(
        "--iterations", min=1, help="Total training iterations (overrides the config; with "
        "--resume, extends the run).")] = None,
    device: DeviceOption = "auto",
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from the run directory's last checkpoint (model, "
        "optimizer, schedule, RNG); starts fresh when there is none yet.")] = False,
) -> None:
    """Train the paper's U-Net on a dataset and write a self-describing run directory
    (config.yaml, split.json, checkpoints, metrics.jsonl, train.log, curves.png).

    SIGTERM or Ctrl-C saves a checkpoint and exits 0; rerun with --resume to go on.

    Under torchrun --nproc_per_node N it trains with DistributedDataParallel (gloo on CPU).
    """
    from dataclasses import replace

    from ctc_unet.cli.logsetup import add_log_file, is_interactive
    from ctc_unet.config import load_config
    from ctc_unet.data.locate import resolve_dataset
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.files import remove_empty
    from ctc_unet.training.loop import TrainResult
    from ctc_unet.training.loop import train as run_training
    from ctc_unet.training.rundir import RunDir, RunLock, load_checkpoint

    rank = int(os.environ.get("RANK", 0))
    if rank > 0:
        logging.getLogger().setLevel(logging.WARNING)
    root, registry_name = resolve_dataset(name, data_dir, download=True,
                                         progress=is_interactive())
    dataset = registry_name or root.name
    run = RunDir(run_dir or Path("runs") / (dataset + (f"-{profile}" if profile else "")))
    if resume and run.last.is_file():
        cfg = run.load_config()
        if config or profile:
            logger.warning("--resume uses the run's saved config.yaml; --config/--profile "
                           "are ignored")
    else:
        if run.last.is_file():
            raise CtcUnetError(f"{run.root} already holds a run; pass --resume to continue it "
                               "or choose another --run-dir")
        cfg = load_config(dataset, config, profile=profile)
    if iterations:
        cfg = replace(cfg, train=replace(cfg.train, iterations=iterations))
    created = [p for p in (run.root, *run.root.parents) if not p.exists()][::-1]
    started = False

    def on_ready() -> None:  # every input checked: from here on the run directory is written
        nonlocal started
        started = True
        if rank == 0:
            add_log_file(run.log)
            # the log says how the run was made (results tables quote it)
            logger.info("command: %s", shlex.join(["ctc-unet", *sys.argv[1:]]))

    lock = RunLock(run) if rank == 0 else contextlib.nullcontext()
    try:
        with lock:
            try:
                result = run_training(root, run, cfg, device, resume=resume,
                                      interactive=is_interactive(), on_ready=on_ready)
            except KeyboardInterrupt as exc:
                if not (started and run.last.is_file()):
                    raise
                # a signal outside the loop's own handling (e.g. while a checkpoint was being
                # written): the last complete checkpoint stands, as after a stop in the loop
                result = TrainResult(int(load_checkpoint(run.last)["iteration"]), "interrupted",
                                     None, "", getattr(exc, "signal", "SIGINT"))
            except BaseException as exc:
                if rank == 0 and started:
                    write_status(run, "failed", None, cfg.train.iterations, repr(exc)[:500])
                raise
            if rank == 0:
                write_status(run, result.status, result.iteration, cfg.train.iterations,
                             result.signal)
    except BaseException:
        if rank == 0 and not started and created:  # a bad input: leave no run directory
            shutil.rmtree(run.root, ignore_errors=True)
            remove_empty(created)
        raise
    if result.status == "interrupted":
        # Exit 0 on purpose: SLURM must not count a checkpointed pre-emption as a failure.
        # status.json says "interrupted"; pipelines/train.sbatch requeues on it.
        typer.echo(f"CHECKPOINTED on {result.signal} at iteration {result.iteration}/"
                   f"{cfg.train.iterations}; resume with: ctc-unet train {name} --run-dir "
                   f"{run.root} --resume", err=True)
    elif rank == 0:
        typer.echo(str(run.root))


def write_status(run, status: str, iteration: int | None, total: int, detail: str | None
                 ) -> None:
    """status.json: how the last training call ended, for batch scripts to act on."""
    import json
    import time

    from ctc_unet.files import write_text_atomic

    write_text_atomic(run.status, json.dumps({
        "status": status, "iteration": iteration, "iterations": total, "detail": detail,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1))
