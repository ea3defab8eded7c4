"""Measures on label arrays, for a notebook: how well masks of any segmenter match a
reference (SEG, DET and the match of every reference object, in the challenge's terms, like
StarDist's ``matching``), and the CTC tracking measures of a tracked clip, computed by
py-ctcmetrics on the frames given.

    score_masks(reference, result)                       # one (H, W) frame, or lists of them
    score_tracks(ref_masks, ref_records, masks, records)  # TRA, DET, SEG, CT, LNK, ...

Reference objects are also the markers DET counts against, unless ``markers`` are given (a
CTC training set's TRA markers, which mark every cell even where the SEG masks do not).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ctc_unet.data.ctc import TrackRecord, write_mask, write_tracks
from ctc_unet.data.labels import contingency
from ctc_unet.errors import CtcUnetError
from ctc_unet.evaluation.det import det_measure, detection_counts

Frames = np.ndarray | Sequence[np.ndarray]


def _frames(value: Frames, what: str) -> list[np.ndarray]:
    """A single (H, W) label array or a sequence of them, as a checked list."""
    arrays = [np.asarray(value)] if np.ndim(value) == 2 else [np.asarray(a) for a in value]
    for t, a in enumerate(arrays):
        if a.ndim != 2 or a.dtype.kind not in "iub":
            raise CtcUnetError(f"{what}[{t}]: expected a 2D integer label image, got "
                               f"{a.dtype} {a.shape}")
    return arrays


def object_matches(reference: np.ndarray, result: np.ndarray) -> list[dict]:
    """One row per reference object of one (H, W) frame: its label and area, the result
    object that matches it by SEG's rule (|R & S| > 0.5 |R|; 0 = none) and their Jaccard
    index (0 when unmatched)."""
    ref_ids, res_ids, cm = contingency(reference, result)
    rows = []
    for i, label in enumerate(ref_ids):
        if label == 0:
            continue
        area = int(cm[i].sum())
        j = int(np.argmax(np.where(res_ids != 0, cm[i], -1)))
        inter = int(cm[i, j]) if res_ids[j] != 0 else 0
        matched = inter > 0.5 * area
        union = area + int(cm[:, j].sum()) - inter
        rows.append({"reference": int(label), "area": area,
                     "result": int(res_ids[j]) if matched else 0,
                     "jaccard": inter / union if matched else 0.0})
    return rows


def score_masks(reference: Frames, result: Frames, *, markers: Frames | None = None) -> dict:
    """SEG and DET of ``result`` against ``reference`` (one (H, W) label array each, or equal
    lists of them), with the counts behind DET (missed markers, extra objects, split
    objects) and ``matches``: ``object_matches`` of every frame (a ``frame`` column added).
    ``markers``: what DET counts against (default: the reference objects)."""
    refs, ress = _frames(reference, "reference"), _frames(result, "result")
    marks = refs if markers is None else _frames(markers, "markers")
    if not (len(refs) == len(ress) == len(marks)):
        raise CtcUnetError(f"{len(refs)} reference frame(s), {len(ress)} result frame(s) and "
                           f"{len(marks)} marker frame(s): give as many of each")
    for t, (a, b, m) in enumerate(zip(refs, ress, marks, strict=True)):
        if not a.shape == b.shape == m.shape:
            raise CtcUnetError(f"frame {t}: shapes differ (reference {a.shape}, result "
                               f"{b.shape}, markers {m.shape})")
    matches = [{"frame": t, **row} for t, (a, b) in enumerate(zip(refs, ress, strict=True))
               for row in object_matches(a, b)]
    counts = {"NS": 0, "FN": 0, "FP": 0, "markers": 0}
    for m, b in zip(marks, ress, strict=True):
        for key, value in detection_counts(m, b).items():
            counts[key] += value
    seg = float(np.mean([r["jaccard"] for r in matches])) if matches else 0.0
    return {"SEG": seg, "DET": det_measure(marks, ress), "objects": len(matches),
            "missed": counts["FN"], "extra": counts["FP"], "split": counts["NS"],
            "matches": matches}


def score_tracks(reference_masks: Sequence[np.ndarray],
                 reference_records: Sequence[TrackRecord], masks: Sequence[np.ndarray],
                 records: Sequence[TrackRecord], *,
                 markers: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """The CTC measures (SEG, DET, TRA, CT, TF, BC(i), CCA, LNK, BIO, CHOTA, ...) of a tracked
    clip: ``masks`` (T arrays (H, W), labelled by track) and ``records`` (frames = list
    positions, as ``Model.track`` and ``link`` return them) against the reference clip, scored
    by py-ctcmetrics. The reference's masks are its TRA markers unless ``markers`` are given
    (then the masks are its SEG)."""
    from ctc_unet.evaluation.ctc import evaluate_ctc_sequence

    ref, res = _frames(reference_masks, "reference_masks"), _frames(masks, "masks")
    tra = ref if markers is None else _frames(markers, "markers")
    if not len(ref) == len(res) == len(tra):
        raise CtcUnetError(f"{len(ref)} reference frame(s) and {len(res)} result frame(s): "
                           "give the same frames")
    digits = max(3, len(str(len(res) - 1)))
    with tempfile.TemporaryDirectory() as tmp:
        gt, out = Path(tmp) / "01_GT", Path(tmp) / "01_RES"
        for t in range(len(res)):
            write_mask(out, t, res[t], digits)
            _write_label(gt / "TRA" / f"man_track{t:0{digits}d}.tif", tra[t])
            _write_label(gt / "SEG" / f"man_seg{t:0{digits}d}.tif", ref[t])
        write_tracks(out / "res_track.txt", records)
        write_tracks(gt / "TRA" / "man_track.txt", reference_records)
        return evaluate_ctc_sequence(out, gt, digits=digits)


def _write_label(path: Path, labels: np.ndarray) -> None:
    from ctc_unet.data.images import write_label_tiff

    path.parent.mkdir(parents=True, exist_ok=True)
    write_label_tiff(path, labels)
