"""``ctc-unet refit``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, DeviceOption, user_errors


@user_errors
def refit(
    run_dir: Annotated[Path, typer.Argument(
        help="A finished run directory (its recipe, chosen checkpoint iteration and "
        "post-processing are reused).")],
    *,
    data: Annotated[str | None, typer.Option(
        "--data", help="Dataset name or folder the run was trained on (default: the run's "
        "dataset name).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--run-dir", help="Run directory of the refit (default: RUN/refit, or "
        "RUN/refit-holdout with --hold-out).")] = None,
    hold_out: Annotated[bool, typer.Option(
        "--hold-out", help="Keep the run's reporting frames (and the gap around them) apart, "
        "so that `evaluate REFIT --frames report` scores the refit on the frames that scored "
        "the run: whether more training frames help, measured honestly.")] = False,
    seed: Annotated[int | None, typer.Option(
        "--seed", min=0, help="Seed (default: the run's).")] = None,
    data_dir: DataDirOption = None,
    device: DeviceOption = "auto",
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted refit from its last checkpoint.")] = False,
) -> None:
    """Train a run's recipe again on every annotated frame (the choosing and reporting frames
    too), for as many iterations as the run's chosen checkpoint, with its post-processing: the
    model to predict and submit with once the run has chosen everything and been scored.

    The refit has no frames left to score it on; the run's own figures stand for it
    (docs/evaluation.md, "Refit"). Its run directory works with predict, export and submit.
    """
    from ctc_unet import api
    from ctc_unet.cli.logsetup import is_interactive
    from ctc_unet.cli.train import report_outcome

    refitted = api.refit(run_dir, data=data, out=out, hold_out=hold_out, seed=seed,
                         device=device, resume=resume, data_dir=data_dir,
                         progress=is_interactive())
    report_outcome(refitted, f"ctc-unet refit {run_dir}")
