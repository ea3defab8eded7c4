"""CTC measures through py-ctcmetrics (the challenge's own Python implementation).

Per sequence: SEG (the paper's "IOU" of Table 2), DET, TRA, OP_CSB = (SEG + DET) / 2,
OP_CTB = (SEG + TRA) / 2, and the biologically inspired measures CT (complete tracks), TF
(track fractions), BC(i) (branching correctness, divisions matched within i frames) and CCA
(cell-cycle accuracy); the Cell Linking Benchmark's LNK (the linking part of the AOGM), BIO(0)
(mean of CT, TF, BC(0) and CCA, those defined) and OP_CLB(0) = (LNK + BIO(0)) / 2, and CHOTA
(cell-specific HOTA); plus the number of divisions in the result and in the reference.
Everything can be restricted to a block of frames (``first..last``): result and ground truth
are clipped to it (``ctc_unet.evaluation.clip``) and py-ctcmetrics scores the clipped pair.
SEG can also be taken against the silver truth (``SEG_ST``), a proxy where GT is scarce.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from pathlib import Path

from ctc_unet.data.ctc import (
    MASK_RE,
    TRA_RE,
    count_divisions,
    indexed_files,
    parse_man_track,
)
from ctc_unet.errors import DataError
from ctc_unet.evaluation.clip import clip_ground_truth, clip_results

logger = logging.getLogger(__name__)

CTC_MEASURES = ("SEG", "DET", "TRA", "OP_CSB", "OP_CTB", "CT", "TF", "BC(0)", "BC(1)",
                "BC(2)", "BC(3)", "CCA", "LNK", "BIO(0)", "OP_CLB(0)", "CHOTA")
# "BIO" is asked for by name: py-ctcmetrics computes OP_CLB(i) only when the result holds a
# "BIO" key (scripts/evaluate.py, calculate_metrics); the values are BIO(i)
_REQUEST = ["Valid", "SEG", "DET", "TRA", "CT", "TF", "BC", "CCA", "LNK", "BIO", "CHOTA"]


def _py_ctcmetrics(res: Path, gt: Path, metrics: list[str]) -> dict:
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            return evaluate_sequence(str(res), str(gt), metrics=list(metrics), threads=1)
        except (AssertionError, ValueError, KeyError, IndexError) as exc:
            raise DataError(f"{res}: py-ctcmetrics could not score it against {gt} "
                            f"({type(exc).__name__}: {exc})") from exc


def divisions_in(track_file: Path) -> int:
    """Tracks with two or more daughters in res_track.txt or man_track.txt."""
    return count_divisions(parse_man_track(track_file))


EMPTY_RESULT = "No tracks in result."  # py-ctcmetrics' words for a result without any cell


def result_problem(res_dir: Path) -> str | None:
    """Why a CTC result folder from elsewhere is not valid, or None: every mask readable as a
    label image and res_track.txt parseable (else DataError naming the file), then
    ``ctcmetrics_problem``."""
    from ctc_unet.data.images import check_labels, read_tiff

    res_dir = Path(res_dir)
    masks = [p for _, p in sorted(indexed_files(res_dir, MASK_RE).items())]
    if not masks:
        return f"{res_dir}: no maskNNN.tif files"
    shape = None
    for path in masks:
        shape = check_labels(read_tiff(path), path, shape).shape
    parse_man_track(res_dir / "res_track.txt")
    return ctcmetrics_problem(res_dir)


def ctcmetrics_problem(res_dir: Path) -> str | None:
    """py-ctcmetrics' ``validate_sequence`` verdict on a CTC result folder whose files are
    readable (the challenge's rules: labels in the masks match res_track.txt frame by frame,
    parents end before their daughters begin, no empty result): None when valid, else its
    first complaint."""
    from ctc_metrics.scripts.validate import validate_sequence

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            valid = validate_sequence(str(res_dir), threads=1).get("Valid") == 1
        except (AssertionError, ValueError, KeyError, IndexError) as exc:
            return f"py-ctcmetrics: {type(exc).__name__} {exc}".strip()
    if valid:
        return None
    reasons = [str(x.message) for x in w if issubclass(x.category, UserWarning)]
    return reasons[0] if reasons else "py-ctcmetrics rejects it"


def _check_inputs(res_dir: Path, gt_dir: Path) -> None:
    for need in (res_dir / "res_track.txt", gt_dir / "TRA" / "man_track.txt"):
        if not need.is_file():
            raise DataError(f"{need}: file not found")
    n_res = len(indexed_files(res_dir, MASK_RE))
    n_tra = len(indexed_files(gt_dir / "TRA", TRA_RE))
    if n_res != n_tra:
        raise DataError(f"{res_dir}: {n_res} result masks but {n_tra} frames in "
                        f"{gt_dir / 'TRA'}")


def evaluate_ctc_sequence(res_dir: Path, gt_dir: Path, frames: tuple[int, int] | None = None,
                          digits: int = 3, st_dir: Path | None = None,
                          seg_frames: set[int] | None = None) -> dict[str, float]:
    """CTC measures of one ``XX_RES`` folder against its ``XX_GT`` folder.

    frames: (first, last) to score only that block (renumbered from 0); digits: the mask
    files' digit count; st_dir: the ``XX_ST`` folder, to add SEG against the silver truth
    (``SEG_ST``); seg_frames: count SEG only on these GT frames. Returns the measures present
    (SEG only where the block has GT SEG frames) and the division counts.
    """
    res_dir, gt_dir = Path(res_dir), Path(gt_dir)
    _check_inputs(res_dir, gt_dir)
    problem = result_problem(res_dir)
    if problem is not None and problem != EMPTY_RESULT:  # an empty result scores as invalid
        raise DataError(f"{res_dir / 'res_track.txt'}: not a valid CTC result, the challenge "
                        f"would reject it ({problem})")
    n = len(indexed_files(res_dir, MASK_RE))
    first, last = frames if frames is not None else (0, n - 1)
    with tempfile.TemporaryDirectory() as tmp:
        res = clip_results(res_dir, first, last, digits, Path(tmp) / "RES")
        gt = clip_ground_truth(gt_dir, first, last, Path(tmp) / "GT", seg_frames=seg_frames)
        has_seg = any((gt / "SEG").iterdir())
        request = [m for m in _REQUEST if m != "SEG" or has_seg]
        results = _py_ctcmetrics(res, gt, request)
        out = {k: float(results[k]) for k in CTC_MEASURES if results.get(k) is not None}
        out["Valid"] = float(results.get("Valid", 1))
        if has_seg:
            out["n_gt_seg"] = len(list((gt / "SEG").iterdir()))
        if st_dir is not None and (st_dir / "SEG").is_dir():
            st = clip_ground_truth(gt_dir, first, last, Path(tmp) / "ST", st_dir / "SEG")
            if any((st / "SEG").iterdir()):
                out["SEG_ST"] = float(_py_ctcmetrics(res, st, ["SEG"])["SEG"])
                out["n_st_seg"] = len(list((st / "SEG").iterdir()))
        out["divisions"] = divisions_in(res / "res_track.txt")
        out["divisions_ref"] = divisions_in(gt / "TRA" / "man_track.txt")
    return out
