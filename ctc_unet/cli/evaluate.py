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
        help="A results folder holding XX_RES/ (with --gt), or a run directory (with --data: "
        "predicts first).")],
    gt: Annotated[Path | None, typer.Option(
        "--gt", help="Dataset folder with the XX_GT/ folders (for a results folder).")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", help="Dataset folder or name with ground truth (for a run directory).")]
    = None,
    sequence: Annotated[list[str] | None, typer.Option(
        "--sequence", help="Sequence(s) to evaluate (repeatable; default: all with GT).")]
    = None,
    frames: Annotated[str, typer.Option(
        "--frames", help="SEG over 'all' GT frames or only the run's held-out 'val' frames.")]
    = "all",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for evaluation.json/.csv and overlays (default: the run's "
        "evaluation/<dataset>, or <results>/evaluation).")] = None,
    device: DeviceOption = "auto",
    data_dir: DataDirOption = None,
) -> None:
    """CTC measures (SEG, DET, TRA, OP_CSB, OP_CTB through py-ctcmetrics) per sequence, or
    ISBI 2012 Rand and pixel error, as a table, JSON and CSV, with overlay PNGs of
    prediction and GT contours."""
    from ctc_unet.cli.logsetup import is_interactive
    from ctc_unet.cli.render import print_rows
    from ctc_unet.data.isbi import is_isbi_folder
    from ctc_unet.data.locate import resolve_dataset
    from ctc_unet.device import resolve_device
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.evaluation.report import write_report
    from ctc_unet.evaluation.runs import evaluate_ctc_run, evaluate_isbi_run
    from ctc_unet.training.rundir import RunDir

    if frames not in ("all", "val"):
        raise CtcUnetError(f"--frames must be all or val, got {frames!r}")
    run = RunDir(path)
    is_run = run.config.is_file()
    if is_run and data is None:
        raise CtcUnetError(f"{path} is a run directory: give --data DATASET to predict and "
                           "evaluate")
    if not is_run and gt is None:
        raise CtcUnetError(f"{path}: give --gt DATASET_DIR with the XX_GT folders (or pass a "
                           "run directory with --data)")
    root = resolve_dataset(data, data_dir)[0] if is_run else Path(gt)
    if is_run and is_isbi_folder(root):
        rows = evaluate_isbi_run(run, root, resolve_device(device))
        dest = out or run.root / "evaluation" / root.name
    else:
        rows, dest = evaluate_ctc_run(run if is_run else None, Path(path), root, sequence, frames,
                                      out, resolve_device(device), is_interactive())
    print_rows(rows, write_report(rows, dest))
