"""``ctc-unet inspect``."""

from __future__ import annotations

from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, user_errors


@user_errors
def inspect(
    path: Annotated[str, typer.Argument(
        help="Dataset folder (CTC training/challenge layout or ISBI 2012), or a dataset name "
        "to look up under the data root.")],
    data_dir: DataDirOption = None,
) -> None:
    """Check a dataset folder and summarise it: sequences, frames, GT/ST, cells, problems."""
    from ctc_unet.cli.render import print_report
    from ctc_unet.data.inspection import inspect_path
    from ctc_unet.data.locate import resolve_dataset

    print_report(inspect_path(resolve_dataset(path, data_dir)[0]))
