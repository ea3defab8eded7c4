"""The ``ctc-unet`` command line: one Typer app with verb subcommands, one module per verb.

Commands import the library; the library never imports a command. Heavy modules (numpy,
torch, MONAI, ...) are imported inside the commands so that ``ctc-unet --help`` stays fast.
Errors caused by the user's input print one line and exit non-zero.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ctc_unet import __version__
from ctc_unet.cli import (
    datasets,
    demo,
    download,
    env,
    evaluate,
    export,
    inspect,
    predict,
    refit,
    submit,
    targets,
    track,
    train,
)

app = typer.Typer(
    name="ctc-unet",
    help="The original U-Net (Ronneberger et al., MICCAI 2015) for the Cell Tracking Challenge: "
    "data, training, overlap-tile prediction, tracking, CTC evaluation and submissions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # help texts are plain: "ctc-unet[export]" is not markup
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ctc-unet {__version__}")
        raise typer.Exit()


def main_callback(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="More log output (debug messages).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error "
                                        "(also CTC_UNET_DEBUG=1).")] = False,
) -> None:
    """Set up logging for every command: rich at a terminal, plain lines in a batch job."""
    import os

    from ctc_unet.cli.logsetup import setup_logging
    from ctc_unet.cli.options import DEBUG_ENV

    if debug:
        os.environ[DEBUG_ENV] = "1"
    setup_logging(verbose=verbose, quiet=quiet)


app.callback()(main_callback)
for command in (datasets.datasets, download.download, inspect.inspect, targets.targets,
                train.train, refit.refit, predict.predict, track.track, evaluate.evaluate,
                submit.submit, export.export, demo.demo):
    app.command()(command)
app.command("env")(env.env)


def main() -> None:
    """Console-script entry point."""
    app()
