"""The division threshold learned from a sequence's own tracks (pure numpy): the tracker
weighs every candidate division on a sequence's masks (``linking.candidate_divisions``),
its TRA markers and ``man_track.txt`` say which candidates are divisions, and
``divisions.learn_threshold`` picks the ``division_evidence`` that accepts the most true
minus false ones. Censored candidates (a daughter cut short by the last frame) teach
nothing: whether they flicker cannot be told."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ctc_unet.config import TrackingConfig
from ctc_unet.data.ctc import TrackRecord
from ctc_unet.data.labels import covering_objects
from ctc_unet.tracking.divisions import Weighed, learn_threshold
from ctc_unet.tracking.linking import candidate_divisions


@dataclass(frozen=True)
class Labelled:
    """Candidates of one sequence: (N,) evidences, (N,) whether each is a division, and how
    many censored candidates were left out."""

    evidence: np.ndarray
    is_division: np.ndarray
    censored: int


@dataclass(frozen=True)
class DivisionLearning:
    """A learned ``division_evidence`` and what it rests on."""

    threshold: float
    default: float
    candidates: int  # labelled candidates, censored ones not counted
    divisions: int  # of them, true divisions
    censored: int
    accepted_true: int  # at the learned threshold
    accepted_false: int

    def describe(self) -> str:
        return (f"division_evidence {self.threshold:.4g} (default {self.default:.4g}), "
                f"learned from {self.candidates} candidate divisions ({self.divisions} true; "
                f"{self.censored} at the last frames left out): it accepts "
                f"{self.accepted_true} true and {self.accepted_false} false")


def is_division(w: Weighed, covered_before: dict[int, int], covered_at: dict[int, int], *,
                records: dict[int, TrackRecord], frame: int) -> bool:
    """Whether candidate ``w`` is a division of the reference: the mother's object covers
    the marker of a track M in the frame before (``covered_before``: marker -> object, as
    ``covering_objects`` gives it), and each daughter covers the marker of a track that
    begins in ``frame`` (the sequence's frame number of ``w.frame``) with parent M."""
    mothers = {m for m, obj in covered_before.items() if obj == w.mother}

    def children_of(obj: int) -> set[int]:
        return {records[m].parent for m, o in covered_at.items()
                if o == obj and m in records and records[m].begin == frame}

    return bool(mothers & children_of(w.daughters[0]) & children_of(w.daughters[1]))


def label_candidates(masks: Sequence[np.ndarray], markers: Sequence[np.ndarray],
                     records: Sequence[TrackRecord], *, frames: Sequence[int],
                     cfg: TrackingConfig) -> Labelled:
    """The candidate divisions the tracker weighs on ``masks`` (T arrays (H, W), reference
    or other given instance masks), labelled by the TRA ``markers`` (T arrays (H, W)) and
    the ``records`` of man_track.txt; ``frames``: the T frame numbers."""
    by_label = {r.label: r for r in records}

    @functools.cache
    def covered(t: int) -> dict[int, int]:
        return covering_objects(markers[t], masks[t])

    ev, true, censored = [], [], 0
    for w in candidate_divisions(masks, cfg):
        if w.censored:
            censored += 1
            continue
        ev.append(w.evidence)
        true.append(is_division(w, covered(w.frame - 1), covered(w.frame), records=by_label,
                                frame=frames[w.frame]))
    return Labelled(np.array(ev, float), np.array(true, bool), censored)


def learn_division_evidence(parts: Sequence[Labelled], default: float) -> DivisionLearning:
    """The threshold learned from the candidates of one or more sequences, pooled."""
    ev = np.concatenate([p.evidence for p in parts]) if parts else np.zeros(0)
    true = np.concatenate([p.is_division for p in parts]) if parts else np.zeros(0, bool)
    threshold = learn_threshold(ev, true, default)
    accepted = ev >= threshold
    return DivisionLearning(threshold, default, int(ev.size), int(true.sum()),
                            sum(p.censored for p in parts), int((accepted & true).sum()),
                            int((accepted & ~true).sum()))
