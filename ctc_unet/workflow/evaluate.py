"""``evaluate``: select the frames to score (``ctc_unet.evaluation.selection``), predict them
when given a run, check every input, score them (CTC measures through py-ctcmetrics, or the
ISBI 2012 measures) and write the reports (``ctc_unet.workflow.reports``) into one staged
folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ctc_unet.evaluation.selection import frame_selection
from ctc_unet.rundir import RunDir

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


EVALUATION_WHAT = "an evaluation (evaluation.json, CSVs, figures)"


def is_evaluation_folder(folder: Path) -> bool:
    """A folder an earlier ``evaluate`` wrote (it holds evaluation.json or .csv)."""
    return any((Path(folder) / name).is_file() for name in ("evaluation.json", "evaluation.csv"))


def evaluate_ctc_run(run: RunDir | None, path: Path, root: Path, *,
                     sequences: list[str] | None, frames: str, out: Path | None,
                     device: torch.device, progress: bool = False, repredict: bool = False
                     ) -> tuple[list[dict], Path]:
    """Score CTC results against the GT of ``root`` (predicting them first when ``run`` is a
    RunDir) on the frames ``frames`` selects; returns the rows and the folder holding
    evaluation.json/.csv, per-sequence CSVs and figures.

    Everything a user could get wrong (sequences, frame blocks, the reference, the output
    location, a given result) is checked before anything is predicted or written; the whole
    output is staged and published at the end, so a failure leaves it as it was."""
    from ctc_unet.data.ctc import open_ctc_dataset, res_folder
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.evaluation.ctc import check_reference, check_result, evaluate_ctc_sequence
    from ctc_unet.evaluation.report import write_report
    from ctc_unet.files import check_apart, check_replaceable, staged_dir
    from ctc_unet.workflow.reports import ScoredSequence, write_sequence_reports

    dataset = open_ctc_dataset(root)
    seqs = [dataset.sequence(s) for s in sequences] if sequences else [
        s for s in dataset.sequences.values() if s.gt_tra and s.tracks_file]
    for s in seqs:
        if not (s.gt_tra and s.tracks_file):
            raise CtcUnetError(f"{root}: sequence {s.name} has no ground truth (TRA) "
                               "to evaluate against")
    if not seqs:
        raise CtcUnetError(f"{root}: no sequence with ground truth (XX_GT/TRA)")
    selection = frame_selection(run, frames, [s.name for s in seqs])
    seqs = [s for s in seqs if s.name in selection]
    for s in seqs:
        _check_block(s, selection[s.name][0], frames)
        check_reference(s)
    suffix = "" if frames == "all" else f"-{frames}"
    res_root = run.root / "results" / root.name if run is not None else Path(path)
    dest = Path(out or (run.root / "evaluation" / f"{root.name}{suffix}" if run is not None
                        else res_root / "evaluation"))
    inputs = [root / f"{s.name}{part}" for s in seqs for part in ("", "_GT", "_ST")]
    if run is None:
        inputs += [res_folder(res_root, s.name) for s in seqs]
    check_apart(dest, [*inputs, *(run.inputs() if run is not None else [])])
    check_replaceable(dest, is_evaluation_folder, EVALUATION_WHAT)
    if run is not None:
        _predict_for_evaluation(run, root, seqs, res_root, device=device, progress=progress,
                                repredict=repredict)
    for s in seqs:  # every result readable and valid before anything is scored or written
        res = res_folder(res_root, s.name)
        if not res.is_dir():
            raise CtcUnetError(f"{res}: results folder not found")
        check_result(res, root / f"{s.name}_GT")
    rows = []
    with staged_dir(dest, is_evaluation_folder, EVALUATION_WHAT) as stage:
        for s in seqs:
            res = res_folder(res_root, s.name)
            block, seg_frames = selection[s.name]
            st = root / f"{s.name}_ST"
            scores = evaluate_ctc_sequence(res, root / f"{s.name}_GT", block, digits=s.digits,
                                           st_dir=st if st.is_dir() else None,
                                           seg_frames=seg_frames, checked=True)
            shown = "all" if block is None else f"{block[0]}-{block[1]}"
            rows.append({"dataset": root.name, "sequence": s.name, "seg_frames": frames,
                         "block": shown, **scores})
            write_sequence_reports(ScoredSequence.load(s, res, block=block,
                                                       seg_frames=seg_frames,
                                                       dataset=root.name), stage)
        write_report(rows, stage)
    return rows, dest


def _predict_for_evaluation(run: RunDir, root: Path, seqs: list, res_root: Path, *,
                            device: torch.device, progress: bool, repredict: bool) -> None:
    """Predict ``seqs`` into the run's results folder ``res_root``, unless it holds results
    of every one of them from the run as it is now (and ``repredict`` is not asked)."""
    from ctc_unet.data.locate import config_name
    from ctc_unet.inference.predictor import Predictor
    from ctc_unet.workflow.predict import (
        check_outputs,
        predict_sequence,
        record_prediction,
        reusable,
    )

    if not repredict and reusable(run, res_root, seqs):
        logger.info("using the results in %s, predicted by the run as it is now (--repredict "
                    "predicts again)", res_root)
        return
    check_outputs(run, seqs, res_root, False)
    pred = Predictor.from_run(run, device, seqs[0].first_shape)
    pred.check_data(config_name(root) or root.name)
    for s in seqs:
        predict_sequence(pred, s, res_root, progress=progress)
        record_prediction(run, res_root, s, pred)


def _check_block(seq, block: tuple[int, int] | None, frames: str) -> None:
    """The scored block lies within the sequence's frames (checked before any prediction)."""
    from ctc_unet.errors import CtcUnetError

    if block is not None and not (min(seq.frames) <= block[0] and block[1] <= max(seq.frames)):
        raise CtcUnetError(f"--frames {frames}: the block {block[0]}-{block[1]} is not within "
                           f"the frames of {seq.root / seq.name} ({min(seq.frames)}-"
                           f"{max(seq.frames)})")


