"""``ctc-unet export``: a trained run as a bioimage.io model package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, ModelOption, user_errors


@user_errors
def export(
    run_dir: Annotated[Path, typer.Argument(help="A trained run directory.")],
    *,
    model: ModelOption = "auto",
    data: Annotated[str | None, typer.Option(
        "--data", help="The run's dataset (folder or name); one of its frames becomes the "
        "package's test tensor. Default: the run's dataset under the data root.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="The package zip (default: RUN/export/<run>.bioimageio.zip; the "
        "unzipped package goes beside it).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Export a trained run as a bioimage.io model package (format 0.5) that deepImageJ
    (Fiji), ilastik, QuPath, napari and Icy open: TorchScript and state-dict weights, the
    valid input sizes of the unpadded network, the run's normalization, test tensors from a
    real frame, a cover image and a README naming the training data, the recipe and the
    run's scores. Checks that the TorchScript reproduces `ctc-unet predict` (1e-4) and that
    bioimage.io's validator accepts the package; `bioimageio test ZIP` (bioimageio.core)
    runs it. Needs: pip install 'ctc-unet[export]'."""
    from ctc_unet import api

    typer.echo(str(api.export(run_dir, model=model, data=data, out=out, data_dir=data_dir)))
