"""``ctc-unet predict``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, DeviceOption, ModelOption, user_errors

logger = logging.getLogger(__name__)


@user_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(
        help="Run directory written by `ctc-unet train`, or a model package written by "
        "`ctc-unet export` (a .zip: its run directory is made beside it).")],
    *,
    data: Annotated[str, typer.Option(
        "--data", help="Dataset folder (CTC training or challenge layout, or ISBI 2012), or a "
        "dataset name under the data root.")],
    model: ModelOption = "auto",
    sequences: Annotated[list[str] | None, typer.Option(
        "--sequence", help="Sequence(s) to predict, e.g. 01 (repeatable; default: all). "
        "For ISBI 2012: test (default) or train.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output folder for XX_RES/ (default: results/<dataset> in the folder "
        "of the model used: RUN, or RUN/refit).")] = None,
    challenge: Annotated[bool, typer.Option(
        "--challenge", help="With a dataset name: use its challenge sequences.")] = False,
    device: DeviceOption = "auto",
    tile: Annotated[int | None, typer.Option(
        "--tile", help="Tile size in px (default: config, else the largest that fits).")]
    = None,
    tta: Annotated[bool | None, typer.Option(
        "--tta/--no-tta", help="Average over flips and 90-degree rotations (default: "
        "config).")] = None,
    save_probabilities: Annotated[bool, typer.Option(
        "--save-probabilities", help="Also write the cell probability of each frame "
        "(XX_PROB/probNNN.tif, float32).")] = False,
    movie: Annotated[bool, typer.Option(
        "--movie", help="Also write XX_tracks.gif beside XX_RES: the tracked frames with "
        "track ids, a daughter's first frame marked with her mother's id (red: division, "
        "orange: bridged gap).")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Segment and track sequences with a trained run: overlap-tile inference with mirrored
    borders (through MONAI), instances from separation borders, tracking by global assignment
    (gap closing, divisions checked).
    Writes XX_RES/maskNNN.tif (uint16) and XX_RES/res_track.txt per sequence; for ISBI 2012
    a float32 probability stack."""
    from ctc_unet import api
    from ctc_unet.cli.logsetup import is_interactive

    for path in api.predict(run_dir, data, model=model, sequences=sequences, out=out,
                            challenge=challenge, device=device, tile=tile, tta=tta,
                            save_probabilities=save_probabilities, movie=movie,
                            data_dir=data_dir, progress=is_interactive()):
        typer.echo(str(path))
