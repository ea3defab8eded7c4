"""``ctc-unet inspect``."""

from __future__ import annotations

from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, user_errors


@user_errors
def inspect(
    dataset: Annotated[str, typer.Argument(
        help="Dataset folder (CTC training/challenge layout or ISBI 2012), or a dataset name "
        "to look up under the data root.")],
    *,
    data_dir: DataDirOption = None,
) -> None:
    """Check a dataset folder and summarise it: sequences, frames, GT/ST, cells, problems."""
    from ctc_unet import api
    from ctc_unet.cli.render import print_report

    print_report(api.inspect(dataset, data_dir=data_dir))
