"""``ctc-unet download``."""

from __future__ import annotations

from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, user_errors


@user_errors
def download(
    name: Annotated[str, typer.Argument(help="Dataset name or alias, e.g. DIC-HeLa.")],
    *,
    challenge: Annotated[bool, typer.Option(
        "--challenge", help="Get the challenge (test) sequences instead of the training set.")]
    = False,
    data_dir: DataDirOption = None,
    mirror: Annotated[str | None, typer.Option(
        "--mirror", help="Base URL of a mirror of the CTC data server "
        "(default: $CTC_UNET_MIRROR, else http://data.celltrackingchallenge.net).")] = None,
    keep_archive: Annotated[bool, typer.Option(
        "--keep-archive", help="Keep the downloaded zip in <data-dir>/.archives.")] = False,
) -> None:
    """Download a CTC dataset from the official data server and extract it (safely)."""
    from ctc_unet import api
    from ctc_unet.cli.logsetup import is_interactive

    typer.echo(str(api.download(name, challenge=challenge, data_dir=data_dir, mirror=mirror,
                                keep_archive=keep_archive, progress=is_interactive())))
