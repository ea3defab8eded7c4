"""The Python API: every ``ctc-unet`` command as a function for notebooks and scripts (the
command line calls these, by keyword), and a trained model that segments and tracks arrays.

    import ctc_unet

    model = ctc_unet.load_model("runs/DIC-C2DH-HeLa-cpu")
    prob = model.predict_probabilities(image)      # (H, W) float32, P(cell)
    labels = model.predict_instances(image)        # (H, W) uint16 instances
    masks, tracks = model.track(frames)            # tracked labels + res_track.txt records

    run = ctc_unet.train("DIC-HeLa", profile="cpu")            # -> RunDir
    final = ctc_unet.refit(run)      # -> RUN/refit, on every annotated frame; from now on
                                     #    predict, submit, export, load_model use it (model=)
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
from ctc_unet.rundir import RunDir, check_model, pick_model

__all__ = ["CtcUnetError", "Demo", "Evaluation", "Model", "RunDir", "TrackRecord", "datasets",
           "demo", "download", "environment", "evaluate", "export", "inspect", "link",
           "load_model", "predict", "read_reference", "read_result", "refit", "score_masks",
           "score_tracks",
           "submit", "targets", "track", "train", "write_result"]


class Model:
    """A trained network with its chosen post-processing and tracking settings, from a run
    directory (``run``) or an exported package (``source``): the public face of
    ``ctc_unet.inference.predictor.Predictor``."""

    def __init__(self, run: RunDir | None, predictor: Predictor, source: Path | None = None
                 ) -> None:
        self.run = run
        self.predictor = predictor
        self.source = source or (run.root if run is not None else None)

    def __repr__(self) -> str:
        mc, post = self.config.model, self.predictor.post
        return (f"Model({str(self.source)!r}: U-Net depth {mc.depth}, {mc.base_channels} "
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


def load_model(source: str | Path | RunDir, *, model: str = "auto", device: str = "auto",
               frame_shape: tuple[int, int] = (512, 512), tile: int | None = None,
               tta: bool | None = None) -> Model:
    """A trained model, ready to predict: a run directory's best checkpoint (else its last),
    or an exported bioimage.io package (``ctc-unet export``: a .zip or its folder), each with
    its chosen post-processing. ``model``: which of a run's models (auto, refit, protocol:
    ``ctc_unet.rundir.pick_model``). ``frame_shape`` sizes the automatic tile; ``tile`` /
    ``tta`` override the configuration."""
    from ctc_unet.zoo.package import is_package, read_package, read_track_support

    if not isinstance(source, RunDir) and is_package(Path(source).expanduser()):
        path = Path(source).expanduser()
        _one_model(path, model)
        cfg, post, state = read_package(path)
        pred = Predictor.from_parts(cfg, post, state, device=resolve_device(device),
                                    frame_shape=frame_shape, source=path, tile=tile, tta=tta)
        if cfg.tracking.track_support:
            pred.support = read_track_support(path)
        return Model(None, pred, source=path)
    run = _model(source, model)
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
          data_dir: str | Path | None = None, progress: bool | None = None,
          refit: bool | None = None) -> RunDir:
    """Train the paper's U-Net on ``dataset`` (a name or alias, downloaded when missing, or a
    folder) and return the run directory (config, split, checkpoints, metrics, train.log,
    the chosen post-processing). Then, where ``train.refit`` asks for it (``refit``: True
    always, False never), the same recipe again on every annotated frame into ``RUN/refit``,
    the model ``predict`` then uses. A stop signal checkpoints (``run.load_status()``, or the
    refit's, says ``interrupted``); ``resume=True`` goes on."""
    from ctc_unet.workflow.refit import train_and_refit

    return train_and_refit(str(dataset), config=_path(config), profile=profile,
                           data_dir=_path(data_dir), run_dir=_path(run_dir),
                           iterations=iterations, seed=seed, device=resolve_device(device),
                           resume=resume, progress=_shown(progress), refit=refit)[0].run


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


def predict(run_dir: str | Path | RunDir, data: str | Path, *, model: str = "auto",
            sequences: Sequence[str] | None = None, out: str | Path | None = None,
            challenge: bool = False, device: str = "auto", tile: int | None = None,
            tta: bool | None = None, save_probabilities: bool = False, movie: bool = False,
            data_dir: str | Path | None = None, progress: bool | None = None) -> list[Path]:
    """Segment and track the sequences of ``data`` (a folder or a dataset name; its challenge
    copy with ``challenge``) into CTC result folders ``XX_RES``; returns their paths (for
    ISBI 2012, the probability stack). ``model``: which of the run's models (auto: its
    refit where one has finished). ``movie``: also ``XX_tracks.gif`` beside each."""
    from ctc_unet.workflow.predict import predict_run

    return predict_run(_model(run_dir, model), str(data), sequences=list(sequences or []),
                       out=_path(out), challenge=challenge, device=resolve_device(device),
                       tile=tile, tta=tta, save_probabilities=save_probabilities, movie=movie,
                       data_dir=_path(data_dir), progress=_shown(progress))


def track(masks: str | Path, out: str | Path, *, config: str | Path | None = None,
          learn_from: str | Path | None = None) -> tuple[Path, int, int]:
    """Link a folder of instance masks (maskNNN.tif or man_segNNN.tif, from any segmenter)
    into the CTC result folder ``out``; returns it, the number of tracks and of divisions.
    ``learn_from``: a CTC training dataset whose reference masks and tracks set the division
    threshold (for masks of the same kind, e.g. reference-quality masks)."""
    from ctc_unet.config import load_config
    from ctc_unet.workflow.track import track_folder

    return track_folder(Path(masks), Path(out), load_config(None, _path(config)).tracking,
                        learn_from=_path(learn_from))


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
             repredict: bool = False, data_dir: str | Path | None = None,
             progress: bool | None = None) -> Evaluation:
    """Score a run directory (on ``data``, default: the folder it was trained on; its
    results are predicted first, or reused when the run predicted them as it is now and
    ``repredict`` is not set), a results folder (against ``gt``), or an ISBI 2012
    probability stack (against the label stack ``gt``); ``frames``: all, choose, report or
    FIRST-LAST. Writes evaluation.json/.csv, per-sequence CSVs and figures into one folder;
    returns the rows, one per sequence."""
    from ctc_unet.workflow.evaluate import evaluate_path

    rows, files = evaluate_path(_run(path).root, gt=_path(gt),
                                data=None if data is None else str(data),
                                sequences=list(sequences or []), frames=frames, out=_path(out),
                                device=resolve_device(device), data_dir=_path(data_dir),
                                progress=_shown(progress), repredict=repredict)
    return Evaluation(rows, files)


