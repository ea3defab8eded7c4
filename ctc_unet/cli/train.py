"""``ctc-unet train``."""

from __future__ import annotations

import logging
import os
import shlex
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
    seed: Annotated[int | None, typer.Option(
        "--seed", min=0, help="Seed of the initial weights, sample draws and augmentation "
        "(overrides train.seed; runs of one recipe with several seeds give its spread).")]
    = None,
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
    from ctc_unet.cli.logsetup import is_interactive
    from ctc_unet.workflow.train import train_run

    rank = int(os.environ.get("RANK", 0))
    if rank > 0:
        logging.getLogger().setLevel(logging.WARNING)
    outcome = train_run(name, config, profile, data_dir, run_dir, iterations, device, resume,
                        is_interactive(), open_run_log, seed)
    report_outcome(outcome, f"ctc-unet train {name}", rank)
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        exit_rank()


def open_run_log(run) -> None:
    """Every input checked, from here on the run directory is written: train.log opens, and
    says how the run was made (results tables quote it)."""
    from ctc_unet.cli.logsetup import add_log_file

    add_log_file(run.log)
    logger.info("command: %s", shlex.join(["ctc-unet", *sys.argv[1:]]))


def report_outcome(outcome, command: str, rank: int = 0) -> None:
    """The run directory on stdout; after a stop signal, how to resume ``command``."""
    result, run = outcome.result, outcome.run
    if result.status == "interrupted":
        # Exit 0 on purpose: SLURM must not count a checkpointed pre-emption as a failure.
        # status.json says "interrupted"; pipelines/train.sbatch requeues on it.
        typer.echo(f"CHECKPOINTED on {result.signal} at iteration {result.iteration}/"
                   f"{outcome.iterations}; resume with: {command} --run-dir {run.root} "
                   "--resume", err=True)
    elif rank == 0:
        typer.echo(str(run.root))


def exit_rank() -> None:
    """End a finished torchrun rank at once: output flushed, log files closed, and no
    interpreter finalization. There, C++ objects of torch.distributed and its threads were
    destroyed in no fixed order, and about one finished rank in 7-40 died of SIGABRT
    ("terminate called without an active exception"), so that torchrun stopped the other
    ranks and reported the finished job failed. The process group is already destroyed and
    every file written (rank 0 published the run directory)."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)
