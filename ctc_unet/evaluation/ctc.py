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
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ctc_unet.data.ctc import (
    MASK_RE,
    TRA_RE,
    Sequence,
    count_divisions,
    indexed_files,
    parse_man_track,
)
from ctc_unet.errors import DataError
from ctc_unet.evaluation.clip import clip_ground_truth, clip_results

logger = logging.getLogger(__name__)

CTC_MEASURES = ("SEG", "DET", "TRA", "OP_CSB", "OP_CTB", "CT", "TF", "BC(0)", "BC(1)",
                "BC(2)", "BC(3)", "CCA", "LNK", "BIO(0)", "OP_CLB(0)", "CHOTA")
# what DET and TRA charge, as py-ctcmetrics counts it for TRA (scripts/evaluate.py): reference
# markers no object matches (FN, weight 10), objects on no marker (FP, 1), split operations for
# objects over several markers (NS, 5), edges to delete (ED, 1), to add (EA, 1.5) and whose
# semantics (link or division) to change (EC, 1)
AOGM_COUNTS = ("AOGM_FN", "AOGM_FP", "AOGM_NS", "AOGM_ED", "AOGM_EA", "AOGM_EC")
# "BIO" is asked for by name: py-ctcmetrics computes OP_CLB(i) only when the result holds a
# "BIO" key (scripts/evaluate.py, calculate_metrics); the values are BIO(i)
_REQUEST = ["Valid", "SEG", "DET", "TRA", "CT", "TF", "BC", "CCA", "LNK", "BIO", "CHOTA"]


def _py_ctcmetrics(res: Path, gt: Path, metrics: list[str], shown: tuple[Path, Path]
                   ) -> dict:
    """py-ctcmetrics' measures of the (clipped) ``res`` against ``gt``; an error it still
    raises names the user's folders ``shown`` (result, reference), not the clipped copies."""
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            return evaluate_sequence(str(res), str(gt), metrics=list(metrics), threads=1)
        except (AssertionError, ValueError, KeyError, IndexError) as exc:
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise DataError(f"{shown[0]}: py-ctcmetrics could not score it against "
                            f"{shown[1]} ({type(exc).__name__}: {detail}); check that its "
                            "masks and res_track.txt agree with each other and with the "
                            "reference's frames") from exc


def divisions_in(track_file: Path) -> int:
    """Tracks with two or more daughters in res_track.txt or man_track.txt."""
    return count_divisions(parse_man_track(track_file))


EMPTY_RESULT = "No tracks in result."  # py-ctcmetrics' words for a result without any cell


def result_problem(res_dir: Path, shape: tuple[int, ...] | None = None) -> str | None:
    """Why a CTC result folder from elsewhere is not valid, or None: every mask readable as a
    label image (of the frames' ``shape`` when given), res_track.txt parseable as the
    challenge reads it, and at least one object (else DataError naming the file), then
    ``ctcmetrics_problem``."""
    from ctc_unet.data.images import check_labels, read_tiff

    res_dir = Path(res_dir)
    masks = [p for _, p in sorted(indexed_files(res_dir, MASK_RE).items())]
    if not masks:
        return f"{res_dir}: no maskNNN.tif files"
    objects = False
    for path in masks:
        labels = check_labels(read_tiff(path), path, shape)
        shape, objects = labels.shape, objects or bool(labels.any())
    records = parse_man_track(res_dir / "res_track.txt")
    if not objects and not records:
        raise DataError(f"{res_dir}: no objects in the result (all {len(masks)} masks are "
                        "background and res_track.txt lists no track); nothing to score")
    return ctcmetrics_problem(res_dir)


def check_reference(seq: Sequence, frames: Iterable[int] | None = None) -> None:
    """The reference of ``seq`` as py-ctcmetrics needs it, checked in our words before
    anything is predicted or scored: ``XX_GT/TRA/man_track.txt`` lists tracks, and every
    marker label of its TRA frames (``frames``, default all) is a track listed for that
    frame. DataError names the file."""
    path = seq.tracks_file or seq.root / f"{seq.name}_GT" / "TRA" / "man_track.txt"
    records = parse_man_track(path)
    if not records:
        raise DataError(f"{path}: no tracks (the file is empty); the reference lists one "
                        "line 'L B E P' per track of the TRA markers")
    spans = {r.label: (r.begin, r.end) for r in records}
    for t in sorted(seq.gt_tra) if frames is None else frames:
        for label in np.unique(seq.read_gt_tra(t)).tolist():
            span = spans.get(label)
            if label and (span is None or not span[0] <= t <= span[1]):
                listed = "not listed" if span is None else f"listed for frames {span[0]}-{span[1]}"
                raise DataError(f"{path}: label {label} marks a cell in frame {t} "
                                f"({seq.gt_tra[t].name}) but is {listed}; the reference and "
                                "its markers disagree")


