"""The Python API: every ``ctc-unet`` command as a function for notebooks and scripts (the
command line calls these, by keyword), and a trained model that segments and tracks arrays.

    import ctc_unet

    model = ctc_unet.load_model("runs/DIC-C2DH-HeLa-cpu")
    prob = model.predict_probabilities(image)      # (H, W) float32, P(cell)
    labels = model.predict_instances(image)        # (H, W) uint16 instances
    masks, tracks = model.track(frames)            # tracked labels + res_track.txt records

    run = ctc_unet.train("DIC-HeLa", profile="cpu")            # -> RunDir
    final = ctc_unet.refit(run)                                 # -> RunDir on every frame
    ctc_unet.predict(run, "DIC-HeLa", sequences=["02"])        # -> [.../02_RES]
    rows = ctc_unet.evaluate(run, "DIC-HeLa", frames="report")  # -> [{"SEG": ...}, ...]
    ctc_unet.submit([run], "challenge", team="MyTeam")          # -> (folder, zip)
    ctc_unet.export(run)                                        # -> bioimage.io .zip

Each verb's parameters are declared here once: after the first one or two, every parameter is
keyword-only, and ``ctc_unet.cli`` mirrors these signatures (a test keeps them equal). Paths
may be strings; ``device`` is resolved here (``auto``: CUDA when available). ``progress``:
progress bars (None: when standard error is a terminal), else log lines.

Errors a user can fix are ``ctc_unet.CtcUnetError`` (the command line prints their message as
one line). Nothing here configures logging: the messages go to the ``ctc_unet`` loggers, and a
training also writes them to its run directory's ``train.log``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctc_unet.config import Config
from ctc_unet.data.ctc import TrackRecord
from ctc_unet.data.inspection import DatasetReport
from ctc_unet.device import resolve_device
from ctc_unet.errors import CtcUnetError
from ctc_unet.inference.predictor import Predictor
from ctc_unet.rundir import RunDir

__all__ = ["CtcUnetError", "Demo", "Evaluation", "Model", "RunDir", "datasets", "demo", "download",
           "environment", "evaluate", "export", "inspect", "load_model", "predict", "refit",
           "submit", "targets", "track", "train"]


class Model:
    """A trained run's network with its chosen post-processing and tracking settings: the
    public face of ``ctc_unet.inference.predictor.Predictor``."""

    def __init__(self, run: RunDir, predictor: Predictor) -> None:
        self.run = run
        self.predictor = predictor

    def __repr__(self) -> str:
        mc, post = self.config.model, self.predictor.post
        return (f"Model({str(self.run.root)!r}: U-Net depth {mc.depth}, {mc.base_channels} "
                f"channels, {self.context_frames} context frame(s); {post.method} threshold "
                f"{post.threshold:g}, min size {post.min_size}; tile {self.predictor.tile}, "
                f"{self.predictor.device})")

    @property
    def config(self) -> Config:
        """The run's resolved configuration."""
        return self.predictor.cfg

    @property
    def context_frames(self) -> int:
        """k: a model with temporal context segments frame t from frames t-k .. t+k."""
        return self.predictor.context

    def predict_probabilities(self, image: np.ndarray) -> np.ndarray:
        """Cell probability of a raw (H, W) frame: (H, W) float32 in [0, 1] (overlap-tile
        inference with mirrored borders, TTA if the run's config says so). A model with
        temporal context takes the (2k + 1, H, W) stack of frames t-k .. t+k instead."""
        return self.predictor.probabilities(_frame(image, 2 * self.context_frames + 1))[1]

    def predict_instances(self, image: np.ndarray, *, threshold: float | None = None,
                          min_size: int | None = None) -> np.ndarray:
        """Instance labels of a raw (H, W) frame (or context stack, as for
        ``predict_probabilities``): (H, W) uint16, 0 = background, with the post-processing
        the run chose on its choosing frames, or another ``threshold`` / ``min_size``."""
        pred = self.predictor.with_settings(threshold=threshold, min_size=min_size)
        return pred.instances(self.predict_probabilities(image))

    def track(self, frames: Iterable[np.ndarray]) -> tuple[list[np.ndarray], list[TrackRecord]]:
        """Segment and link a time series of raw (H, W) frames: tracked label images (a track
        keeps its label) and the track records of ``res_track.txt`` (frame = list index).
        A model with temporal context reads each frame's neighbours from the series."""
        return self.predictor.track([_frame(f) for f in frames])


