"""The validation protocol: which annotated frames train, choose and report (in terms relative
to each dataset, see ``SplitConfig``), and loading them."""

from __future__ import annotations

import logging
from pathlib import Path

from ctc_unet.config import Config, SplitConfig
from ctc_unet.data.ctc import CtcDataset, open_ctc_dataset
from ctc_unet.data.isbi import is_isbi_folder, read_isbi2012
from ctc_unet.errors import DataError
from ctc_unet.rundir import Split
from ctc_unet.targets.frames import (
    AnnotatedFrame,
    FrameRef,
    isbi_frames,
    load_frame,
    training_frames,
)

logger = logging.getLogger(__name__)

MIN_CHOOSE = 2  # choosing frames at least


def held_out_block(annotated: list[int], cfg: SplitConfig, report: bool
                   ) -> tuple[list[int], list[int], int]:
    """The held-out tail of one sequence: (choosing frames, reporting frames, ``cut``).

    ``annotated``: the sequence's annotated frame numbers. The last ``choose_fraction`` of
    them choose (at least two: the challenge's measures need a sequence, not a frame), the
    ``report_fraction`` before those report (with ``report``; at least one), and only frames
    ``< cut`` (``gap_frames`` before the first held-out frame) may train.
    """
    ts = sorted(annotated)
    n_choose, n_report = block_sizes(len(ts), cfg, report)
    if n_choose + n_report > len(ts):
        return [], [], 0
    choose = ts[len(ts) - n_choose:]
    reporting = ts[len(ts) - n_choose - n_report:len(ts) - n_choose]
    return choose, reporting, (reporting or choose)[0] - cfg.gap_frames


def block_sizes(n: int, cfg: SplitConfig, report: bool) -> tuple[int, int]:
    """How many of ``n`` annotated frames choose and report."""
    return (max(MIN_CHOOSE, round(cfg.choose_fraction * n)),
            max(1, round(cfg.report_fraction * n)) if report else 0)


def _too_short(where: str, n: int, choose: int, report: int, cfg: SplitConfig) -> DataError:
    parts = f"the last {choose} choose" + (f", the {report} before them report" if report else "")
    return DataError(
        f"{where}: too few annotated frames for the validation protocol ({n}: {parts}, and "
        f"the {cfg.gap_frames} frames before the held-out block are left out, "
        "split.gap_frames), which leaves no frame to train on; it needs more annotated frames "
        "early in the sequence, a second annotated sequence, or a smaller split.gap_frames / "
        "choose_fraction / report_fraction")


def _sequence_roles(dataset: CtcDataset, rules: SplitConfig) -> tuple[list[str], str, str | None]:
    """(training sequences, the sequence whose tail is held out, the one reported whole)."""
    annotated = [n for n, s in dataset.sequences.items() if s.gt_seg or s.st_seg]
    if not annotated:
        raise DataError(f"{dataset.root}: no annotated sequence (expected XX_GT/SEG or "
                        "XX_ST/SEG masks)")
    if rules.report_sequence == "auto":
        report = annotated[-1] if len(annotated) >= 2 else None
    elif rules.report_sequence == "none":
        report = None
    else:
        report = dataset.sequence(rules.report_sequence).name
    train = ([dataset.sequence(s).name for s in rules.train_sequences] or
             [n for n in annotated if n != report])
    if report in train:
        raise DataError(f"{dataset.root}: sequence {report} is reported on; it cannot be in "
                        "split.train_sequences")
    if not train:
        raise DataError(f"{dataset.root}: no annotated sequence left to train on besides "
                        f"{report} (split.report_sequence)")
    holdout = train[-1] if rules.holdout_sequence == "auto" else dataset.sequence(
        rules.holdout_sequence).name
    if holdout not in train:
        raise DataError(f"{dataset.root}: split.holdout_sequence {holdout} is not a training "
                        f"sequence ({', '.join(train)})")
    return train, holdout, report


def _annotated_refs(seq, frames: list[int]) -> list[FrameRef]:
    return [FrameRef(seq.name, t, "GT" if t in seq.gt_seg else "ST") for t in frames]


