"""``ctc-unet targets``: the paper's Fig. 3 for one frame."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ctc_unet.cli.options import DataDirOption, user_errors

logger = logging.getLogger(__name__)


@user_errors
def targets(
    dataset: Annotated[str, typer.Argument(
        help="Dataset folder (CTC training layout or ISBI 2012) or dataset name.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNGs.")],
    sequence: Annotated[str, typer.Option("--sequence", help="Sequence of the frame.")] = "01",
    frame: Annotated[int | None, typer.Option(
        "--frame", help="Frame (or ISBI slice) index; default: the first annotated frame.")]
    = None,
    source: Annotated[str | None, typer.Option(
        "--source", help="Annotation source: GT, ST or GT+ST (default: from the config).")]
    = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML file merged over the dataset's configuration.")] = None,
    samples: Annotated[int, typer.Option("--samples", min=0, max=32,
                                         help="Number of augmented samples to draw.")] = 3,
    tile: Annotated[int, typer.Option("--tile", help="Network input tile size (px).")] = 572,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the augmentation.")] = 0,
    data_dir: DataDirOption = None,
) -> None:
    """Write the training targets of one frame as PNGs, like the paper's Fig. 3: raw image,
    annotation overlay, 2-class target with separation borders, weight map, and augmented
    samples (elastic deformation, rotation, flips, gray values) cut to the output window."""
    import numpy as np

    from ctc_unet.config import load_config
    from ctc_unet.data.locate import dataset_inputs, resolve_dataset
    from ctc_unet.files import check_apart
    from ctc_unet.model.geometry import output_size
    from ctc_unet.plots import target_figures
    from ctc_unet.targets.cache import make_targets
    from ctc_unet.targets.frames import annotated_frame
    from ctc_unet.training.augment import make_augmentation

    root, name = resolve_dataset(dataset, data_dir)
    check_apart(out, dataset_inputs(root), replaces=False)
    overrides = {"targets": {"source": source}} if source else None
    cfg = load_config(name, config, overrides)
    out_size = output_size(tile)
    fr = annotated_frame(root, sequence, frame, cfg.targets)
    target, weights = make_targets(fr.labels, cfg.targets, fr.ignore, cfg.model.n_classes)
    aug = make_augmentation(cfg.augment, tile, out_size, seed=seed)
    draws = [aug({"image": fr.image[None], "label": target[None].astype(np.float32),
                  "weight": weights[None]}) for _ in range(samples)]
    title = f"{root.name} {fr.ref.sequence} t={fr.ref.t} ({fr.ref.source})"
    paths = target_figures(fr.image, fr.labels, target, weights, fr.ignore, draws, out, title)
    n_cells = len(np.unique(fr.labels)) - 1
    ignored = 0 if fr.ignore is None else int(fr.ignore.sum())
    logger.info("%s: %d cells, %d border px, weights %.2f..%.2f, %d ignored px", title, n_cells,
                int(((fr.labels > 0) & (target == 0)).sum()), float(weights.min()),
                float(weights.max()), ignored)
    for p in paths:
        typer.echo(str(p))