def load_model(run_dir: str | Path | RunDir, *, device: str = "auto",
               frame_shape: tuple[int, int] = (512, 512), tile: int | None = None,
               tta: bool | None = None) -> Model:
    """The best checkpoint of a run directory (else its last), ready to predict.
    ``frame_shape`` sizes the automatic tile; ``tile`` / ``tta`` override the config."""
    run = _run(run_dir)
    run.load_config()  # a clear error when it is not a run directory
    return Model(run, Predictor.from_run(run, resolve_device(device), frame_shape, tile=tile,
                                        tta=tta))


# --------------------------------------------------------------------------- data


def datasets(*, data_dir: str | Path | None = None) -> list[dict]:
    """The known datasets: one row each with its name, aliases, kind and whether its training
    and challenge copies are present under the data root."""
    from ctc_unet.data.download import is_present, resolve_data_dir
    from ctc_unet.data.registry import DATASETS

    root = resolve_data_dir(_path(data_dir))
    return [{"name": d.name, "aliases": list(d.aliases), "kind": d.kind, "data_root": root,
             "training": is_present(d, root),
             "challenge": is_present(d, root, True) if d.kind == "ctc" else None}
            for d in DATASETS]


def download(name: str, *, challenge: bool = False, data_dir: str | Path | None = None,
             mirror: str | None = None, keep_archive: bool = False,
             progress: bool | None = None) -> Path:
    """Download a CTC dataset (its challenge sequences with ``challenge``) from the official
    data server (or ``mirror``) and extract it safely under the data root; its folder."""
    from ctc_unet.data.download import download_dataset, resolve_data_dir
    from ctc_unet.data.registry import resolve

    return download_dataset(resolve(name), resolve_data_dir(_path(data_dir)),
                            challenge=challenge, base_url=mirror, progress=_shown(progress),
                            keep_archive=keep_archive)


def inspect(dataset: str | Path, *, data_dir: str | Path | None = None) -> DatasetReport:
    """Check a dataset folder (or a dataset name under the data root) and summarise it:
    sequences, frames, GT/ST frames, cells, tracks, and warnings."""
    from ctc_unet.data.inspection import inspect_path
    from ctc_unet.data.locate import resolve_dataset

    return inspect_path(resolve_dataset(str(dataset), _path(data_dir))[0])


def targets(dataset: str | Path, *, out: str | Path, sequence: str = "01",
            frame: int | None = None, source: str | None = None,
            config: str | Path | None = None, samples: int = 3, tile: int = 572, seed: int = 0,
            data_dir: str | Path | None = None) -> list[Path]:
    """The training targets of one annotated frame as PNGs in ``out``, like the paper's Fig.
    3: raw image, annotation, 2-class target with separation borders, weight map and
    ``samples`` augmented samples (``frame`` default: the first annotated one)."""
    from ctc_unet.workflow.figures import write_target_figures

    return write_target_figures(str(dataset), out=Path(out), sequence=sequence, frame=frame,
                                source=source, config=_path(config), samples=samples,
                                tile=tile, seed=seed, data_dir=_path(data_dir))


# --------------------------------------------------------------------------- training


def train(dataset: str | Path, *, config: str | Path | None = None, profile: str | None = None,
          run_dir: str | Path | None = None, iterations: int | None = None,
          seed: int | None = None, device: str = "auto", resume: bool = False,
          data_dir: str | Path | None = None, progress: bool | None = None) -> RunDir:
    """Train the paper's U-Net on ``dataset`` (a name or alias, downloaded when missing, or a
    folder) and return the run directory (config, split, checkpoints, metrics, train.log,
    the chosen post-processing). A stop signal checkpoints (``run.load_status()`` says
    ``interrupted``); ``resume=True`` goes on."""
    from ctc_unet.workflow.train import train_run

    return train_run(str(dataset), config=_path(config), profile=profile,
                     data_dir=_path(data_dir), run_dir=_path(run_dir), iterations=iterations,
                     seed=seed, device=resolve_device(device), resume=resume,
                     progress=_shown(progress)).run