def make_split(dataset: CtcDataset, cfg: Config) -> Split:
    """Split a CTC dataset's annotated frames by the protocol of ``cfg.split``
    (``SplitConfig``): a whole sequence reports where there are two, a held-out tail
    chooses, and nothing within ``gap_frames`` of a held-out frame trains."""
    rules = cfg.split
    train_seqs, holdout, report_seq = _sequence_roles(dataset, rules)
    seq = dataset.sequences[holdout]
    annotated = sorted(t for t in set(seq.gt_seg) | set(seq.st_seg) if t in seq.frames)
    choose, reporting, cut = held_out_block(annotated, rules, report=report_seq is None)
    train = [r for r in training_frames(dataset, cfg.targets.source, train_seqs,
                                        cfg.targets.markers)
             if r.sequence != holdout or r.t < cut] if choose else []
    if not train:
        raise _too_short(f"{dataset.root}: sequence {holdout}", len(annotated),
                         *block_sizes(len(annotated), rules, report_seq is None), rules)
    report, whole = _annotated_refs(seq, reporting), []
    if report_seq is not None:
        rs = dataset.sequences[report_seq]
        report = _annotated_refs(rs, sorted(t for t in set(rs.gt_seg) | set(rs.st_seg)
                                            if t in rs.frames))
        whole = [report_seq]
    # the choosing region: from the first choosing frame on, every frame with markers but no
    # mask (the reporting block, if any, lies before it)
    masked = set(annotated)
    marked = ([FrameRef(seq.name, t, "TRA") for t in sorted(seq.gt_tra)
               if t >= choose[0] and t not in masked and t in seq.frames]
              if rules.choose_markers else [])
    _log_use(holdout, annotated, train, choose, reporting, cut)
    if len(train_seqs) == 1 and report_seq is None:
        _log_refit(holdout, len({r.t for r in train if r.source != "TRA"}),
                   len(training_frames(dataset, cfg.targets.source, [holdout], False)),
                   cfg.targets.source, refit_reason(dataset, cfg) is not None)
    return Split(train, _annotated_refs(seq, choose), report, whole, marked)


def refit_reason(dataset: CtcDataset | Path, cfg: Config) -> str | None:
    """Why ``train`` refits the run on every annotated frame once it has chosen, or None
    (``train.refit``). ``auto`` refits where the protocol reports inside the only training
    sequence (none reported whole) and that sequence has masks of ``targets.source`` on fewer
    than half its frames: there the protocol's model learns from about half of the masks and
    the refit from all (measured: docs/evaluation.md, "One annotated sequence"). Where masks
    are dense (silver truth on every frame) the refits on record lost DET, and a second
    training would double a DIC-HeLa run's hour."""
    mode = cfg.train.refit
    if mode != "auto":
        return "train.refit: always" if mode == "always" else None
    if isinstance(dataset, Path):
        if is_isbi_folder(dataset):
            return None  # every slice annotated
        dataset = open_ctc_dataset(dataset)
    train_seqs, holdout, report_seq = _sequence_roles(dataset, cfg.split)
    if len(train_seqs) > 1 or report_seq is not None:
        return None
    masks = len(training_frames(dataset, cfg.targets.source, [holdout], False))
    frames = len(dataset.sequences[holdout].frames)
    if 2 * masks >= frames:
        return None
    return (f"train.refit auto: sequence {holdout}, the only one to train and none reported "
            f"whole, has masks ({cfg.targets.source}) on {masks} of its {frames} frames")


def _log_refit(name: str, trained: int, masks: int, source: str, refits: bool) -> None:
    """Say, for the only training sequence (none reported whole), that the run's model
    learns from ``trained`` of its ``masks`` frames with masks of ``source`` and that a refit
    learns from all: ``train`` itself where it ``refits``, else ``ctc-unet refit``."""
    logger.info("the run's model learns from %d of the %d frames of sequence %s with masks "
                "(%s); once it has chosen, %s trains the same recipe on all %d (measured "
                "against the run: docs/evaluation.md, \"Refit\")", trained, masks, name, source,
                "train (train.refit)" if refits else "`ctc-unet refit RUN`", masks)


def _log_use(name: str, annotated: list[int], train: list[FrameRef], choose: list[int],
             reporting: list[int], cut: int) -> None:
    """Say how the protocol spends the held-out sequence's annotated (mask) frames."""
    trained = {r.t for r in train if r.sequence == name and r.source != "TRA"}
    held = (reporting or choose)[0]
    gap = sum(1 for t in annotated if cut <= t < held)
    other = len(annotated) - len(trained) - len(choose) - len(reporting) - gap
    logger.info("sequence %s: %d of its %d annotated frames train, %d choose, %d report, %d "
                "lie within split.gap_frames of the held-out block%s", name, len(trained),
                len(annotated), len(choose), len(reporting), gap,
                f", {other} are not of targets.source" if other else "")


