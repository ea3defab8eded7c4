"""CTC measures through py-ctcmetrics.

CTC (per sequence): SEG (the paper's "IOU" of Table 2), DET, TRA, OP_CSB = (SEG + DET) / 2 and
OP_CTB = (SEG + TRA) / 2, computed by py-ctcmetrics from the ``XX_RES`` and ``XX_GT`` folders.
SEG can be restricted to some GT frames (e.g. a run's held-out validation frames).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

from ctc_unet.data.ctc import SEG_RE
from ctc_unet.errors import DataError

logger = logging.getLogger(__name__)

CTC_MEASURES = ("SEG", "DET", "TRA", "OP_CSB", "OP_CTB")


def _subset_gt(gt_dir: Path, frames: Iterable[int], into: Path) -> Path:
    """A GT folder whose SEG holds only ``frames`` (links to the originals) and the full TRA."""
    keep = set(frames)
    (into / "SEG").mkdir(parents=True)
    os.symlink((gt_dir / "TRA").resolve(), into / "TRA")
    for p in sorted((gt_dir / "SEG").iterdir()):
        m = SEG_RE.match(p.name)
        if m and int(m.group(1)) in keep:
            os.symlink(p.resolve(), into / "SEG" / p.name)
    return into


def evaluate_ctc_sequence(res_dir: Path, gt_dir: Path, seg_frames: Iterable[int] | None = None
                          ) -> dict[str, float]:
    """CTC measures of one ``XX_RES`` folder against its ``XX_GT`` folder (py-ctcmetrics)."""
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    for need in (res_dir / "res_track.txt", gt_dir / "TRA" / "man_track.txt"):
        if not need.is_file():
            raise DataError(f"{need}: file not found")
    if not any((gt_dir / "SEG").glob("man_seg*.tif")):
        raise DataError(f"{gt_dir / 'SEG'}: no GT segmentation to evaluate SEG against")
    n_res = len(list(res_dir.glob("mask*.tif")))
    n_tra = len(list((gt_dir / "TRA").glob("man_track*.tif")))
    if n_res != n_tra:
        raise DataError(f"{res_dir}: {n_res} result masks but {n_tra} frames in {gt_dir / 'TRA'}")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        gt = gt_dir if seg_frames is None else _subset_gt(gt_dir, seg_frames, Path(tmp) / "GT")
        results = evaluate_sequence(str(res_dir), str(gt), metrics=list(CTC_MEASURES),
                                    threads=1)
    out = {k: float(results[k]) for k in CTC_MEASURES if results.get(k) is not None}
    out["Valid"] = float(results.get("Valid", 1))
    return out
