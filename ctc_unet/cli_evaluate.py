"""``ctc-unet evaluate``: registered on the app of ``ctc_unet.cli``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli import DataDirOption, DeviceOption, app, resolve_dataset, user_errors

logger = logging.getLogger(__name__)


@app.command()
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
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.isbi import is_isbi_folder
    from ctc_unet.rundir import RunDir

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
        rows = _evaluate_isbi(run, root, device)
        dest = out or run.root / "evaluation" / root.name
    else:
        rows, dest = evaluate_ctc_run(run if is_run else None, Path(path), root, sequence, frames,
                                   out, device)
    report_rows(rows, dest)


def evaluate_ctc_run(run, path: Path, root: Path, sequence, frames: str, out, device):
    """Score CTC results against the GT of ``root`` (predicting them first when ``run`` is a
    RunDir); returns the rows and the folder for evaluation.json/.csv and overlays."""
    from ctc_unet.dataio import open_ctc_dataset, read_tiff, res_folder
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.evaluation import evaluate_ctc_sequence
    from ctc_unet.plots import contour_overlay
    from ctc_unet.samples import normalize_image

    dataset = open_ctc_dataset(root)
    seqs = [dataset.sequence(s) for s in sequence] if sequence else [
        s for s in dataset.sequences.values() if s.gt_seg and s.tracks_file]
    for s in seqs:
        if not (s.gt_seg and s.tracks_file):
            raise CtcUnetError(f"{root}: sequence {s.name} has no ground truth (SEG and TRA) "
                               "to evaluate against")
    if not seqs:
        raise CtcUnetError(f"{root}: no sequence with ground truth (XX_GT/SEG and TRA)")
    val: dict[str, list[int]] = {}
    if frames == "val":
        if run is None:
            raise CtcUnetError("--frames val needs a run directory")
        from ctc_unet.trainset import Split

        for r in Split.from_json(run.split.read_text()).val:
            val.setdefault(r.sequence, []).append(r.t)
        if not sequence:
            seqs = [s for s in seqs if s.name in val]
        if not seqs:
            raise CtcUnetError(f"{run.root}: the run holds out no GT frame of {root.name}")
    if run is not None:
        from ctc_unet.logsetup import is_interactive
        from ctc_unet.predict import load_predictor, predict_sequence
        from ctc_unet.trainer import resolve_device

        res_root = run.root / "results" / root.name
        first = seqs[0]
        pred = load_predictor(run, resolve_device(device), first.frame_shape(min(first.frames)))
        for s in seqs:
            predict_sequence(pred, s, res_root, interactive=is_interactive())
        dest = out or run.root / "evaluation" / root.name
    else:
        res_root, dest = path, out or path / "evaluation"
    rows = []
    for s in seqs:
        res = res_folder(res_root, s.name)
        if not res.is_dir():
            raise CtcUnetError(f"{res}: results folder not found")
        seg_frames = val.get(s.name) if frames == "val" else None
        if frames == "val" and not seg_frames:
            raise CtcUnetError(f"the run holds out no frame of sequence {s.name}")
        scores = evaluate_ctc_sequence(res, root / f"{s.name}_GT", seg_frames)
        rows.append({"dataset": root.name, "sequence": s.name, "seg_frames": frames, **scores})
        for t in (seg_frames or sorted(s.gt_seg))[:4]:
            mask = read_tiff(res / f"mask{t:0{s.digits}d}.tif")
            contour_overlay(normalize_image(s.read_frame(t)), s.read_gt_seg(t), mask,
                            dest / "overlays" / f"{s.name}_t{t:0{s.digits}d}.png",
                            f"{root.name} {s.name} t={t}  green: GT, magenta: prediction")
    return rows, dest


def _evaluate_isbi(run, root: Path, device: str) -> list[dict]:
    from dataclasses import replace

    import numpy as np

    from ctc_unet.evaluation import isbi_measures
    from ctc_unet.isbi import read_isbi2012
    from ctc_unet.predict import load_predictor
    from ctc_unet.trainer import resolve_device
    from ctc_unet.trainset import Split

    data = read_isbi2012(root)
    slices = [r.t for r in Split.from_json(run.split.read_text()).val] or list(
        range(data.train_volume.shape[0]))
    pred = load_predictor(run, resolve_device(device), data.train_volume.shape[1:])
    rows = []
    for tta in (False, True):
        p = replace(pred, cfg=replace(pred.cfg, inference=replace(pred.cfg.inference, tta=tta)))
        prob = np.stack([p.probabilities(data.train_volume[z])[1] for z in slices])
        m = isbi_measures(prob, data.train_labels[slices])
        rows.append({"dataset": "ISBI2012", "slices": f"{slices[0]}-{slices[-1]}",
                     "tta": pred.cfg.inference.tta_count if tta else 1,
                     "rand_error": m["rand_error"], "rand_threshold": m["rand_threshold"],
                     "pixel_error": m["pixel_error"]})
    return rows


def report_rows(rows: list[dict], dest: Path) -> None:
    """Write evaluation.json and evaluation.csv to ``dest`` and print the rows as a table."""
    from rich.console import Console
    from rich.table import Table

    from ctc_unet.evaluation import format_table
    from ctc_unet.rundir import write_text_atomic

    columns = list(dict.fromkeys(k for r in rows for k in r))
    dest.mkdir(parents=True, exist_ok=True)
    write_text_atomic(dest / "evaluation.json", json.dumps(rows, indent=1))
    write_text_atomic(dest / "evaluation.csv", format_table(rows, columns))
    shown = [c for c in columns if c not in ("dataset", "Valid")]
    table = Table(title=f"{rows[0]['dataset']}")
    for c in shown:
        table.add_column(c, no_wrap=True)
    for r in rows:
        table.add_row(*("" if r.get(c) is None else f"{r[c]:.4f}" if isinstance(r[c], float)
                        else str(r[c]) for c in shown))
    console = Console()
    console.print(table)
    console.print(f"written: {dest / 'evaluation.json'}, {dest / 'evaluation.csv'}",
                  markup=False, highlight=False, soft_wrap=True)


@app.command()
@user_errors
def submit(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="Run directories, one per dataset (each run's config names its dataset).")],
    data: Annotated[Path, typer.Option(
        "--data", help="Challenge data: a folder holding <DATASET>/ folders (e.g. "
        "<data root>/challenge), or the dataset's own folder when there is one run.")],
    team: Annotated[str, typer.Option("--team", help="Team name (letters, digits, - and _).")],
    out: Annotated[Path, typer.Option("--out", help="Where the package and zip go.")]
    = Path("submissions"),
    device: DeviceOption = "auto",
) -> None:
    """Build a Cell Tracking Challenge submission: predict every challenge sequence with each
    run, validate every XX_RES with py-ctcmetrics, add the software (weights, config,
    thresholds, a wheel of ctc-unet, pinned requirements, one DATASET-XX.sh per sequence) and a
    README, and zip it all. Nothing is written unless everything succeeds."""
    from ctc_unet.logsetup import is_interactive
    from ctc_unet.rundir import RunDir
    from ctc_unet.submission import package_submission
    from ctc_unet.trainer import resolve_device

    folder, archive = package_submission([RunDir(r) for r in run_dirs], data, team, out,
                                         resolve_device(device), is_interactive())
    typer.echo(str(folder))
    typer.echo(str(archive))
