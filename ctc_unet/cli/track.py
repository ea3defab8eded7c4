"""``ctc-unet track``: link a folder of instance masks into a CTC result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import user_errors


@user_errors
def track(
    masks: Annotated[Path, typer.Argument(
        help="Folder of per-frame instance masks, maskNNN.tif or man_segNNN.tif (from ctc-unet "
        "or any other segmenter).")],
    *,
    out: Annotated[Path, typer.Option(
        "--out", help="The CTC result folder to write, e.g. 01_RES (masks + res_track.txt).")],
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML whose 'tracking' section overrides configs/defaults.yaml.")]
    = None,
    learn_from: Annotated[Path | None, typer.Option(
        "--learn-from", help="A CTC training dataset folder: learn the division threshold "
        "from the divisions of its tracks (01_GT/TRA), weighed on its masks of every frame: "
        "01_ERR_SEG where it has them (the Cell Linking Benchmark's masks with errors), else "
        "01_ST/SEG, else 01_GT/SEG. Use masks of the kind you link; a threshold learned on "
        "reference masks is not measured on a segmenter's masks.")]
    = None,
) -> None:
    """Link instance masks over time by global assignment (gap closing, divisions accepted
    only when they look like divisions, fragments merged) and write a CTC result that
    py-ctcmetrics validates; nothing is written on any error."""
    from ctc_unet import api

    folder, n_tracks, n_div = api.track(masks, out, config=config, learn_from=learn_from)
    typer.echo(f"{folder}: {n_tracks} tracks, {n_div} divisions")
