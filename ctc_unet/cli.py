"""The ``ctc-unet`` command line (one Typer app, verb subcommands).

Heavy modules (numpy, torch, MONAI, ...) are imported inside the commands so that
``ctc-unet --help`` stays fast. Errors caused by the user's input print one line and exit 1.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ctc_unet import __version__
from ctc_unet.errors import CtcUnetError

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="ctc-unet",
    help="The original U-Net (Ronneberger et al., MICCAI 2015) for the Cell Tracking Challenge: "
    "data, training, overlap-tile prediction, tracking, CTC evaluation and submissions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ctc-unet {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="More log output (debug messages).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Set up logging for every command: rich at a terminal, plain lines in a batch job."""
    from ctc_unet.logsetup import setup_logging

    setup_logging(verbose=verbose, quiet=quiet)


def _console():
    from rich.console import Console

    return Console()


@app.command()
@user_errors
def datasets(data_dir: DataDirOption = None) -> None:
    """List the known datasets, their aliases, and whether they are present locally."""
    from rich.table import Table

    from ctc_unet.download import is_present, resolve_data_dir
    from ctc_unet.registry import DATASETS

    root = resolve_data_dir(data_dir)
    table = Table(title=f"Datasets (data root: {root})")
    for col in ("name", "aliases", "training", "challenge"):
        table.add_column(col)
    for info in DATASETS:
        present = is_present(info, root)
        challenge = "-" if info.kind != "ctc" else ("yes" if is_present(info, root, True) else "no")
        table.add_row(info.name, ", ".join(info.aliases), "yes" if present else "no", challenge)
    _console().print(table)


@app.command()
@user_errors
def download(
    name: Annotated[str, typer.Argument(help="Dataset name or alias, e.g. DIC-HeLa.")],
    challenge: Annotated[bool, typer.Option(
        "--challenge", help="Get the challenge (test) sequences instead of the training set.")]
    = False,
    data_dir: DataDirOption = None,
    mirror: Annotated[str | None, typer.Option(
        "--mirror", help="Base URL of a mirror of the CTC data server "
        "(default: $CTC_UNET_MIRROR, else http://data.celltrackingchallenge.net).")] = None,
    keep_archive: Annotated[bool, typer.Option(
        "--keep-archive", help="Keep the downloaded zip in <data-dir>/.archives.")] = False,
) -> None:
    """Download a CTC dataset from the official data server and extract it (safely)."""
    from ctc_unet.download import download_dataset, resolve_data_dir
    from ctc_unet.logsetup import is_interactive
    from ctc_unet.registry import resolve

    info = resolve(name)
    path = download_dataset(info, resolve_data_dir(data_dir), challenge=challenge,
                            base_url=mirror, progress=is_interactive(),
                            keep_archive=keep_archive)
    typer.echo(str(path))


def resolve_dataset(name: str, data_dir: Path | None, download: bool = False,
                    challenge: bool = False) -> tuple[Path, str | None]:
    """The dataset folder for NAME and the registry name that selects its config.

    NAME is a folder (used as given) or a dataset name or alias, looked up under the data
    root (its challenge copy with ``challenge``) and, with ``download``, fetched when missing.
    """
    candidate = Path(name).expanduser()
    if candidate.exists() or "/" in name or "\\" in name:
        return candidate, config_name(candidate)
    from ctc_unet.download import dataset_dir, download_dataset, is_present, resolve_data_dir
    from ctc_unet.errors import UnknownDatasetError
    from ctc_unet.registry import resolve

    try:
        info = resolve(name)
    except UnknownDatasetError:
        if download:
            raise
        return candidate, None  # the reader reports "folder not found"
    root = resolve_data_dir(data_dir)
    if download and not is_present(info, root, challenge):
        from ctc_unet.logsetup import is_interactive

        logger.info("%s not found under %s; downloading it", info.name, root)
        download_dataset(info, root, challenge=challenge, progress=is_interactive())
    return dataset_dir(info, root, challenge), info.name


