"""``ctc-unet evaluate``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, DeviceOption, user_errors

logger = logging.getLogger(__name__)


@user_errors
def evaluate(
    path: Annotated[Path, typer.Argument(
        help="A results folder holding XX_RES/ (with --gt), a run directory (predicts its "
        "data first, or reuses the results it predicted as it is now), or an ISBI "
        "2012-style probability stack PROB.tif (with --gt LABELS.tif).")],
    *,
    gt: Annotated[Path | None, typer.Option(
        "--gt", help="Dataset folder with the XX_GT/ folders (for a results folder), or the "
        "label stack (for PROB.tif).")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", help="Dataset folder or name with ground truth, for a run directory "
        "(default: the folder it was trained on).")] = None,
    sequences: Annotated[list[str] | None, typer.Option(
        "--sequence", help="Sequence(s) to evaluate (repeatable; default: all with GT).")]
    = None,
    frames: Annotated[str, typer.Option(
        "--frames", help="Which frames to score: all; choose (alias val) or report, the run's "
        "choosing or reporting frames from its split.json; or a block FIRST-LAST. Measures "
        "are computed on the clipped sequence (renumbered from 0).")]
    = "all",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for evaluation.json/.csv and overlays (default: the run's "
        "evaluation/<dataset>, or <results>/evaluation).")] = None,
    device: DeviceOption = "auto",
    repredict: Annotated[bool, typer.Option(
        "--repredict", help="Predict a run's data again even when its results folder holds "
        "what the run as it is now predicted.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """CTC measures per sequence through py-ctcmetrics (SEG, DET, TRA, OP_CSB, OP_CTB, CT, TF,
    BC(i), CCA, divisions in result and reference; SEG_ST against the silver truth), or the
    ISBI 2012 Rand, information and pixel errors as the challenge computes them; as a table,
    JSON and CSV, with overlay PNGs of prediction and reference contours."""
    from ctc_unet import api
    from ctc_unet.cli.logsetup import is_interactive
    from ctc_unet.cli.render import print_rows

    rows = api.evaluate(path, data, gt=gt, sequences=sequences, frames=frames, out=out,
                        device=device, repredict=repredict, data_dir=data_dir,
                        progress=is_interactive())
    print_rows(rows, rows.files)
