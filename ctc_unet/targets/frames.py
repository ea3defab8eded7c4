"""Annotated training frames: which frames a target source (GT, ST, GT+ST) provides, and
loading one as (normalized image, instance labels, ignore mask)."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

from ctc_unet.config import TargetConfig
from ctc_unet.data.ctc import CtcDataset, Sequence, context_stack, open_ctc_dataset
from ctc_unet.data.isbi import IsbiData, is_isbi_folder, read_isbi2012
from ctc_unet.errors import DataError
from ctc_unet.targets.ignore import cell_reach, marker_band, unannotated_mask

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameRef:
    """One annotated frame: sequence name, frame index, and where its labels come from."""

    sequence: str
    t: int
    source: Literal["GT", "ST", "ISBI", "TRA"]


@dataclass(frozen=True)
class AnnotatedFrame:
    """image: (H, W) float32, normalized; labels: (H, W) int32; ignore: (H, W) bool or None;
    markers: (H, W) TRA markers of the frame when asked for and present, else None;
    context: (2k + 1, H, W) normalized frames t-k .. t+k when the network reads k frames of
    temporal context, else None."""

    ref: FrameRef
    image: np.ndarray
    labels: np.ndarray
    ignore: np.ndarray | None
    markers: np.ndarray | None = None
    context: np.ndarray | None = None

    @property
    def network_input(self) -> np.ndarray:
        """What the network reads: (H, W), or (2k + 1, H, W) with temporal context."""
        return self.image if self.context is None else self.context


def normalize_image(image: np.ndarray, low: float = 1.0, high: float = 99.8) -> np.ndarray:
    """Percentile normalization to about [0, 1]: (H, W) any dtype -> (H, W) float32; a
    (C, H, W) stack of frames is normalized frame by frame."""
    if image.ndim == 3:
        return np.stack([normalize_image(plane, low, high) for plane in image])
    image = image.astype(np.float32)
    lo, hi = np.percentile(image, [low, high])
    return (image - lo) / max(float(hi - lo), 1e-6)


def training_frames(dataset: CtcDataset, source: str,
                    sequences: Iterable[str] | None = None, markers: bool = False
                    ) -> list[FrameRef]:
    """Frames of ``sequences`` (default: all) that ``source`` annotates.

    GT: frames with a gold mask; ST: frames with a silver mask; GT+ST: the GT frames, plus ST
    for frames without GT. With ``markers``, also every other frame with TRA markers (source
    ``TRA``: ``load_frame`` teaches its markers as cell and the far background). Raises
    DataError when the source provides no frame, or when an annotation has no frame (see
    ``Sequence.check_annotations_have_frames``).
    """
    names = [dataset.sequence(s).name for s in sequences] if sequences else list(dataset.sequences)
    refs: list[FrameRef] = []
    for name in names:
        seq = dataset.sequences[name]
        seq.check_annotations_have_frames()
        gt, st = sorted(seq.gt_seg), sorted(seq.st_seg)
        if source in ("GT", "GT+ST"):
            refs += [FrameRef(name, t, "GT") for t in gt]
        if source == "ST":
            refs += [FrameRef(name, t, "ST") for t in st]
        if source == "GT+ST":
            refs += [FrameRef(name, t, "ST") for t in st if t not in set(gt)]
        if markers:
            taken = {r.t for r in refs if r.sequence == name}
            refs += [FrameRef(name, t, "TRA") for t in sorted(seq.gt_tra) if t not in taken]
    if not refs:
        raise DataError(f"{dataset.root}: no {source} annotations in sequence(s) "
                        f"{', '.join(names)}")
    return refs


def load_frame(dataset: CtcDataset, ref: FrameRef, cfg: TargetConfig, *, markers: bool = False,
               context: int = 0) -> AnnotatedFrame:
    """Image, labels and ignore mask of an annotated CTC frame (with ``context`` > 0, also the
    frames around it: ``AnnotatedFrame.context``).

    For a GT frame with ``cfg.ignore_unannotated``, tracked cells (TRA markers) without a GT
    mask are ignored; their extent comes from the ST mask when the frame has one.
    """
    seq = dataset.sequences[ref.sequence]
    stack = context_stack(lambda s: normalize_image(seq.read_frame(s)), sorted(seq.frames),
                          ref.t, context)
    frame = _load_labels(seq, ref, cfg, stack[context], markers)  # the image: a view
    return dataclasses.replace(frame, context=stack) if context else frame


def _load_labels(seq: Sequence, ref: FrameRef, cfg: TargetConfig, image: np.ndarray,
                 markers: bool) -> AnnotatedFrame:
    use_ignore = ref.source == "GT" and cfg.ignore_unannotated
    tra = (seq.read_gt_tra(ref.t) if (markers or use_ignore or ref.source == "TRA")
           and ref.t in seq.gt_tra else None)
    kept = tra if markers else None
    if ref.source == "ST":
        return AnnotatedFrame(ref, image, seq.read_st_seg(ref.t).astype(np.int32), None, kept)
    if ref.source == "TRA":
        marks = tra if tra is not None else seq.read_gt_tra(ref.t)
        band = marker_band(marks, typical_reach(seq), cfg.ignore_margin)
        return AnnotatedFrame(ref, image, marks.astype(np.int32), band if band.any() else None,
                              kept)
    labels = seq.read_gt_seg(ref.t).astype(np.int32)
    ignore = None
    if use_ignore and tra is not None:
        silver = seq.read_st_seg(ref.t) if ref.t in seq.st_seg else None
        mask = unannotated_mask(labels, tra, cfg.ignore_margin, silver)
        ignore = mask if mask.any() else None
    return AnnotatedFrame(ref, image, labels, ignore, kept)


REACH_FRAMES = 8  # masks read to learn how far a sequence's cells reach from their centre


@functools.lru_cache(maxsize=16)
def _reach(files: tuple[Path, ...]) -> float:
    from ctc_unet.data.images import read_tiff

    return cell_reach([read_tiff(p) for p in files])


def typical_reach(seq: Sequence) -> float:
    """How far ``seq``'s cells reach from their centre (px, ``cell_reach`` over up to
    REACH_FRAMES of its GT, else ST, masks spread over the sequence). DataError when it has
    neither: markers alone do not say how large a cell is."""
    masks = seq.gt_seg or seq.st_seg
    if not masks:
        raise DataError(f"{seq.root / seq.name}: targets.markers needs some GT or ST masks of "
                        "the sequence to learn how large a cell is around its marker")
    ts = sorted(masks)
    picked = ts[::max(1, len(ts) // REACH_FRAMES)][:REACH_FRAMES]
    return _reach(tuple(masks[t] for t in picked))


def isbi_frames(data: IsbiData, slices: Iterable[int], context: int = 0
                ) -> list[AnnotatedFrame]:
    """ISBI 2012 slices as annotated frames: labels are the connected cell regions
    (membrane = background); with ``context`` > 0 the neighbouring slices are the context."""
    out, volume = [], data.train_volume
    for z in slices:
        labels, _ = ndi.label(data.train_labels[z])
        stack = normalize_image(context_stack(volume.__getitem__, range(len(volume)), int(z),
                                              context))
        out.append(AnnotatedFrame(FrameRef("train", int(z), "ISBI"), stack[context],
                                  labels.astype(np.int32), None,
                                  context=stack if context else None))
    return out


def annotated_frame(root: Path, sequence: str, frame: int | None, cfg: TargetConfig
                    ) -> AnnotatedFrame:
    """One annotated frame of a dataset folder: a CTC frame of ``sequence`` annotated by
    ``cfg.source`` (default: the first), or an ISBI 2012 slice."""
    if is_isbi_folder(root):
        data = read_isbi2012(root)
        z = 0 if frame is None else frame
        if not 0 <= z < data.train_volume.shape[0]:
            raise DataError(f"{root}: slice {z} out of range 0..{data.train_volume.shape[0] - 1}")
        return isbi_frames(data, [z])[0]
    ds = open_ctc_dataset(root)
    annotated = training_frames(ds, cfg.source, [sequence], cfg.markers)
    refs = annotated if frame is None else [r for r in annotated if r.t == frame]
    if not refs:
        more = " ..." if len(annotated) > 12 else ""
        listed = ", ".join(str(r.t) for r in annotated[:12]) + more
        raise DataError(f"{root}: sequence {sequence} frame {frame} has no "
                        f"{cfg.source} annotation (annotated: {listed})")
    return load_frame(ds, refs[0], cfg)
