"""``ctc-unet env``: what to paste into a bug report."""

from __future__ import annotations

import typer

from ctc_unet.cli.options import DataDirOption, user_errors


@user_errors
def env(*, data_dir: DataDirOption = None) -> None:
    """Print versions, device (CUDA, GPUs), threads, data root, datasets present and the
    relevant environment variables: what to paste into a bug report."""
    from ctc_unet import api

    rows = api.environment(data_dir=data_dir)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        typer.echo(f"{key:<{width}}  {value}")
