"""``ctc-unet submit``: a Cell Tracking Challenge submission package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, DeviceOption, ModelOption, user_errors


@user_errors
def submit(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="Run directories, one per dataset (each run's config names its dataset).")],
    *,
    team: Annotated[str, typer.Option("--team", help="Team name (letters, digits, - and _).")],
    model: ModelOption = "auto",
    data: Annotated[str | None, typer.Option(
        "--data", help="Challenge data: a folder holding <DATASET>/ folders, the dataset's own "
        "folder (one run), or a dataset name; default: each run's dataset under the data "
        "root (its challenge copy, see --challenge).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where the package and zip go.")]
    = Path("submissions"),
    device: DeviceOption = "auto",
    challenge: Annotated[bool, typer.Option(
        "--challenge/--training", help="With a dataset name (or no --data): its challenge "
        "sequences (default) or its training sequences.")] = True,
    data_dir: DataDirOption = None,
    wheel: Annotated[Path | None, typer.Option(
        "--wheel", exists=True, dir_okay=False, help="A ctc-unet wheel to package (default: "
        "built with pip wheel from the source tree, else packed from the installed copy).")]
    = None,
) -> None:
    """Build a Cell Tracking Challenge submission: predict every challenge sequence with each
    run, validate every XX_RES with py-ctcmetrics, add the software (weights, config,
    thresholds, a wheel of ctc-unet, pinned requirements, one DATASET-XX.sh per sequence) and a
    README, and zip it all. Nothing is written unless everything succeeds."""
    from ctc_unet import api
    from ctc_unet.cli.logsetup import is_interactive

    folder, archive = api.submit(run_dirs, data, team=team, model=model, out=out,
                                 challenge=challenge, device=device, wheel=wheel, data_dir=data_dir,
                                 progress=is_interactive())
    typer.echo(str(folder))
    typer.echo(str(archive))
