"""Options shared by several commands, and the error boundary every command runs inside."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ctc_unet.errors import CtcUnetError

F = TypeVar("F", bound=Callable[..., Any])

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data root holding one folder per dataset (and challenge/). "
                 "Default: $CTC_DATA_DIR, else the user cache folder (~/.cache/ctc-unet/data)."),
]


DeviceOption = Annotated[str, typer.Option("--device", help="auto (CUDA when available), cpu, "
                                          "cuda or cuda:N.")]


def user_errors(fn: F) -> F:
    """Turn CtcUnetError (bad input) into a one-line message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CtcUnetError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