def submit(run_dirs: Sequence[str | Path | RunDir], data: str | Path | None = None, *,
           team: str, model: str = "auto", out: str | Path = "submissions", challenge: bool = True,
           device: str = "auto", wheel: str | Path | None = None,
           data_dir: str | Path | None = None,
           progress: bool | None = None) -> tuple[Path, Path]:
    """Package a Cell Tracking Challenge submission of one run per dataset; ``data`` is the
    folder holding the challenge datasets, a dataset's folder, a dataset name (its challenge
    copy under the data root), or None (each run's dataset there); ``model``: which of each
    run's models (auto: its refit where one has finished). Returns the package folder and its
    zip."""
    from ctc_unet.submission.package import package_submission

    return package_submission([_model(r, model) for r in run_dirs], data=data, team=team,
                              out=Path(out), device=resolve_device(device),
                              progress=_shown(progress), wheel=_path(wheel),
                              data_dir=_path(data_dir), challenge=challenge)


def export(run_dir: str | Path | RunDir, *, model: str = "auto",
           data: str | Path | None = None, out: str | Path | None = None,
           data_dir: str | Path | None = None) -> Path:
    """Write the run as a bioimage.io model package (a zip that deepImageJ, ilastik, QuPath
    and napari open); ``data``: the run's dataset (default: found under the data root), one
    frame of which becomes the package's test tensor; ``model``: which of the run's models
    (auto: its refit where one has finished). Needs ``pip install 'ctc-unet[export]'``.
    Returns the zip."""
    from ctc_unet.zoo.bioimageio import export_package

    return export_package(_model(run_dir, model), data=data, out=_path(out),
                          data_dir=_path(data_dir))


