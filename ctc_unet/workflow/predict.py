"""``predict``: a run's model over whole sequences, written as CTC results (or the ISBI 2012
probability stack); the model itself is ``ctc_unet.inference.predictor.Predictor``."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Sequence as Sequence_
from pathlib import Path

import numpy as np
import tifffile
import torch

from ctc_unet.data.ctc import (
    RESULT_WHAT,
    Sequence,
    children,
    count_divisions,
    is_result_folder,
    res_folder,
    write_results,
)
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import (
    atomic_write,
    check_apart,
    check_replaceable,
    holds_only,
    staged_dir,
)
from ctc_unet.inference.predictor import Predictor
from ctc_unet.rundir import RunDir
from ctc_unet.targets.frames import normalize_image
from ctc_unet.tracking.support import object_probability

logger = logging.getLogger(__name__)


def _progress(total: int, label: str, shown: bool):
    if not shown:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = Progress(label, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    progress.add_task(label, total=total)
    progress.start()
    return progress


def predict_sequence(pred: Predictor, seq: Sequence, out_root: Path, *,
                     save_probabilities: bool = False, progress: bool = False,
                     movie: bool = False) -> Path:
    """Segment and track every frame of ``seq``; write ``<out_root>/<XX>_RES`` (and, with
    ``save_probabilities``, ``<XX>_PROB``; with ``movie``, ``<XX>_tracks.gif``, written
    atomically once the results are in place). The folders are staged: on any error or signal
    neither appears and older ones stay as they were."""
    seq.check_frames()
    frames = sorted(seq.frames)
    # each file read once: the context window slides one frame per step
    read = functools.lru_cache(maxsize=2 * pred.context + 1)(seq.read_frame)
    instances, probs = [], []
    bar = _progress(len(frames), f"predict {seq.name}", progress)
    with contextlib.ExitStack() as stack:
        prob_dir = (stack.enter_context(staged_dir(Path(out_root) / f"{seq.name}_PROB",
                                                   is_prob_folder, PROB_WHAT))
                    if save_probabilities else None)
        try:
            for k, t in enumerate(frames):
                prob, labels = pred.segment(read, frames, t, str(seq.frames[t]))
                instances.append(labels)
                probs.append(object_probability(labels, prob))
                if prob_dir is not None:
                    tifffile.imwrite(prob_dir / f"prob{t:0{seq.digits}d}.tif", prob)
                if bar is not None:
                    bar.advance(0)
                elif (k + 1) % 10 == 0 or k + 1 == len(frames):
                    logger.info("%s: %d/%d frames", seq.name, k + 1, len(frames))
        finally:
            if bar is not None:
                bar.stop()
        masks, records = pred.link(instances, probs)
        res = write_results(out_root, seq.name, frames, masks, records=records, digits=seq.digits)
        if movie:
            _movie(seq, frames, masks, records, Path(out_root) / f"{seq.name}_tracks.gif")
    gaps = sum(len(kids) == 1 for kids in children(records).values())
    logger.info("%s: %d frames, %d tracks, %d divisions, %d bridged gaps -> %s", seq.name,
                len(frames), len(records), count_divisions(records), gaps, res)
    return res


PROB_WHAT = "probabilities (probNNN.tif)"


def is_prob_folder(folder: Path) -> bool:
    """A folder of probNNN.tif files only (an earlier --save-probabilities output)."""
    return holds_only(folder, lambda n: n.startswith("prob") and n.endswith(".tif"))


def check_outputs(run: RunDir, seqs: list[Sequence], out_root: Path,
                  save_probabilities: bool) -> None:
    """Before any work: no output folder of ``seqs`` under ``out_root`` is, lies inside or
    contains an input (the sequence's frames, the run's files), and each may replace only an
    earlier output of its kind."""
    for seq in seqs:
        res = res_folder(out_root, seq.name)
        outputs = [res] + ([Path(out_root) / f"{seq.name}_PROB"] if save_probabilities else [])
        for final in outputs:
            check_apart(final, [seq.root / seq.name, *run.inputs()])
        check_replaceable(res, is_result_folder, RESULT_WHAT)
        if save_probabilities:
            check_replaceable(outputs[1], is_prob_folder, PROB_WHAT)


def _movie(seq: Sequence, frames: list[int], masks: list, records: list, path: Path) -> None:
    from ctc_unet.movie import write_movie

    # frames are read again rather than kept from prediction: a sequence's frames at full
    # size would double the memory prediction needs
    images = (normalize_image(seq.read_frame(t)) for t in frames)
    logger.info("%s: movie of the tracks -> %s", seq.name,
                write_movie(images, masks, frames, records, path=path))


def predict_isbi_volume(pred: Predictor, volume: np.ndarray, out_path: Path) -> Path:
    """Cell-interior probability of each slice as a float32 stack (0 = membrane, 1 = cell,
    the convention of train-labels.tif), written atomically."""
    if volume.ndim != 3:
        raise CtcUnetError(f"expected a stack of slices, got shape {volume.shape}")
    stack = volume_probabilities(pred, volume, range(len(volume)))
    atomic_write(Path(out_path), lambda p: tifffile.imwrite(p, stack, photometric="minisblack"))
    return Path(out_path)


def volume_probabilities(pred: Predictor, volume: np.ndarray, slices: Sequence_[int]
                         ) -> np.ndarray:
    """Cell probability (len(slices), H, W) float32 of ``slices`` of a (Z, H, W) stack (the
    neighbouring slices are the temporal context of a network that reads some)."""
    everything = range(len(volume))
    return np.stack([pred.segment(volume.__getitem__, everything, z, f"slice {z}")[0]
                     for z in slices]).astype(np.float32)


def predict_run(run: RunDir, data: str, *, sequences: list[str], out: Path | None,
                challenge: bool, device: torch.device, tile: int | None, tta: bool | None,
                save_probabilities: bool, movie: bool, data_dir: Path | None,
                progress: bool) -> list[Path]:
    """Predict ``data`` (a folder or a dataset name) with ``run``: the CTC result folder of
    each sequence (default: all), or for ISBI 2012 the probability stack of ``test``
    (default) or ``train``; written under ``out`` (default ``<run>/results/<dataset>``),
    with ``movie`` an animated GIF of each sequence's tracks beside its folder."""
    from ctc_unet.data.ctc import open_ctc_dataset
    from ctc_unet.data.isbi import TEST_VOLUME, TRAIN_VOLUME, is_isbi_folder, read_stack
    from ctc_unet.data.locate import config_name, resolve_dataset

    run.load_config()  # a clear error when it is not a run directory
    root = resolve_dataset(data, data_dir, challenge=challenge)[0]
    out_root = out or run.root / "results" / root.name
    if is_isbi_folder(root):
        if movie:
            raise CtcUnetError(f"{root}: --movie shows tracks, and ISBI 2012 slices are not "
                               "tracked; it needs a CTC sequence")
        which = (sequences or ["test"])[0]
        if which not in ("test", "train") or len(sequences) > 1:
            raise CtcUnetError(f"ISBI 2012 sequence must be test or train, got "
                               f"{', '.join(sequences)!r}")
        source = root / (TEST_VOLUME if which == "test" else TRAIN_VOLUME)
        target = out_root / f"{which}-volume-probabilities.tif"
        check_apart(target, [source, *run.inputs()])
        volume = read_stack(source)
        pred = Predictor.from_run(run, device, volume.shape[1:], tile=tile, tta=tta)
        pred.check_data(config_name(root) or root.name)
        return [predict_isbi_volume(pred, volume, target)]
    dataset = open_ctc_dataset(root)
    seqs = ([dataset.sequence(s) for s in sequences] if sequences
            else list(dataset.sequences.values()))
    for seq in seqs:  # shapes and readable headers of every sequence before any work
        seq.check_frames()
    check_outputs(run, seqs, out_root, save_probabilities)
    pred = Predictor.from_run(run, device, seqs[0].first_shape, tile=tile, tta=tta)
    pred.check_data(config_name(root) or root.name)
    written = []
    for seq in seqs:
        written.append(predict_sequence(pred, seq, out_root, progress=progress, movie=movie,
                                        save_probabilities=save_probabilities))
        if out is None:  # the run's own results: evaluate may reuse them
            record_prediction(run, out_root, seq, pred)
    return written