def refit(run_dir: str | Path | RunDir, *, data: str | Path | None = None,
          out: str | Path | None = None, hold_out: bool = False, seed: int | None = None,
          device: str = "auto", resume: bool = False, data_dir: str | Path | None = None,
          progress: bool | None = None) -> RunDir:
    """Train the finished run's recipe again on every annotated frame, for as many iterations
    as its chosen checkpoint, with its post-processing (``RUN/refit``); with ``hold_out`` its
    reporting frames stay apart to score the refit (``RUN/refit-holdout``)."""
    from ctc_unet.workflow.refit import refit_run

    return refit_run(_run(run_dir).root, data=None if data is None else str(data),
                     run_dir=_path(out), hold_out=hold_out, seed=seed,
                     data_dir=_path(data_dir), device=resolve_device(device), resume=resume,
                     progress=_shown(progress)).run


# --------------------------------------------------------------------------- results


def predict(run_dir: str | Path | RunDir, data: str | Path, *,
            sequences: Sequence[str] | None = None, out: str | Path | None = None,
            challenge: bool = False, device: str = "auto", tile: int | None = None,
            tta: bool | None = None, save_probabilities: bool = False, movie: bool = False,
            data_dir: str | Path | None = None, progress: bool | None = None) -> list[Path]:
    """Segment and track the sequences of ``data`` (a folder or a dataset name; its challenge
    copy with ``challenge``) into CTC result folders ``XX_RES``; returns their paths (for
    ISBI 2012, the probability stack). ``movie``: also ``XX_tracks.gif`` beside each."""
    from ctc_unet.workflow.predict import predict_run

    return predict_run(_run(run_dir), str(data), sequences=list(sequences or []),
                       out=_path(out), challenge=challenge, device=resolve_device(device),
                       tile=tile, tta=tta, save_probabilities=save_probabilities, movie=movie,
                       data_dir=_path(data_dir), progress=_shown(progress))


def track(masks: str | Path, out: str | Path, *,
          config: str | Path | None = None) -> tuple[Path, int, int]:
    """Link a folder of instance masks (maskNNN.tif or man_segNNN.tif, from any segmenter)
    into the CTC result folder ``out``; returns it, the number of tracks and of divisions."""
    from ctc_unet.config import load_config
    from ctc_unet.workflow.track import track_folder

    return track_folder(Path(masks), Path(out), load_config(None, _path(config)).tracking)


class Evaluation(list):
    """The rows ``evaluate`` scored (one dict per sequence or setting), and where they went:
    ``folder`` holds evaluation.json/.csv (``files``), per-sequence CSVs and figures."""

    def __init__(self, rows: Iterable[dict], files: tuple[Path, Path]) -> None:
        super().__init__(rows)
        self.files = files
        self.folder = files[0].parent


def evaluate(path: str | Path | RunDir, data: str | Path | None = None, *,
             gt: str | Path | None = None, sequences: Sequence[str] | None = None,
             frames: str = "all", out: str | Path | None = None, device: str = "auto",
             data_dir: str | Path | None = None, progress: bool | None = None) -> Evaluation:
    """Score a run directory (predicting ``data`` first), a results folder (against ``gt``),
    or an ISBI 2012 probability stack (against the label stack ``gt``); ``frames``: all,
    choose, report or FIRST-LAST. Writes evaluation.json/.csv, per-sequence CSVs and
    figures into one folder; returns the rows, one per sequence."""
    from ctc_unet.workflow.evaluate import evaluate_path

    rows, files = evaluate_path(_run(path).root, gt=_path(gt),
                                data=None if data is None else str(data),
                                sequences=list(sequences or []), frames=frames, out=_path(out),
                                device=resolve_device(device), data_dir=_path(data_dir),
                                progress=_shown(progress))
    return Evaluation(rows, files)


