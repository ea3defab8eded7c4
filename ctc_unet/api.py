"""The Python API: everything the ``ctc-unet`` commands do, as functions for notebooks and
scripts, and a trained model that segments and tracks arrays.

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

Errors a user can fix are ``ctc_unet.CtcUnetError`` (the command line prints their message as
one line). Nothing here configures logging: the messages go to the ``ctc_unet`` loggers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ctc_unet.config import Config
from ctc_unet.data.ctc import TrackRecord
from ctc_unet.inference.predictor import Predictor
from ctc_unet.rundir import RunDir


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


def _frame(image: np.ndarray, frames: int = 1) -> np.ndarray:
    """A raw (H, W) gray-value frame, or a (frames, H, W) stack of them, checked."""
    from ctc_unet.errors import CtcUnetError

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


def load_model(run_dir: str | Path | RunDir, device: str = "auto",
               frame_shape: tuple[int, int] = (512, 512), tile: int | None = None,
               tta: bool | None = None) -> Model:
    """The best checkpoint of a run directory (else its last), ready to predict.
    ``frame_shape`` sizes the automatic tile; ``tile`` / ``tta`` override the config."""
    from ctc_unet.device import resolve_device

    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    run.load_config()  # a clear error when it is not a run directory
    predictor = Predictor.from_run(run, resolve_device(device), frame_shape, tile=tile, tta=tta)
    return Model(run, predictor)


def train(dataset: str | Path, *, config: str | Path | None = None, profile: str | None = None,
          run_dir: str | Path | None = None, iterations: int | None = None,
          device: str = "auto", resume: bool = False, seed: int | None = None,
          data_dir: str | Path | None = None) -> RunDir:
    """Train the paper's U-Net on ``dataset`` (a name or alias, downloaded when missing, or a
    folder) and return the run directory (config, split, checkpoints, metrics, the chosen
    post-processing). A stop signal checkpoints; ``resume=True`` goes on."""
    from ctc_unet.workflow.train import train_run

    return train_run(str(dataset), _path(config), profile, _path(data_dir), _path(run_dir),
                     iterations, device, resume, seed=seed).run


def refit(run_dir: str | Path | RunDir, *, data: str | Path | None = None,
          out: str | Path | None = None, hold_out: bool = False, device: str = "auto",
          resume: bool = False, seed: int | None = None,
          data_dir: str | Path | None = None) -> RunDir:
    """Train the finished run's recipe again on every annotated frame, for as many iterations
    as its chosen checkpoint, with its post-processing (``RUN/refit``); with ``hold_out`` its
    reporting frames stay apart to score the refit (``RUN/refit-holdout``)."""
    from ctc_unet.workflow.refit import refit_run

    return refit_run(_run(run_dir).root, None if data is None else str(data), _path(out),
                     hold_out, _path(data_dir), device, resume, seed=seed).run


def predict(run_dir: str | Path | RunDir, data: str | Path, *,
            sequences: Sequence[str] | None = None, out: str | Path | None = None,
            challenge: bool = False, device: str = "auto", tile: int | None = None,
            tta: bool | None = None, save_probabilities: bool = False,
            data_dir: str | Path | None = None, movie: bool = False) -> list[Path]:
    """Segment and track the sequences of ``data`` (a folder or a dataset name; its challenge
    copy with ``challenge``) into CTC result folders ``XX_RES``; returns their paths (for
    ISBI 2012, the probability stack). ``movie``: also ``XX_tracks.gif`` beside each."""
    from ctc_unet.device import resolve_device
    from ctc_unet.workflow.predict import predict_run

    return predict_run(_run(run_dir), str(data), list(sequences or []), _path(out), challenge,
                       resolve_device(device), tile, tta, save_probabilities, _path(data_dir),
                       movie=movie)


def evaluate(path: str | Path | RunDir, data: str | Path | None = None, *,
             gt: str | Path | None = None, sequences: Sequence[str] | None = None,
             frames: str = "all", out: str | Path | None = None, device: str = "auto",
             data_dir: str | Path | None = None) -> list[dict]:
    """Score a run directory (predicting ``data`` first), a results folder (against ``gt``),
    or an ISBI 2012 probability stack (against the label stack ``gt``); ``frames``: all,
    choose, report or FIRST-LAST. Writes evaluation.json/.csv and overlays; returns the rows,
    one per sequence."""
    from ctc_unet.device import resolve_device
    from ctc_unet.workflow.evaluate import evaluate_path

    path = path.root if isinstance(path, RunDir) else Path(path)
    rows, _ = evaluate_path(path, _path(gt), None if data is None else str(data),
                            list(sequences or []), frames, _path(out), resolve_device(device),
                            _path(data_dir))
    return rows


def submit(run_dirs: Sequence[str | Path | RunDir], data: str | Path | None, team: str, *,
           out: str | Path = "submissions", challenge: bool = True, device: str = "auto",
           wheel: str | Path | None = None,
           data_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Package a Cell Tracking Challenge submission of one run per dataset; ``data`` is the
    folder holding the challenge datasets, a dataset's folder, a dataset name (its challenge
    copy under the data root), or None (each run's dataset there). Returns the package
    folder and its zip."""
    from ctc_unet.device import resolve_device
    from ctc_unet.submission.package import package_submission

    return package_submission([_run(r) for r in run_dirs], data, team, Path(out),
                              resolve_device(device), False, _path(wheel), _path(data_dir),
                              challenge)


def export(run_dir: str | Path | RunDir, *, data: str | Path | None = None,
           out: str | Path | None = None, data_dir: str | Path | None = None) -> Path:
    """Write the run as a bioimage.io model package (a zip that deepImageJ, ilastik, QuPath
    and napari open); ``data``: the run's dataset (default: found under the data root), one
    frame of which becomes the package's test tensor. Needs ``pip install 'ctc-unet[export]'``.
    Returns the zip."""
    from ctc_unet.zoo.bioimageio import export_package

    return export_package(_run(run_dir), data, _path(out), _path(data_dir))


def track(masks: str | Path, out: str | Path, *,
          config: str | Path | None = None) -> tuple[Path, int, int]:
    """Link a folder of instance masks (maskNNN.tif or man_segNNN.tif, from any segmenter)
    into the CTC result folder ``out``; returns it, the number of tracks and of divisions."""
    from ctc_unet.config import load_config
    from ctc_unet.workflow.track import track_folder

    return track_folder(Path(masks), Path(out), load_config(None, _path(config)).tracking)


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


def _run(value: str | Path | RunDir) -> RunDir:
    return value if isinstance(value, RunDir) else RunDir(Path(value))
