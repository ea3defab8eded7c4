"""Options shared by several commands, and the error boundary every command runs inside."""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ctc_unet.errors import CtcUnetError
from ctc_unet.signals import interrupt_on_signals

F = TypeVar("F", bound=Callable[..., Any])

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data root holding one folder per dataset (and challenge/). "
                 "Default: $CTC_DATA_DIR, else the user cache folder (~/.cache/ctc-unet/data)."),
]


DeviceOption = Annotated[str, typer.Option("--device", help="auto (CUDA when available), cpu, "
                                          "cuda or cuda:N.")]


ModelOption = Annotated[str, typer.Option(
    "--model", help="Which of the run's models: auto (its refit on every annotated frame, "
    "RUN/refit, where `ctc-unet refit` has made one; else the run's own), refit, or protocol "
    "(the model the run chose with and reported on).")]


DEBUG_ENV = "CTC_UNET_DEBUG"


def debugging() -> bool:
    """True when tracebacks are wanted (``ctc-unet --debug`` or CTC_UNET_DEBUG=1)."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def one_line(exc: BaseException) -> str:
    """The message of an error as one line: OS errors name their file."""
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror or exc}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def user_errors(fn: F) -> F:
    """The error boundary: bad input (CtcUnetError) and file-system faults (OSError: a missing
    or unreadable path, a read-only or full disk) become one ``Error:`` line and exit code 1;
    the traceback only with --debug or CTC_UNET_DEBUG=1. SIGTERM and SIGINT, in any phase,
    remove the staged outputs on the way out and end with one line and exit 128 + signal
    number (``train`` checkpoints instead, see its help)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with interrupt_on_signals():
                return fn(*args, **kwargs)
        except (CtcUnetError, OSError) as exc:
            if debugging():
                raise
            typer.echo(f"Error: {one_line(exc)}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt as exc:
            name = getattr(exc, "signal", "SIGINT")
            typer.echo(f"Error: interrupted by {name}; unfinished outputs were removed, "
                       "finished ones kept", err=True)
            raise typer.Exit(128 + int(signal.Signals[name])) from None

    return wrapper  # type: ignore[return-value]
