"""``ctc-unet demo``: the whole pipeline on embedded synthetic data."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DeviceOption, user_errors

logger = logging.getLogger(__name__)


@user_errors
def demo(
    *,
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's data and runs.")]
    = Path("ctc-unet-demo"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 0,
    iterations: Annotated[int | None, typer.Option(
        "--iterations", min=1, help="Training iterations (default: the demo profile's).")]
    = None,
    device: DeviceOption = "auto",
) -> None:
    """Run the main job on embedded synthetic data: generate a small CTC-format dataset
    (2 sequences, touching and dividing cells), inspect it, train a small U-Net (about a
    minute on a CPU) on sequence 01, predict and track, evaluate (SEG, DET, TRA; sequence 02
    is the one nothing trained on) and package a submission."""
    from ctc_unet import api
    from ctc_unet.cli.logsetup import is_interactive
    from ctc_unet.cli.render import print_report, print_rows

    done = api.demo(out=out, seed=seed, iterations=iterations, device=device,
                    progress=is_interactive())
    print_report(done.report)
    print_rows(done.evaluation, done.evaluation.files)
    for r in done.evaluation:
        scores = "  ".join(f"{k} {r[k]:.3f}" if r.get(k) is not None else f"{k} n/a"
                           for k in ("SEG", "DET", "TRA"))
        typer.echo(f"sequence {r['sequence']}: {scores}")
    typer.echo(f"submission: {done.submission}")