PREDICTION_RECORD = "prediction.json"  # beside the XX_RES folders of <run>/results/<dataset>


def _model_state(run: RunDir, tta: bool) -> dict:
    """What a prediction of ``run`` depends on: its chosen checkpoint and post-processing
    files (as written: name, size, time) and whether TTA averaged the probabilities."""
    def stamp(path: Path) -> list | None:
        if not path.is_file():
            return None
        st = path.stat()
        return [path.name, st.st_size, st.st_mtime_ns]
    return {"checkpoint": stamp(run.chosen), "postprocess": stamp(run.postprocess),
            "config": stamp(run.config), "tta": bool(tta)}


def _frames_state(seq: Sequence) -> dict:
    """Which frames a prediction read: their folder, count, total size and latest time."""
    stats = [p.stat() for p in seq.frames.values()]
    return {"folder": str((seq.root / seq.name).resolve()), "frames": len(stats),
            "bytes": sum(st.st_size for st in stats),
            "latest": max(st.st_mtime_ns for st in stats)}


def record_prediction(run: RunDir, out_root: Path, seq: Sequence, pred: Predictor) -> None:
    """Note in ``out_root/prediction.json`` which model state predicted which frames."""
    from ctc_unet.files import write_text_atomic

    path = Path(out_root) / PREDICTION_RECORD
    try:
        records = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        records = {}
    records[seq.name] = {**_model_state(run, pred.cfg.inference.tta),
                         "data": _frames_state(seq)}
    write_text_atomic(path, json.dumps(records, indent=1))


def reusable(run: RunDir, out_root: Path, seqs: list[Sequence]) -> bool:
    """Whether ``out_root`` holds results of every sequence of ``seqs``, predicted from the
    same frames by the run as it is now (same checkpoint, post-processing and configuration,
    TTA as configured)."""
    path = Path(out_root) / PREDICTION_RECORD
    if not path.is_file():
        return False
    try:
        records = json.loads(path.read_text())
    except ValueError:
        return False
    now = _model_state(run, run.load_config().inference.tta)
    return all(records.get(s.name) == {**now, "data": _frames_state(s)}
               and res_folder(out_root, s.name).is_dir() for s in seqs)