def evaluate_isbi_run(run: RunDir, root: Path, device: torch.device) -> list[dict]:
    """Predict the run's held-out ISBI 2012 slices with and without TTA and score them."""
    from dataclasses import replace

    from ctc_unet.data.isbi import read_isbi2012
    from ctc_unet.evaluation.isbi import ISBI_COLUMNS, isbi_measures
    from ctc_unet.inference.predictor import Predictor
    from ctc_unet.workflow.predict import volume_probabilities

    data = read_isbi2012(root)
    split = run.load_split()
    # the reporting slices; runs from before the held-out protocol only have validation ones
    slices = ([r.t for r in split.report] or [r.t for r in split.val]
              or list(range(data.train_volume.shape[0])))
    chose = ",".join(str(r.t) for r in split.val) if split.report else "same slices"
    pred = Predictor.from_run(run, device, data.train_volume.shape[1:])
    rows = []
    for tta in (False, True):
        p = replace(pred, cfg=replace(pred.cfg, inference=replace(pred.cfg.inference, tta=tta)))
        prob = volume_probabilities(p, data.train_volume, slices)
        m = isbi_measures(prob, data.train_labels[slices])
        rows.append({"dataset": "ISBI2012", "slices": f"{slices[0]}-{slices[-1]}",
                     "chosen_on": chose, "tta": pred.cfg.inference.tta_count if tta else 1,
                     **{k: m[k] for k in ISBI_COLUMNS}})
    return rows


