"""Checks and summaries of a dataset folder (used by ``ctc-unet inspect``).

Hard problems (missing folder, no frames, unreadable TIFF, GT mask of the wrong shape or of
a non-integer type) raise DataError. Soft ones (partly annotated frames, gaps, tracks that
disagree with their markers) become warnings in the report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ctc_unet.data.ctc import Sequence, count_divisions, open_ctc_dataset
from ctc_unet.data.images import read_tiff, tiff_header
from ctc_unet.data.isbi import read_isbi2012
from ctc_unet.errors import DataError

logger = logging.getLogger(__name__)


def annotation_coverage(seg: np.ndarray, markers: np.ndarray) -> tuple[int, int]:
    """How many tracked cells a segmentation covers.

    seg, markers: (H, W) label images. Returns (annotated, tracked): the number of marker labels
    that overlap a segmented object, and the number of marker labels.
    """
    ids = np.unique(markers)
    ids = ids[ids > 0]
    covered = np.unique(markers[(markers > 0) & (seg > 0)])
    return int(np.isin(ids, covered).sum()), int(ids.size)


@dataclass
class SequenceReport:
    """What ``inspect`` found in one sequence."""

    name: str
    n_frames: int
    first: int
    last: int
    shape: tuple[int, ...]
    dtype: str
    digits: int
    gt_seg_frames: list[int] = field(default_factory=list)
    cells_per_gt: dict[int, int] = field(default_factory=dict)
    partial: dict[int, tuple[int, int]] = field(default_factory=dict)
    gt_tra_frames: int = 0
    n_tracks: int = 0
    n_divisions: int = 0
    st_frames: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class DatasetReport:
    """What ``inspect`` found in a dataset folder."""

    root: Path
    kind: str  # "ctc-training", "ctc-challenge" or "isbi2012"
    sequences: list[SequenceReport] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _frame_headers(seq: Sequence, report: SequenceReport) -> dict[int, tuple[int, ...]]:
    shapes: dict[int, tuple[int, ...]] = {}
    first_dtype = None
    for t, path in seq.frames.items():
        shape, dtype = tiff_header(path)
        shape = tuple(d for d in shape if d != 1) or shape
        if len(shape) != 2:
            raise DataError(f"{path}: expected a 2D image, got shape {shape}")
        shapes[t] = shape
        first_dtype = first_dtype or dtype
        if dtype != first_dtype:
            report.warnings.append(f"{path.name}: dtype {dtype} differs from {first_dtype}")
    for t in sorted(seq.frames):  # decode every frame: truncated files fail here
        path = seq.frames[t]
        pixels = read_tiff(path)
        if pixels.dtype.kind == "f" and not np.isfinite(pixels).all():
            report.warnings.append(f"{path.name}: {int((~np.isfinite(pixels)).sum())} NaN/inf "
                                   "pixel(s); train and predict refuse this frame")
    distinct = sorted(set(shapes.values()))
    if len(distinct) > 1:
        report.warnings.append(f"frames have {len(distinct)} different shapes: {distinct}")
    report.shape = shapes[min(shapes)]
    report.dtype = str(first_dtype)
    return shapes


def inspect_sequence(seq: Sequence) -> SequenceReport:
    """Read every annotation of a sequence and report counts and problems."""
    frames = sorted(seq.frames)
    report = SequenceReport(seq.name, len(frames), frames[0], frames[-1], (), "", seq.digits)
    shapes = _frame_headers(seq, report)
    missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
    if missing:
        more = " ..." if len(missing) > 10 else ""
        report.warnings.append(f"missing frames {missing[:10]}{more}")

    tra_labels: dict[int, set[int]] = {}
    gt_markers: dict[int, np.ndarray] = {}  # kept for the GT frames' coverage check below
    for t in sorted(seq.gt_tra):
        if t not in shapes:
            report.warnings.append(f"{seq.gt_tra[t].name} has no frame t{t:0{seq.digits}d}.tif")
        markers = seq.read_gt_tra(t)
        tra_labels[t] = set(np.unique(markers).tolist()) - {0}
        if t in seq.gt_seg:
            gt_markers[t] = markers
    report.gt_tra_frames = len(seq.gt_tra)

    for t in sorted(seq.gt_seg):
        if t not in shapes:
            report.warnings.append(f"{seq.gt_seg[t].name} has no frame t{t:0{seq.digits}d}.tif")
        seg = seq.read_gt_seg(t)
        report.gt_seg_frames.append(t)
        report.cells_per_gt[t] = int(np.count_nonzero(np.unique(seg)))
        if t in gt_markers:
            annotated, tracked = annotation_coverage(seg, gt_markers[t])
            if annotated < tracked:
                report.partial[t] = (annotated, tracked)

    for t in sorted(seq.st_seg):
        seq.read_st_seg(t)  # validates type and shape
    report.st_frames = len(seq.st_seg)

    if seq.tracks_file is not None:
        records = seq.tracks()
        report.n_tracks = len(records)
        report.n_divisions = count_divisions(records)  # a parent with one child: a gap
        known = {r.label: r for r in records}
        for t, labels in tra_labels.items():
            unknown = sorted(lab for lab in labels if lab not in known)
            outside = sorted(lab for lab in labels
                             if lab in known and not known[lab].begin <= t <= known[lab].end)
            if unknown:
                report.warnings.append(f"frame {t}: markers {unknown[:5]} not in man_track.txt")
            if outside:
                report.warnings.append(f"frame {t}: markers {outside[:5]} outside their "
                                       "track's frame range")
    elif seq.gt_tra:
        report.warnings.append(f"{seq.name}_GT/TRA has markers but no man_track.txt")
    for t, (annotated, tracked) in sorted(report.partial.items()):
        report.warnings.append(f"frame {t:0{seq.digits}d} is partly annotated: {annotated} of "
                               f"{tracked} tracked cells have a GT mask")
    return report


def inspect_path(root: Path) -> DatasetReport:
    """Inspect a CTC training/challenge folder or an ISBI 2012 folder."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    if (root / "train-volume.tif").is_file():
        data = read_isbi2012(root)
        n, h, w = data.train_volume.shape
        report = DatasetReport(root, "isbi2012")
        fraction = float(data.train_labels.mean())
        report.summary = {
            "training slices": f"{n} x {h}x{w} {data.train_volume.dtype}",
            "labels": f"binary (0 = membrane, 255 = cell), {fraction:.1%} cell pixels",
            "test slices": ("missing" if data.test_volume is None else
                            f"{data.test_volume.shape[0]} x "
                            f"{data.test_volume.shape[1]}x{data.test_volume.shape[2]}"),
        }
        if data.test_volume is None:
            report.warnings.append("test-volume.tif not found")
        return report

    dataset = open_ctc_dataset(root)
    report = DatasetReport(root, "ctc-training" if dataset.has_gt else "ctc-challenge")
    for seq in dataset.sequences.values():
        seq_report = inspect_sequence(seq)
        report.sequences.append(seq_report)
        report.warnings.extend(f"{seq.name}: {w}" for w in seq_report.warnings)
        if report.kind == "ctc-training" and not seq.has_gt:
            report.warnings.append(f"{seq.name}: no ground truth ({seq.name}_GT missing)")
    return report
