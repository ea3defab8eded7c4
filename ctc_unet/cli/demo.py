"""``ctc-unet demo``: the whole pipeline on embedded synthetic data."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DeviceOption, user_errors

logger = logging.getLogger(__name__)

DEMO_FRAMES = 20  # per sequence: 01's first 13 train, 17-19 choose, 02 reports


@user_errors
def demo(
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
    from dataclasses import replace

    from ctc_unet.cli.logsetup import add_log_file, is_interactive
    from ctc_unet.cli.render import print_report, print_rows
    from ctc_unet.config import load_config
    from ctc_unet.data.inspection import inspect_path
    from ctc_unet.data.synthetic import write_synthetic_dataset
    from ctc_unet.device import resolve_device
    from ctc_unet.rundir import RunDir
    from ctc_unet.submission.package import package_submission
    from ctc_unet.training.loop import train
    from ctc_unet.workflow.evaluate import evaluate_ctc_run, report_files

    data = out / "data" / "Synthetic-C2DH"
    if data.exists():
        logger.info("using the synthetic dataset already at %s", data)
    else:
        write_synthetic_dataset(data, seed=seed, n_frames=DEMO_FRAMES)
    print_report(inspect_path(data))

    run = RunDir(out / "runs" / "synthetic-demo")
    cfg = load_config(None, profile="demo", overrides={"dataset": data.name})
    if iterations:
        cfg = replace(cfg, train=replace(cfg.train, iterations=iterations))
    if run.root.exists():
        shutil.rmtree(run.root)  # the demo always trains afresh
    run.root.mkdir(parents=True)
    handler = add_log_file(run.log)
    try:
        train(data, run, cfg, device, interactive=is_interactive())
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    dev = resolve_device(device)
    rows, dest = evaluate_ctc_run(run, run.root, data, None, "all", None, dev, is_interactive())
    print_rows(rows, report_files(dest))
    _, archive = package_submission([run], data, "ctc-unet-demo", out / "submissions",
                                         dev, is_interactive())
    for r in rows:
        scores = "  ".join(f"{k} {r[k]:.3f}" if r.get(k) is not None else f"{k} n/a"
                           for k in ("SEG", "DET", "TRA"))
        typer.echo(f"sequence {r['sequence']}: {scores}")
    typer.echo(f"submission: {archive}")