def evaluate_isbi_files(prob_path: Path, labels_path: Path,
                        slices: tuple[int, int] | None = None) -> list[dict]:
    """Score an ISBI 2012-style probability stack (1 = cell; integer stacks are scaled by
    their type's maximum) against a label stack (> 0 = cell), optionally on slices
    FIRST..LAST of both."""
    import numpy as np

    from ctc_unet.data.isbi import read_stack
    from ctc_unet.errors import DataError
    from ctc_unet.evaluation.isbi import ISBI_COLUMNS, isbi_measures

    prob, labels = read_stack(Path(prob_path)), read_stack(Path(labels_path))
    if prob.shape != labels.shape:
        raise DataError(f"{prob_path}: shape {prob.shape} differs from the labels' "
                        f"{labels.shape} ({labels_path})")
    if np.issubdtype(prob.dtype, np.integer):
        prob = prob.astype(np.float32) / float(np.iinfo(prob.dtype).max)
    elif not np.isfinite(prob).all() or prob.min() < 0 or prob.max() > 1:
        raise DataError(f"{prob_path}: probabilities must be finite and lie in [0, 1]")
    first, last = slices if slices is not None else (0, prob.shape[0] - 1)
    if not 0 <= first <= last < prob.shape[0]:
        raise DataError(f"{prob_path}: slices {first}-{last} outside 0-{prob.shape[0] - 1}")
    m = isbi_measures(prob[first:last + 1], labels[first:last + 1])
    return [{"dataset": "ISBI2012", "prediction": Path(prob_path).name,
             "slices": f"{first}-{last}", **{k: m[k] for k in ISBI_COLUMNS}}]


def _publish(rows: list[dict], dest: Path, inputs: list[Path]) -> Path:
    """evaluation.json/.csv of ``rows`` into ``dest`` (checked against ``inputs``, staged)."""
    from ctc_unet.evaluation.report import write_report
    from ctc_unet.files import check_apart, staged_dir

    check_apart(dest, inputs)
    with staged_dir(dest, is_evaluation_folder, EVALUATION_WHAT) as stage:
        write_report(rows, stage)
    return dest


def report_files(dest: Path) -> tuple[Path, Path]:
    """The two tables an evaluation folder holds."""
    return Path(dest) / "evaluation.json", Path(dest) / "evaluation.csv"


def evaluate_path(path: Path, *, gt: Path | None, data: str | None, sequences: list[str],
                  frames: str, out: Path | None, device: torch.device,
                  data_dir: Path | None, progress: bool, repredict: bool = False
                  ) -> tuple[list[dict], tuple[Path, Path]]:
    """Evaluate what ``path`` is: an ISBI 2012-style probability stack (against the label
    stack ``gt``), a run directory (predicting ``data`` first), or a results folder holding
    XX_RES (against the dataset folder ``gt``). Writes evaluation.json/.csv (and overlays)
    into one staged folder; returns the rows and the two tables."""
    from ctc_unet.data.isbi import TRAIN_LABELS, TRAIN_VOLUME, is_isbi_folder
    from ctc_unet.data.locate import resolve_dataset
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.files import check_apart, check_replaceable

    path = Path(path)
    if path.is_file():
        if gt is None or not Path(gt).is_file():
            raise CtcUnetError(f"{path}: give --gt LABELS.tif, the label stack to score "
                               "this probability stack against")
        dest = Path(out or path.parent / "evaluation")
        check_apart(dest, [path, Path(gt)])
        check_replaceable(dest, is_evaluation_folder, EVALUATION_WHAT)
        block = None if frames == "all" else frame_selection(None, frames, ["-"])["-"][0]
        rows = evaluate_isbi_files(path, Path(gt), block)
        return rows, report_files(_publish(rows, dest, [path, Path(gt)]))
    run = RunDir(path)
    is_run = run.config.is_file()
    if is_run:
        data = run.dataset(data)
        if not data:
            raise CtcUnetError(f"{path} is a run directory that does not say what it was "
                               "trained on: give --data DATASET to predict and evaluate")
    if not is_run and gt is None:
        raise CtcUnetError(f"{path}: give --gt DATASET_DIR with the XX_GT folders (or pass a "
                           "run directory with --data)")
    root = resolve_dataset(data, data_dir)[0] if is_run else Path(gt)
    if is_run and is_isbi_folder(root):
        dest = Path(out or run.root / "evaluation" / root.name)
        inputs = [root / TRAIN_VOLUME, root / TRAIN_LABELS, *run.inputs()]
        check_apart(dest, inputs)
        check_replaceable(dest, is_evaluation_folder, EVALUATION_WHAT)
        rows = evaluate_isbi_run(run, root, device)
        return rows, report_files(_publish(rows, dest, inputs))
    rows, dest = evaluate_ctc_run(run if is_run else None, path, root,
                                  sequences=sequences or None, frames=frames, out=out,
                                  device=device, progress=progress, repredict=repredict)
    return rows, report_files(dest)
