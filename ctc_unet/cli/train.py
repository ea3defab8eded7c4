"""``ctc-unet train``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, DeviceOption, user_errors

logger = logging.getLogger(__name__)


@user_errors
def train(
    dataset: Annotated[str, typer.Argument(
        help="Dataset name or alias (PhC-U373, DIC-HeLa, ISBI2012, ...), downloaded when "
        "missing, or a dataset folder.")],
    *,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML merged over configs/defaults.yaml and configs/<dataset>.yaml.")]
    = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", help="Settings profile from configs/profiles/, e.g. 'cpu' (fewer "
        "channels, smaller tiles) so a real run fits a laptop.")] = None,
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
        "optimizer, schedule, RNG), or its unfinished refit; starts fresh when there is none "
        "yet.")] = False,
    refit: Annotated[bool | None, typer.Option(
        "--refit/--no-refit", help="Once the run has chosen, train its recipe again on every "
        "annotated frame (RUN/refit, the model predict, submit and export then use). Default: "
        "train.refit, auto: where one annotated sequence trains and reports and has masks on "
        "fewer than half its frames.", show_default=False)] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Train the paper's U-Net on a dataset and write a self-describing run directory
    (config.yaml, split.json, checkpoints, metrics.jsonl, train.log, curves.png). Where one
    sparsely annotated sequence trains and reports (train.refit, --refit), the same recipe is
    then trained again on every annotated frame into RUN/refit, the model predict uses.

    SIGTERM or Ctrl-C saves a checkpoint and exits 0; rerun with --resume to go on (a
    finished run is not trained again: its unfinished refit goes on).

    Under torchrun --nproc_per_node N it trains with DistributedDataParallel (gloo on CPU).
    """
    from ctc_unet import api
    from ctc_unet.cli.logsetup import is_interactive

    rank = int(os.environ.get("RANK", 0))
    if rank > 0:
        logging.getLogger().setLevel(logging.WARNING)
    run = api.train(dataset, config=config, profile=profile, run_dir=run_dir,
                    iterations=iterations, seed=seed, device=device, resume=resume,
                    data_dir=data_dir, progress=is_interactive(), refit=refit)
    flag = {None: "", True: " --refit", False: " --no-refit"}[refit]
    report_outcome(run, f"ctc-unet train {dataset}{flag}", rank, refit_too=refit is not False)
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        exit_rank()


def report_outcome(run, command: str, rank: int = 0, refit_too: bool = False) -> None:
    """The run directory on stdout; after a stop signal, how to resume ``command``. With
    ``refit_too``, a finished run whose refit (RUN/refit) was interrupted is resumed so."""
    status = run.load_status() if rank == 0 else {}
    refit, what = run.own_refit, ""
    if refit_too and status.get("status") == "finished" and refit.status.is_file():
        status, what = refit.load_status(), f" (its refit, {refit.root})"
    if status.get("status") == "interrupted":
        # Exit 0 on purpose: SLURM must not count a checkpointed pre-emption as a failure.
        # status.json says "interrupted"; pipelines/train.sbatch requeues on it.
        typer.echo(f"CHECKPOINTED{what} on {status.get('detail')} at iteration "
                   f"{status.get('iteration')}/{status.get('iterations')}; resume with: "
                   f"{command} --run-dir {run.root} --resume", err=True)
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