def print_report(report) -> None:
    """Render an inspection report as tables and warning lines."""
    from rich.table import Table

    console = _console()
    console.print(f"{report.root}  [{report.kind}]", markup=False, soft_wrap=True)
    if report.summary:
        table = Table(show_header=False)
        for key, value in report.summary.items():
            table.add_row(key, value)
        console.print(table)
    if report.sequences:
        table = Table()
        for col in ("seq", "frames", "size", "dtype", "GT SEG", "TRA", "tracks (div.)", "ST"):
            table.add_column(col)
        for s in report.sequences:
            table.add_row(s.name, f"{s.n_frames} ({s.first}-{s.last})",
                          "x".join(map(str, s.shape)), s.dtype, str(len(s.gt_seg_frames)),
                          str(s.gt_tra_frames),
                          f"{s.n_tracks} ({s.n_divisions})" if s.n_tracks else "-",
                          str(s.st_frames))
        console.print(table)
        for s in report.sequences:
            if s.cells_per_gt:
                cells = ", ".join(f"{t:0{s.digits}d} ({n})" for t, n in s.cells_per_gt.items())
                console.print(f"{s.name} GT SEG frames (cells): {cells}", markup=False,
                              highlight=False, soft_wrap=True)
    for w in report.warnings:
        console.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)


@app.command()
@user_errors
def inspect(
    path: Annotated[str, typer.Argument(
        help="Dataset folder (CTC training/challenge layout or ISBI 2012), or a dataset name "
        "to look up under the data root.")],
    data_dir: DataDirOption = None,
) -> None:
    """Check a dataset folder and summarise it: sequences, frames, GT/ST, cells, problems."""
    from ctc_unet.inspection import inspect_path

    print_report(inspect_path(resolve_dataset(path, data_dir)[0]))


def config_name(root: Path) -> str | None:
    """The registry name of a dataset folder (selects configs/<name>.yaml), if it has one."""
    from ctc_unet.errors import UnknownDatasetError
    from ctc_unet.registry import resolve

    try:
        return resolve(root.name).name
    except UnknownDatasetError:
        return None


@app.command()
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

    from ctc_unet.augment import make_augmentation
    from ctc_unet.config import load_config
    from ctc_unet.geometry import output_size
    from ctc_unet.plots import target_figures
    from ctc_unet.targets import make_targets

    root, name = resolve_dataset(dataset, data_dir)
    overrides = {"targets": {"source": source}} if source else None
    cfg = load_config(name, config, overrides)
    out_size = output_size(tile)
    fr = _annotated_frame(root, sequence, frame, cfg)
    target, weights = make_targets(fr.labels, cfg.targets, fr.ignore)
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


def _annotated_frame(root: Path, sequence: str, frame: int | None, cfg):
    """The annotated frame that ``targets`` shows (CTC frame or ISBI slice)."""
    from ctc_unet.dataio import open_ctc_dataset
    from ctc_unet.errors import DataError
    from ctc_unet.isbi import is_isbi_folder, read_isbi2012
    from ctc_unet.samples import isbi_frames, load_frame, training_frames

    if is_isbi_folder(root):
        data = read_isbi2012(root)
        z = 0 if frame is None else frame
        if not 0 <= z < data.train_volume.shape[0]:
            raise DataError(f"{root}: slice {z} out of range 0..{data.train_volume.shape[0] - 1}")
        return isbi_frames(data, [z])[0]
    ds = open_ctc_dataset(root)
    annotated = training_frames(ds, cfg.targets.source, [sequence])
    refs = annotated if frame is None else [r for r in annotated if r.t == frame]
    if not refs:
        more = " ..." if len(annotated) > 12 else ""
        listed = ", ".join(str(r.t) for r in annotated[:12]) + more
        raise DataError(f"{root}: sequence {sequence} frame {frame} has no "
                        f"{cfg.targets.source} annotation (annotated: {listed})")
    return load_frame(ds, refs[0], cfg.targets)


def main() -> None:
    """Console-script entry point."""
    app()


# Commands defined in other modules register themselves on ``app`` when imported.
from ctc_unet import cli_demo, cli_env, cli_evaluate, cli_predict, cli_train  # noqa: E402, F401