def ctcmetrics_problem(res_dir: Path, shown: Path | None = None) -> str | None:
    """py-ctcmetrics' ``validate_sequence`` verdict on a CTC result folder whose files are
    readable (the challenge's rules: labels in the masks match res_track.txt frame by frame,
    parents end before their daughters begin, no empty result): None when valid, else its
    first complaint, naming ``shown`` (the folder the user knows) instead of ``res_dir``
    (e.g. a staging copy)."""
    from ctc_metrics.scripts.validate import validate_sequence

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            valid = validate_sequence(str(res_dir), threads=1).get("Valid") == 1
        except (AssertionError, ValueError, KeyError, IndexError) as exc:
            reason = f"py-ctcmetrics: {type(exc).__name__} {exc}".strip()
            return reason if shown is None else reason.replace(str(res_dir), str(shown))
    if valid:
        return None
    reasons = [str(x.message) for x in w if issubclass(x.category, UserWarning)]
    reason = reasons[0] if reasons else "py-ctcmetrics rejects it"
    return reason if shown is None else reason.replace(str(res_dir), str(shown))


def check_result(res_dir: Path, gt_dir: Path) -> None:
    """A result folder that can be scored against ``gt_dir``, checked in our words before
    py-ctcmetrics sees it: both track files present, one mask per TRA frame, of the TRA
    markers' shape, and ``result_problem`` (DataError naming the file)."""
    from ctc_unet.data.images import tiff_header

    res_dir, gt_dir = Path(res_dir), Path(gt_dir)
    for need in (res_dir / "res_track.txt", gt_dir / "TRA" / "man_track.txt"):
        if not need.is_file():
            raise DataError(f"{need}: file not found")
    res = indexed_files(res_dir, MASK_RE)
    tra = indexed_files(gt_dir / "TRA", TRA_RE)
    if len(res) != len(tra):
        raise DataError(f"{res_dir}: {len(res)} result masks but {len(tra)} frames in "
                        f"{gt_dir / 'TRA'}")
    shape = None
    if tra:
        header, _ = tiff_header(tra[min(tra)])
        shape = tuple(d for d in header if d != 1) or header
    problem = result_problem(res_dir, shape)
    if problem is not None and problem != EMPTY_RESULT:
        raise DataError(f"{res_dir / 'res_track.txt'}: not a valid CTC result, the challenge "
                        f"would reject it ({problem})")


def evaluate_ctc_sequence(res_dir: Path, gt_dir: Path, frames: tuple[int, int] | None = None,
                          *, digits: int = 3, st_dir: Path | None = None,
                          seg_frames: set[int] | None = None, checked: bool = False
                          ) -> dict[str, float]:
    """CTC measures of one ``XX_RES`` folder against its ``XX_GT`` folder.

    frames: (first, last) to score only that block (renumbered from 0); digits: the mask
    files' digit count; st_dir: the ``XX_ST`` folder, to add SEG against the silver truth
    (``SEG_ST``); seg_frames: count SEG only on these GT frames; checked: ``check_result``
    has passed on this pair already. Returns the measures present
    (SEG only where the block has GT SEG frames), what DET and TRA charged (``AOGM_COUNTS``,
    ints) and the division counts.
    """
    res_dir, gt_dir = Path(res_dir), Path(gt_dir)
    if not checked:
        check_result(res_dir, gt_dir)
    n = len(indexed_files(res_dir, MASK_RE))
    first, last = frames if frames is not None else (0, n - 1)
    with tempfile.TemporaryDirectory() as tmp:
        res = clip_results(res_dir, first, last, digits=digits, into=Path(tmp) / "RES")
        gt = clip_ground_truth(gt_dir, first, last, into=Path(tmp) / "GT", seg_frames=seg_frames)
        has_seg = any((gt / "SEG").iterdir())
        request = [m for m in _REQUEST if m != "SEG" or has_seg]
        results = _py_ctcmetrics(res, gt, request, (res_dir, gt_dir))
        out = {k: float(results[k]) for k in CTC_MEASURES if results.get(k) is not None}
        out.update({k: int(results[k]) for k in AOGM_COUNTS if results.get(k) is not None})
        out["Valid"] = float(results.get("Valid", 1))
        if has_seg:
            out["n_gt_seg"] = len(list((gt / "SEG").iterdir()))
        if st_dir is not None and (st_dir / "SEG").is_dir():
            st = clip_ground_truth(gt_dir, first, last, into=Path(tmp) / "ST",
                                   seg_dir=st_dir / "SEG")
            if any((st / "SEG").iterdir()):
                out["SEG_ST"] = float(_py_ctcmetrics(res, st, ["SEG"], (res_dir, st_dir))["SEG"])
                out["n_st_seg"] = len(list((st / "SEG").iterdir()))
        out["divisions"] = divisions_in(res / "res_track.txt")
        out["divisions_ref"] = divisions_in(gt / "TRA" / "man_track.txt")
    return out