def submit(run_dirs: Sequence[str | Path | RunDir], data: str | Path | None = None, *,
           team: str, out: str | Path = "submissions", challenge: bool = True,
           device: str = "auto", wheel: str | Path | None = None,
           data_dir: str | Path | None = None,
           progress: bool | None = None) -> tuple[Path, Path]:
    """Package a Cell Tracking Challenge submission of one run per dataset; ``data`` is the
    folder holding the challenge datasets, a dataset's folder, a dataset name (its challenge
    copy under the data root), or None (each run's dataset there). Returns the package
    folder and its zip."""
    from ctc_unet.submission.package import package_submission

    return package_submission([_run(r) for r in run_dirs], data=data, team=team,
                              out=Path(out), device=resolve_device(device),
                              progress=_shown(progress), wheel=_path(wheel),
                              data_dir=_path(data_dir), challenge=challenge)


def export(run_dir: str | Path | RunDir, *, data: str | Path | None = None,
           out: str | Path | None = None, data_dir: str | Path | None = None) -> Path:
    """Write the run as a bioimage.io model package (a zip that deepImageJ, ilastik, QuPath
    and napari open); ``data``: the run's dataset (default: found under the data root), one
    frame of which becomes the package's test tensor. Needs ``pip install 'ctc-unet[export]'``.
    Returns the zip."""
    from ctc_unet.zoo.bioimageio import export_package

    return export_package(_run(run_dir), data=data, out=_path(out), data_dir=_path(data_dir))


# --------------------------------------------------------------------------- the whole job


DEMO_FRAMES = 20  # per sequence: 01's first 13 train, 17-19 choose, 02 reports


@dataclass(frozen=True)
class Demo:
    """What ``demo`` made: the dataset's inspection, the run, its evaluation, the zip."""

    report: DatasetReport
    run: RunDir
    evaluation: Evaluation
    submission: Path


def demo(*, out: str | Path = "ctc-unet-demo", seed: int = 0, iterations: int | None = None,
         device: str = "auto", progress: bool | None = None) -> Demo:
    """The whole job on embedded synthetic data, through the verbs above as a user runs them:
    a small CTC-format dataset (2 sequences, touching and dividing cells) under
    ``out/data`` (``seed``), inspected; a small U-Net trained on sequence 01 (``out/runs``;
    a second call resumes that run); evaluated (sequence 02 is the one nothing trained on);
    and packaged as a submission (``out/submissions``)."""
    import logging

    from ctc_unet.data.synthetic import write_synthetic_dataset

    out = Path(out)
    data = out / "data" / "Synthetic-C2DH"
    if data.exists():
        logging.getLogger(__name__).info("using the synthetic dataset already at %s", data)
    else:
        write_synthetic_dataset(data, seed=seed, n_frames=DEMO_FRAMES)
    report = inspect(data)
    run = train(data, profile="demo", run_dir=out / "runs" / "synthetic-demo",
                iterations=iterations, device=device, resume=True, progress=progress)
    rows = evaluate(run, data, device=device, progress=progress)
    _, archive = submit([run], data, team="ctc-unet-demo", out=out / "submissions",
                        device=device, progress=progress)
    return Demo(report, run, rows, archive)


def environment(*, data_dir: str | Path | None = None) -> list[tuple[str, str]]:
    """(key, value) lines for a bug report: versions, device (CUDA, GPUs), threads, the data
    root and the datasets present, relevant environment variables."""
    from ctc_unet.workflow.environment import environment_report

    return environment_report(_path(data_dir))


# --------------------------------------------------------------------------- helpers


def _shown(progress: bool | None) -> bool:
    """Progress bars: as asked, else when standard error is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


def _run(value: str | Path | RunDir) -> RunDir:
    return value if isinstance(value, RunDir) else RunDir(Path(value).expanduser())


def _frame(image: np.ndarray, frames: int = 1) -> np.ndarray:
    """A raw (H, W) gray-value frame, or a (frames, H, W) stack of them, checked."""
    image = np.squeeze(np.asarray(image))
    lead = () if frames == 1 else (frames,)  # the axes before (H, W)
    if image.ndim != len(lead) + 2 or image.shape[:-2] != lead or image.dtype.kind not in "uifb":
        raise CtcUnetError(
            f"expected a 2D gray-value image, got {image.dtype} {image.shape}" if frames == 1
            else f"this model reads {frames} frames (t-{frames // 2} .. t+{frames // 2}) as a "
            f"({frames}, H, W) stack, got {image.dtype} {image.shape}")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise CtcUnetError("the image has NaN or infinite pixels")
    return image
