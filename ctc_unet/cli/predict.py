"""``ctc-unet predict``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, DeviceOption, user_errors

logger = logging.getLogger(__name__)


@user_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(help="Run directory written by `ctc-unet train`.")],
    data: Annotated[str, typer.Option(
        "--data", help="Dataset folder (CTC training or challenge layout, or ISBI 2012), or a "
        "dataset name under the data root.")],
    sequence: Annotated[list[str] | None, typer.Option(
        "--sequence", help="Sequence(s) to predict, e.g. 01 (repeatable; default: all). "
        "For ISBI 2012: test (default) or train.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output folder for XX_RES/ (default: <run>/results/<dataset>).")] = None,
    challenge: Annotated[bool, typer.Option(
        "--challenge", help="With a dataset name: use its challenge sequences.")] = False,
    device: DeviceOption = "auto",
    tile: Annotated[int | None, typer.Option(
        "--tile", help="Tile size in px (default: config, else the largest that fits).")]
    = None,
    tta: Annotated[bool | None, typer.Option(
        "--tta/--no-tta", help="Average over flips and 90-degree rotations (default: "
        "config).")] = None,
    save_probabilities: Annotated[bool, typer.Option(
        "--save-probabilities", help="Also write the cell probability of each frame "
        "(XX_PROB/probNNN.tif, float32).")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Segment and track sequences with a trained run: overlap-tile inference with mirrored
    borders (through MONAI), instances from separation borders, tracking by global assignment
    (gap closing, divisions checked).
    Writes XX_RES/maskNNN.tif (uint16) and XX_RES/res_track.txt per sequence; for ISBI 2012
    a float32 probability stack."""
    from ctc_unet.cli.logsetup import is_interactive
    from ctc_unet.data.ctc import open_ctc_dataset
    from ctc_unet.data.isbi import TEST_VOLUME, TRAIN_VOLUME, is_isbi_folder
    from ctc_unet.data.locate import resolve_dataset
    from ctc_unet.device import resolve_device
    from ctc_unet.inference.predictor import load_predictor, predict_isbi_volume, predict_sequence
    from ctc_unet.training.rundir import RunDir

    run = RunDir(run_dir)
    run.load_config()  # a clear error when RUN_DIR is not a run directory
    root = resolve_dataset(data, data_dir, challenge=challenge)[0]
    dev = resolve_device(device)
    out_root = out or run.root / "results" / root.name
    if is_isbi_folder(root):

        which = (sequence or ["test"])[0]
        if which not in ("test", "train"):
            from ctc_unet.errors import CtcUnetError

            raise CtcUnetError(f"ISBI 2012 sequence must be test or train, got {which!r}")
        from ctc_unet.data.isbi import read_stack

        volume = read_stack(root / (TEST_VOLUME if which == "test" else TRAIN_VOLUME))
        pred = load_predictor(run, dev, volume.shape[1:])
        pred = _override(pred, tile, tta)
        path = predict_isbi_volume(pred, volume, out_root / f"{which}-volume-probabilities.tif")
        typer.echo(str(path))
        return
    dataset = open_ctc_dataset(root)
    seqs = [dataset.sequence(s) for s in sequence] if sequence else list(
        dataset.sequences.values())
    for seq in seqs:  # shapes and readable headers of every sequence before any work
        seq.check_frames()
    first = seqs[0]
    pred = load_predictor(run, dev, first.frame_shape(min(first.frames)))
    pred = _override(pred, tile, tta)
    for seq in seqs:
        res = predict_sequence(pred, seq, out_root, save_probabilities, is_interactive())
        typer.echo(str(res))


def _override(pred, tile, tta):
    """Apply --tile / --tta to a predictor."""
    from dataclasses import replace

    if tile is not None:
        from ctc_unet.model.geometry import output_size

        output_size(tile, pred.model.depth)
        pred.tile = tile
    if tta is not None:
        pred.cfg = replace(pred.cfg, inference=replace(pred.cfg.inference, tta=tta))
    return pred
