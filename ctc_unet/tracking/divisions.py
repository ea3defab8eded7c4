"""How much a candidate division looks like one (pure numpy): cues that a mitosis shows on any
sequence, each turned into a plausibility in [FLOOR, 1] by a linear ramp between two anchors,
multiplied together. One strong cue against a division (a mother twice her own size, daughters
that vanish after a frame) outweighs several mild ones for it, and a cue just past an anchor
costs a little instead of deciding alone, as the hard cut-offs of the first tracker did.

The cues, measured on the masks (a mother in frame s - 1, two daughters in frame s):

- ``similar``: the smaller daughter's area over the larger's (a cell divides into halves);
- ``conserved``: both daughters' area over the mother's (no cell appears from nowhere);
- ``opposite``: the daughters lie on opposite sides of the mother: the cosine of the angle
  between the mother-to-daughter vectors (-1: opposite) and the distance of the daughters'
  midpoint from the mother's centroid over the daughters' distance (0: centred);
- ``rounded``: the mother's area before the division over her median area in the frames
  before it (a cell rounds up for mitosis and covers less; two cells that merged in the masks
  and come apart again cover about twice as much);
- ``history``: frames the mother was seen before (one that appears and splits at once is a
  fragment); ``persist``: frames the shorter daughter lasts (fragments flicker).

The anchors were set from what mitosis does, looking at the candidate events of DIC-HeLa 01
(its silver truth and one model's masks, every frame, the reporting block included), so 01's
reporting block is no choosing-free estimate of this rule; Fluo-N2DH-GOWT1 and the challenge
sequences are (docs/tracking.md). The threshold ``division_evidence`` is the tracker's one
setting chosen by the project's rule (``benchmarks/choose_tracker.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FLOOR = 0.05  # least plausibility of one cue: strong evidence against, not proof

# cue -> (value where plausibility is FLOOR, value where it is 1); ramps are linear between
ANCHORS: dict[str, tuple[float, float]] = {
    "similar": (0.2, 0.6),
    "cosine": (-0.4, -0.85),
    "centred": (0.6, 0.3),
    "rounded": (1.8, 1.15),
    "history": (0.0, 3.0),
    "persist": (1.0, 4.0),
}
CONSERVED = ((0.4, 0.7), (2.0, 3.0))  # (FLOOR, 1) below and (1, FLOOR) above the band


@dataclass(frozen=True)
class Candidate:
    """A mother (area, centroid, area history before frame s - 1, frames seen) and two
    daughters (areas, centroids, frames each lasts) of a candidate division."""

    mother_area: float
    mother_yx: tuple[float, float]
    mother_history: tuple[float, ...]  # her areas in up to 10 frames before s - 1
    mother_frames: int  # frames she was seen up to s - 1 (sequence start: count as long)
    daughter_areas: tuple[float, float]
    daughter_yx: tuple[tuple[float, float], tuple[float, float]]
    daughter_frames: tuple[int, int]  # frames each lasts (to the sequence's end at most)


def ramp(value: float, bad: float, good: float) -> float:
    """Plausibility FLOOR at ``bad``, 1 at ``good``, linear between, clipped."""
    f = (value - bad) / (good - bad)
    return FLOOR + (1.0 - FLOOR) * min(1.0, max(0.0, f))


def cues(c: Candidate) -> dict[str, float]:
    """Each cue's plausibility (FLOOR..1) for candidate ``c``."""
    a1, a2 = c.daughter_areas
    (y1, x1), (y2, x2) = c.daughter_yx
    ym, xm = c.mother_yx
    v1, v2 = (y1 - ym, x1 - xm), (y2 - ym, x2 - xm)
    n1, n2 = math.hypot(*v1), math.hypot(*v2)
    cosine = (v1[0] * v2[0] + v1[1] * v2[1]) / (n1 * n2) if n1 * n2 > 0 else 0.0
    sep = math.hypot(y1 - y2, x1 - x2)
    centred = math.hypot((y1 + y2) / 2 - ym, (x1 + x2) / 2 - xm) / max(sep, 1.0)
    q = (a1 + a2) / c.mother_area
    (q_bad_lo, q_lo), (q_hi, q_bad_hi) = CONSERVED
    hist = sorted(c.mother_history)
    out = {
        "similar": min(a1, a2) / max(a1, a2),
        "cosine": cosine,
        "centred": centred,
        "rounded": c.mother_area / hist[len(hist) // 2] if hist else 1.0,
        "history": float(c.mother_frames),
        "persist": float(min(c.daughter_frames)),
    }
    plaus = {k: ramp(v, *ANCHORS[k]) for k, v in out.items()}
    plaus["conserved"] = min(ramp(q, q_bad_lo, q_lo), ramp(q, q_bad_hi, q_hi))
    return plaus


def evidence(c: Candidate) -> float:
    """The product of the cues' plausibilities: 1 = every cue as a division shows it."""
    return math.prod(cues(c).values())


@dataclass(frozen=True)
class Weighed:
    """A candidate division the tracker weighed: daughters in frame ``frame`` (an index into
    the masks it linked), the mother's label in ``frame - 1``, the daughters' labels, the
    evidence and whether it is censored (a daughter reaches the last frame in fewer frames
    than ``persist`` needs to count fully: the end of the data, not the cell, cut it short)."""

    frame: int
    mother: int
    daughters: tuple[int, int]
    evidence: float
    censored: bool


def learn_threshold(evidence: Sequence[float], is_division: Sequence[bool],
                    default: float) -> float:
    """The ``division_evidence`` that accepts the most true minus false candidate divisions
    (N evidences, N labels). Among equally good thresholds the one nearest ``default`` (in
    log), so that candidates that decide nothing leave the default as it is; the thresholds
    weighed are the evidences themselves (accept down to that one) and the geometric middles
    between neighbouring ones (reject the lower one with a margin)."""
    ev = np.asarray(evidence, float)
    true = np.asarray(is_division, bool)
    if ev.shape != true.shape:
        raise ValueError(f"{ev.shape} evidences, {true.shape} labels")
    ref = max(default, 1e-12)
    values = np.unique(ev[ev > 0])
    options = np.concatenate([values, np.sqrt(values[1:] * values[:-1]), [ref]])

    def gain(th: float) -> int:
        accepted = ev >= th
        return int((accepted & true).sum() - (accepted & ~true).sum())

    return float(max(options, key=lambda th: (gain(th), -abs(math.log(th / ref)))))
