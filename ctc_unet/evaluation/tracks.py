"""Why reference tracks are incomplete: the complete-tracks measure (CT) taken apart.

py-ctcmetrics' CT (``ctc_metrics.metrics.biological.ct``, after Ulman et al. 2017) counts a
reference track as complete when, in every frame of it, its marker is matched by an object
(more than half of the marker covered) that matches no other marker, always the same result
label, and that result track begins and ends in the same frames as the reference track;
CT = 2 T_rc / (T_r + T_c) with T_rc complete tracks, T_r reference and T_c result tracks.
``incomplete_tracks`` applies the same test and says, for each reference track that fails it,
what failed: frames where the marker was missed or its object covers other markers too, a
change of result label, or a result track that begins earlier or ends later (e.g. a reference
track that restarts without a parent where the masks show one cell).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ctc_unet.data.ctc import TrackRecord
from ctc_unet.data.labels import marker_matches


@dataclass(frozen=True)
class TrackLoss:
    """A reference track that is not complete, and why."""

    label: int
    begin: int
    end: int
    missed: tuple[int, ...]    # frames where no object covers more than half of its marker
    merged: tuple[int, ...]    # frames where its object also matches another marker
    labels: tuple[int, ...]    # the result labels that match it, in order of frames
    span: tuple[int, int] | None  # the single matching result track's (begin, end), if any

    def causes(self) -> str:
        """The reasons in words, frames as given."""
        out = []
        if self.missed:
            out.append("missed in " + _frames(self.missed))
        if self.merged:
            out.append("merged with another cell in " + _frames(self.merged))
        if len(self.labels) > 1:
            out.append(f"{len(self.labels)} result labels")
        if self.span is not None and self.span != (self.begin, self.end):
            out.append(f"its result track spans {self.span[0]}-{self.span[1]}")
        return "; ".join(out)


def _frames(frames: tuple[int, ...]) -> str:
    return ", ".join(str(t) for t in frames)


def incomplete_tracks(markers: Iterable[np.ndarray], reference: list[TrackRecord],
                      labels: Iterable[np.ndarray], records: list[TrackRecord],
                      *, first: int = 0) -> tuple[int, list[TrackLoss]]:
    """The number of complete reference tracks and a TrackLoss for each other one.

    markers, labels: per frame from frame ``first`` on, (H, W) label images of the reference
    markers and of the result (read one frame at a time); reference, records: their track
    records, frames numbered as the sequence numbers them.
    """
    matches = [marker_matches(mk, lab) for mk, lab in zip(markers, labels, strict=True)]
    spans = {r.label: (r.begin, r.end) for r in records}
    complete, losses = 0, []
    for ref in sorted(reference, key=lambda r: (r.begin, r.label)):
        frames = range(ref.begin, ref.end + 1)
        got = [matches[t - first].get(ref.label, -1) for t in frames]
        missed = tuple(t for t, g in zip(frames, got, strict=True) if g < 0)
        merged = tuple(t for t, g in zip(frames, got, strict=True) if g == 0)
        found = tuple(dict.fromkeys(g for g in got if g > 0))
        span = spans.get(found[0]) if len(found) == 1 else None
        if not missed and not merged and len(found) == 1 and span == (ref.begin, ref.end):
            complete += 1
        else:
            losses.append(TrackLoss(ref.label, ref.begin, ref.end, missed, merged, found, span))
    return complete, losses


def complete_tracks(n_complete: int, n_reference: int, n_result: int) -> float:
    """CT = 2 T_rc / (T_r + T_c)."""
    total = n_reference + n_result
    return 2.0 * n_complete / total if total else 0.0