# --------------------------------------------------------------------------- arrays


def link(masks: Sequence[np.ndarray], *, config: str | Path | None = None,
         learn_from: str | Path | None = None) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Link per-frame instance masks (T label arrays (H, W) from any segmenter, any ids, 0 =
    background) into tracks, with the tracking settings of ``configs/defaults.yaml`` (or the
    ``tracking`` section of ``config``): tracked label images (a track keeps its label) and
    the track records (frames = list positions). ``learn_from`` as for ``track``."""
    from ctc_unet.config import load_config
    from ctc_unet.tracking.linking import track_instances
    from ctc_unet.workflow.track import learned_config

    arrays = [np.asarray(m) for m in masks]
    for t, m in enumerate(arrays):
        if m.ndim != 2 or m.dtype.kind not in "iub":
            raise CtcUnetError(f"masks[{t}]: expected a 2D integer label image, got "
                               f"{m.dtype} {m.shape}")
    if not arrays or not any(m.any() for m in arrays):
        raise CtcUnetError("no objects in any of the masks: there is nothing to link")
    cfg = learned_config(load_config(None, _path(config)).tracking, _path(learn_from))
    return track_instances(arrays, cfg)


def score_masks(reference: np.ndarray | Sequence[np.ndarray],
                result: np.ndarray | Sequence[np.ndarray], *,
                markers: np.ndarray | Sequence[np.ndarray] | None = None) -> dict:
    """SEG and DET of label arrays (one frame or lists of frames) against a reference, with
    the counts behind DET and the match of every reference object (``matches``); see
    ``ctc_unet.evaluation.arrays.score_masks``."""
    from ctc_unet.evaluation.arrays import score_masks as score

    return score(reference, result, markers=markers)


def score_tracks(reference_masks: Sequence[np.ndarray],
                 reference_records: Sequence[TrackRecord], masks: Sequence[np.ndarray],
                 records: Sequence[TrackRecord], *,
                 markers: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """The CTC measures (TRA, DET, SEG, CT, LNK, BIO, CHOTA, ...) of a tracked clip against a
    reference clip, computed by py-ctcmetrics on these frames (records: frames = list
    positions, as ``Model.track`` and ``link`` return them)."""
    from ctc_unet.evaluation.arrays import score_tracks as score

    return score(reference_masks, reference_records, masks, records, markers=markers)


def write_result(folder: str | Path, masks: Sequence[np.ndarray],
                 records: Sequence[TrackRecord], *, frames: Sequence[int] | None = None,
                 digits: int = 3) -> Path:
    """Write a CTC result folder (``maskNNN.tif`` + ``res_track.txt``; records in list
    positions, written with the frame numbers ``frames``, default 0..T-1: the challenge's
    validator, py-ctcmetrics, which checks the folder before it is moved into place, wants a
    sequence's results numbered from 0)."""
    from ctc_unet.data.ctc import write_result_folder
    from ctc_unet.evaluation.ctc import ctcmetrics_problem

    times = list(range(len(masks))) if frames is None else [int(t) for t in frames]
    if len(times) != len(masks):
        raise CtcUnetError(f"{len(masks)} masks but {len(times)} frame numbers")

    def check(staging: Path) -> None:
        problem = ctcmetrics_problem(staging, Path(folder))
        if problem is not None:
            raise CtcUnetError(f"{folder}: not a valid CTC result ({problem}); nothing was "
                               "written")

    return write_result_folder(Path(folder), times, [np.asarray(m) for m in masks],
                               list(records), digits=digits, check=check)


def read_result(folder: str | Path) -> tuple[list[np.ndarray], list[TrackRecord], list[int]]:
    """A CTC result folder (or any folder of maskNNN.tif / man_segNNN.tif with res_track.txt
    or man_track.txt): the masks, the track records in list positions, and the frame
    numbers of the files (``write_result(folder, *read_result(other))`` with
    ``frames=`` the third copies a result)."""
    from dataclasses import replace

    from ctc_unet.data.ctc import parse_man_track
    from ctc_unet.workflow.track import read_mask_folder

    folder = Path(folder).expanduser()
    frames, masks, _ = read_mask_folder(folder)
    track_file = next((folder / n for n in ("res_track.txt", "man_track.txt")
                       if (folder / n).is_file()), folder / "res_track.txt")
    index = {t: i for i, t in enumerate(frames)}
    records = []
    for r in parse_man_track(track_file):
        if r.begin not in index or r.end not in index:
            raise CtcUnetError(f"{track_file}: track {r.label} spans frames {r.begin}-{r.end}, "
                               f"but the masks cover {frames[0]}-{frames[-1]}")
        records.append(replace(r, begin=index[r.begin], end=index[r.end]))
    return masks, records, frames


def read_reference(dataset: str | Path, sequence: str = "01", *,
                   frames: Sequence[int] | None = None, data_dir: str | Path | None = None
                   ) -> tuple[list[np.ndarray], list[TrackRecord], list[int]]:
    """A sequence's tracking reference (its TRA markers and man_track.txt) over ``frames``
    (default: all), in the form ``score_tracks`` takes: the markers, the records clipped to
    those frames in list positions, and the frame numbers."""
    from ctc_unet.data.ctc import open_ctc_dataset
    from ctc_unet.data.locate import resolve_dataset
    from ctc_unet.evaluation.clip import clip_tracks

    root = resolve_dataset(str(dataset), _path(data_dir))[0]
    seq = open_ctc_dataset(root).sequence(sequence)
    times = sorted(seq.gt_tra) if frames is None else [int(t) for t in frames]
    missing = [t for t in times if t not in seq.gt_tra]
    if not times or missing or times != list(range(times[0], times[-1] + 1)):
        raise CtcUnetError(f"{root / (seq.name + '_GT') / 'TRA'}: give consecutive frames "
                           f"with markers (missing: {missing[:5] or 'none given'})")
    records = clip_tracks(seq.tracks(), times[0], times[-1])
    return [seq.read_gt_tra(t) for t in times], records, times


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
    """Progress bars: as asked, else at a terminal or in a Jupyter notebook (rich draws its
    bars in either)."""
    if progress is not None:
        return bool(progress)
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


def _run(value: str | Path | RunDir) -> RunDir:
    """A run directory; an exported package becomes the run directory made from it."""
    if isinstance(value, RunDir):
        return value
    from ctc_unet.zoo.package import is_package, package_run

    path = Path(value).expanduser()
    return package_run(path) if is_package(path) else RunDir(path)


def _model(value: str | Path | RunDir, which: str) -> RunDir:
    """The run directory of a run's model ``which`` (``ctc_unet.rundir.pick_model``); an
    exported package holds one model."""
    if not isinstance(value, RunDir):
        from ctc_unet.zoo.package import is_package

        if is_package(Path(value).expanduser()):
            _one_model(Path(value).expanduser(), which)
            return _run(value)
    return pick_model(_run(value), which)


def _one_model(package: Path, which: str) -> None:
    check_model(which)
    if which != "auto":
        raise CtcUnetError(f"{package}: a model package holds one model; --model {which} "
                           "chooses among a run directory's models")


def _frame(image: np.ndarray | str | Path, frames: int = 1) -> np.ndarray:
    """A raw (H, W) gray-value frame, or a (frames, H, W) stack of them, checked; a path is
    read as a TIFF file."""
    if isinstance(image, str | Path):
        from ctc_unet.data.images import read_tiff

        path = Path(image).expanduser()
        if not path.is_file():
            raise CtcUnetError(f"{path}: no such image file (give an array or a TIFF path)")
        image = read_tiff(path)
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
