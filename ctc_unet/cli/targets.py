"""``ctc-unet targets``: the paper's Fig. 3 for one frame."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, user_errors

logger = logging.getLogger(__name__)


@user_errors
def targets(
    dataset: Annotated[str, typer.Argument(
        help="Dataset folder (CTC training layout or ISBI 2012) or dataset name.")],
    *,
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNGs.")],
    sequence: Annotated[str, typer.Option("--sequence", help="Sequence of the frame.")] = "01",
    frame: Annotated[int | None, typer.Option(
        "--frame", help="Frame (or ISBI slice) index; default: the first annotated frame.")]
    = None,
    source: Annotated[str | None, typer.Option(
        "--source", help="Annotation source: GT, ST or GT+ST (default: from the config).")]
    = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML file merged over the dataset's configuration.")] = None,
    samples: Annotated[int, typer.Option("--samples", min=0, max=32,
                                         help="Number of augmented samples to draw.")] = 3,
    tile: Annotated[int, typer.Option("--tile", help="Network input tile size (px).")] = 572,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the augmentation.")] = 0,
    data_dir: DataDirOption = None,
) -> None:
    """Write the training targets of one frame as PNGs, like the paper's Fig. 3: raw image,
    annotation overlay, 2-class target with separation borders, weight map, and augmented
    samples (elastic deformation, rotation, flips, gray values) cut to the output window."""
    from ctc_unet import api

    for p in api.targets(dataset, out=out, sequence=sequence, frame=frame, source=source,
                         config=config, samples=samples, tile=tile, seed=seed,
                         data_dir=data_dir):
        typer.echo(str(p))
