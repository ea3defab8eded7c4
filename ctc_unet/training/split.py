"""Which annotated frames train and which validate, and loading them."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ctc_unet.config import Config
from ctc_unet.data.ctc import CtcDataset, open_ctc_dataset
from ctc_unet.data.frames import AnnotatedFrame, FrameRef, isbi_frames, load_frame, training_frames
from ctc_unet.data.isbi import is_isbi_folder, read_isbi2012
from ctc_unet.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """Annotated frames that train, that validate (choose the checkpoint and the
    post-processing), and that report (scored by ``evaluate --frames report``, never used
    to choose anything)."""

    train: list[FrameRef]
    val: list[FrameRef]
    report: list[FrameRef] = field(default_factory=list)

    def to_json(self) -> str:
        def rows(refs: list[FrameRef]) -> list[dict]:
            return [{"sequence": r.sequence, "t": r.t, "source": r.source} for r in refs]
        return json.dumps({"train": rows(self.train), "val": rows(self.val),
                           "report": rows(self.report)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Split:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict) -> Split:
        """The split of a parsed split.json."""
        return cls(*([FrameRef(**r) for r in data.get(k, [])]
                     for k in ("train", "val", "report")))


def _spread(items: list, fraction: float) -> list:
    """``fraction`` of ``items`` (at least one if fraction > 0), spread evenly."""
    if fraction <= 0 or len(items) < 2:
        return []
    n = min(len(items) - 1, max(1, round(fraction * len(items))))
    idx = np.linspace(0, len(items) - 1, n + 2)[1:-1].round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


def _holdout_split(dataset: CtcDataset, cfg: Config, train_seqs: list[str]) -> Split:
    """A held-out block of one sequence: its later frames choose, its earlier ones report."""
    sc = cfg.split
    seq = dataset.sequence(sc.holdout_sequence)
    refs = [FrameRef(seq.name, t, "GT" if t in seq.gt_seg else "ST")
            for t in sorted(seq.frames) if t >= sc.holdout_from and (
                t in seq.gt_seg or t in seq.st_seg)]
    choose = [r for r in refs if r.t >= sc.choose_from]
    report = [r for r in refs if r.t < sc.choose_from]
    if not choose or not report:
        raise DataError(f"{dataset.root}: the held-out block of sequence {seq.name} (frames >= "
                        f"{sc.holdout_from}) needs annotated frames both >= and < choose_from "
                        f"({sc.choose_from})")
    cut = sc.holdout_from - sc.holdout_gap
    train = [r for r in training_frames(dataset, cfg.targets.source, train_seqs)
             if not (r.sequence == seq.name and r.t >= cut)]
    if not train:
        raise DataError(f"{dataset.root}: no training frames before frame {cut} of sequence "
                        f"{seq.name}")
    return Split(train, choose, report)


def make_split(dataset: CtcDataset, cfg: Config) -> Split:
    """Split a CTC dataset's annotated frames according to ``cfg.split``."""
    sc = cfg.split
    annotated = [n for n, s in dataset.sequences.items() if s.gt_seg or s.st_seg]
    train_seqs = [dataset.sequence(s).name for s in sc.train_sequences] or [
        n for n in annotated if n not in {dataset.sequence(v).name for v in sc.val_sequences}]
    if sc.holdout_sequence:
        return _holdout_split(dataset, cfg, train_seqs)
    if sc.val_sequences:
        val = training_frames(dataset, "GT", sc.val_sequences)
    else:
        gt = [r for r in training_frames(dataset, "GT", train_seqs)] if any(
            dataset.sequences[s].gt_seg for s in train_seqs) else []
        val = ([r for r in gt if r.t in set(sc.val_frames)] if sc.val_frames
               else _spread(gt, sc.val_fraction))
    held = {(r.sequence, r.t) for r in val}
    train = [r for r in training_frames(dataset, cfg.targets.source, train_seqs)
             if (r.sequence, r.t) not in held]
    if not train:
        raise DataError(f"{dataset.root}: no training frames left after holding out validation")
    return Split(train, val)


def isbi_split(n_slices: int, cfg: Config) -> Split:
    """ISBI 2012: slices as frames. With ``split.holdout_sequence`` set, slices >=
    ``holdout_from`` are held out (the ``holdout_gap`` before them left out), those >=
    ``choose_from`` validate and the others report; else ``split.val_frames`` (or a fraction)
    validate."""
    refs = [FrameRef("train", z, "ISBI") for z in range(n_slices)]
    sc = cfg.split
    if sc.holdout_sequence:
        held = [r for r in refs if r.t >= sc.holdout_from]
        train = [r for r in refs if r.t < sc.holdout_from - sc.holdout_gap]
        choose = [r for r in held if r.t >= sc.choose_from]
        report = [r for r in held if r.t < sc.choose_from]
        if not (train and choose and report):
            raise DataError(f"split: {n_slices} slices leave no training, choosing or "
                            "reporting slices with this holdout_from / choose_from")
        return Split(train, choose, report)
    val = ([r for r in refs if r.t in set(cfg.split.val_frames)] if cfg.split.val_frames
           else _spread(refs, cfg.split.val_fraction))
    return Split([r for r in refs if r not in val], val)


def load_frames(root: Path, cfg: Config, split: Split | None = None
                ) -> tuple[Split, list[AnnotatedFrame], list[AnnotatedFrame]]:
    """The split (made if not given) and the loaded training and validation frames."""
    if is_isbi_folder(root):
        data = read_isbi2012(root)
        split = split or isbi_split(data.train_volume.shape[0], cfg)
        return (split, isbi_frames(data, [r.t for r in split.train]),
                isbi_frames(data, [r.t for r in split.val]))
    dataset = open_ctc_dataset(root)
    split = split or make_split(dataset, cfg)
    return (split, [load_frame(dataset, r, cfg.targets) for r in split.train],
            [load_frame(dataset, r, cfg.targets, markers=True) for r in split.val])