def isbi_split(n_slices: int, cfg: Config) -> Split:
    """ISBI 2012: the slices as one annotated sequence, split by the same protocol (the last
    slices choose, those before them report, ``gap_frames`` slices before them are left
    out)."""
    rules = cfg.split
    choose, reporting, cut = held_out_block(list(range(n_slices)), rules, report=True)
    train = [FrameRef("train", z, "ISBI") for z in range(n_slices) if z < cut] if choose else []
    if not train:
        raise _too_short("ISBI 2012", n_slices, *block_sizes(n_slices, rules, True), rules)
    return Split(train, [FrameRef("train", z, "ISBI") for z in choose],
                 [FrameRef("train", z, "ISBI") for z in reporting])


def refit_frames(frames: list[FrameRef], parent: Split, gap: int, hold_out: bool) -> Split:
    """The split of a refit: every annotated frame in ``frames`` trains and none chooses.

    With ``hold_out`` the parent's reporting frames stay apart, so that they can score the
    refit model as they scored the parent: its reported sequences, its reporting frames and
    the ``gap`` frames on either side of their block neither train nor choose.
    """
    if not hold_out:
        return Split(list(frames), [])
    if not (parent.report or parent.report_sequences):
        raise DataError("the run reports on no frames, so there is nothing to hold out "
                        "(refit without --hold-out)")
    blocks: dict[str, list[int]] = {}
    for r in parent.report:
        blocks.setdefault(r.sequence, []).append(r.t)

    def apart(r: FrameRef) -> bool:
        ts = blocks.get(r.sequence)
        return r.sequence in parent.report_sequences or bool(
            ts and min(ts) - gap <= r.t <= max(ts) + gap)

    return Split([r for r in frames if not apart(r)], [], list(parent.report),
                 list(parent.report_sequences))


def refit_split(root: Path, cfg: Config, parent: Split, hold_out: bool) -> Split:
    """``refit_frames`` over every frame of the dataset folder ``root`` that
    ``cfg.targets.source`` annotates (every slice, for ISBI 2012), in the sequences that the
    parent's protocol used (a sequence that ``split.train_sequences`` left out stays out)."""
    if is_isbi_folder(root):
        n = read_isbi2012(root).train_volume.shape[0]
        frames = [FrameRef("train", z, "ISBI") for z in range(n)]
    else:
        dataset = open_ctc_dataset(root)
        used = {r.sequence for r in (*parent.train, *parent.val, *parent.report)}
        used |= set(parent.report_sequences)
        annotated = [n for n, s in dataset.sequences.items()
                     if (s.gt_seg or s.st_seg) and n in used]
        frames = training_frames(dataset, cfg.targets.source, annotated, cfg.targets.markers)
    split = refit_frames(frames, parent, cfg.split.gap_frames, hold_out)
    if not split.train:
        raise DataError(f"{root}: no annotated frame is left to train on")
    return split


def choosing_marker_frames(root: Path, cfg: Config, split: Split) -> list[AnnotatedFrame]:
    """The marker-only frames of the choosing region (``split.choose_markers``), loaded with
    their markers (for DET in the choice of the post-processing)."""
    if not split.choose_markers or is_isbi_folder(root):
        return []
    dataset = open_ctc_dataset(root)
    return [load_frame(dataset, r, cfg.targets, markers=True,
                       context=cfg.model.context_frames) for r in split.choose_markers]


def load_frames(root: Path, cfg: Config, split: Split | None = None
                ) -> tuple[Split, list[AnnotatedFrame], list[AnnotatedFrame]]:
    """The split (made if not given) and the loaded training and validation frames (with the
    temporal context that ``model.context_frames`` asks for)."""
    k = cfg.model.context_frames
    if is_isbi_folder(root):
        data = read_isbi2012(root)
        split = split or isbi_split(data.train_volume.shape[0], cfg)
        return (split, isbi_frames(data, [r.t for r in split.train], k),
                isbi_frames(data, [r.t for r in split.val], k))
    dataset = open_ctc_dataset(root)
    split = split or make_split(dataset, cfg)
    return (split, [load_frame(dataset, r, cfg.targets, context=k) for r in split.train],
            [load_frame(dataset, r, cfg.targets, markers=True, context=k) for r in split.val])
