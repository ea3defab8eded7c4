"""Tracking by global assignment (pure numpy / scipy): frame-to-frame links that maximise the
total IoU (``scipy.optimize.linear_sum_assignment``), gap closing, divisions accepted only
when they look like divisions, fragments merged, short spurious tracks removed.

Steps, each a function of per-frame object tables (steps 1, 2, the flicker of 4 and the CTC
output live in ``ctc_unet.tracking.tracklets``; this module decides step 3 and composes them):

1. ``link_frames``: objects of consecutive frames are matched one to one, maximising the sum
   of IoU over pairs with IoU >= ``min_iou`` (greedy "largest overlap first" can be wrong:
   a test shows a case) and, with ``link_cover`` > 0, pairs whose smaller object lies that
   much inside the larger (a cell shrinking to a remnant); with ``link_lookback`` a pair
   scores the larger of its IoU and the new object's IoU with the track's object one frame
   earlier (``link_sequence``), so a track keeps its identity when its object splits into
   halves for one frame.
2. Chains of matches are tracklets. ``close_gaps``: a tracklet that ends is continued by one
   that starts up to ``max_gap`` frames later within ``max_gap_distance`` px (centroids), by a
   second global assignment. In CTC results a track must be present in every frame from B to
   E, so the later segment gets a new label whose parent is the earlier one (the format's
   encoding of a gap); ``divisions`` counts only parents with two daughters.
3. ``_Divisions``: a tracklet that starts next to a mother (a tracklet of the previous
   frame, continued or not) becomes her daughter only if the event looks like a division:
   by default the cues of ``ctc_unet.tracking.divisions`` weighed together reach
   ``division_evidence``; with ``division_rule: cutoffs`` the daughters have similar areas
   (``division_size_ratio``), together about the mother's area (``division_area``), the
   mother was seen for ``division_min_mother`` frames and both daughters last
   ``division_min_daughter`` frames. Other such starts are tracks of their own, never
   daughters; with ``fragment_area`` > 0 a short one that with its sibling is no larger than
   ``fragment_area`` x the mother and that the cell takes back in the frame after its last
   (pieces of one cell) is merged into the touching sibling (without the take-back
   condition, merging joined real cells on DIC-HeLa predictions); with ``fragment_goes_on``
   the mirror case too: the mother's continuation is short and the start takes it back, so
   the mother goes on as the start and her short continuation is the fragment.
4. With a learned ``support.TrackSupport`` and the objects' mean cell probabilities, lineages
   (tracklets joined by parent links) unlikely to be cells are dropped; tracks shorter than
   ``min_track_frames`` with no relatives that neither start in the first nor end in the last
   frame are dropped (flicker).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ctc_unet.config import TrackingConfig
from ctc_unet.data.ctc import TrackRecord
from ctc_unet.data.labels import overlap_pairs
from ctc_unet.tracking.divisions import ANCHORS, Candidate, Weighed, evidence
from ctc_unet.tracking.overlap import track
from ctc_unet.tracking.support import (
    TrackSupport,
    drop_unsupported,
    lineage_rows,
    matched_objects,
)
from ctc_unet.tracking.tracklets import (
    Tracklet,
    build_tracklets,
    close_gaps,
    link_sequence,
    object_table,
    remove_flicker,
    to_ctc,
)

logger = logging.getLogger(__name__)


def _touching(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two (H, W) masks overlap or are 8-adjacent."""
    return bool((ndi.binary_dilation(a, np.ones((3, 3), bool)) & b).any())


class _Divisions:
    """Step 3 of the module docstring, over tracklets that ``build_tracklets`` made."""

    def __init__(self, tracklets: list[Tracklet], tables: list[dict], labels: Sequence,
                 inters: list[dict], cfg: TrackingConfig) -> None:
        self.tr, self.tables, self.labels, self.inters, self.cfg = (
            tracklets, tables, labels, inters, cfg)
        self.removed: set[int] = set()
        self.divided: set[int] = set()
        # a list: every candidate is weighed by the evidence rule, recorded there and
        # rejected (candidate_divisions); None: candidates are decided
        self.weighed: list[Weighed] | None = None

    def owner(self, t: int, lab: int) -> int | None:
        """The live tracklet that holds object ``lab`` of frame ``t`` (None: a fragment
        that was merged away)."""
        return next((k for k, tr in enumerate(self.tr)
                     if k not in self.removed and tr.start <= t <= tr.end
                     and tr.ids[t - tr.start] == lab), None)

    def mother_area(self, mother: int, s: int) -> int:
        m = self.tr[mother]
        return self.tables[s - 1][m.ids[s - 1 - m.start]][0]

    def looks_like_division(self, mother: int, s: int, d1: tuple[int, int],
                            d2: tuple[int, int]) -> bool:
        """Whether the mother's object in frame s - 1 divides into objects ``d1``, ``d2`` of
        frame s, each given as (label in frame s, frames its tracklet lasts)."""
        cfg, m, last = self.cfg, self.tr[mother], len(self.tables) - 1
        a_m, y_m, x_m = self.tables[s - 1][m.ids[s - 1 - m.start]]
        (a1, y1, x1), (a2, y2, x2) = self.tables[s][d1[0]], self.tables[s][d2[0]]
        if cfg.division_rule == "cutoffs" and self.weighed is None:
            lo, hi = cfg.division_area
            return (min(a1, a2) / max(a1, a2) >= cfg.division_size_ratio
                    and lo <= (a1 + a2) / a_m <= hi
                    and s - m.start >= cfg.division_min_mother
                    and min(d1[1], d2[1]) >= cfg.division_min_daughter)
        long = 10 ** 6  # seen from the first frame or to the last: as long as can be told
        cand = Candidate(
            mother_area=a_m, mother_yx=(y_m, x_m),
            mother_history=tuple(self.tables[t][m.ids[t - m.start]][0]
                                 for t in range(max(m.start, s - 11), s - 1)),
            mother_frames=long if m.start == 0 else s - m.start,
            daughter_areas=(a1, a2), daughter_yx=((y1, x1), (y2, x2)),
            daughter_frames=tuple(long if s + n - 1 >= last else n for n in (d1[1], d2[1])))
        value = evidence(cand)
        if self.weighed is not None:
            cut = min(cand.daughter_frames) == long  # both daughters reach the last frame
            self.weighed.append(Weighed(
                s, m.ids[s - 1 - m.start], (d1[0], d2[0]), value,
                censored=cut and min(d1[1], d2[1]) < ANCHORS["persist"][1]))
        return self.weighed is None and value >= cfg.division_evidence

    def run(self) -> set[int]:
        """Decide every tracklet that starts next to a mother; returns the removed ones."""
        for b in sorted(range(len(self.tr)), key=lambda k: self.tr[k].start):
            tb = self.tr[b]
            if b in self.removed or tb.start == 0 or tb.parent >= 0:
                continue
            s = tb.start
            over = [(n, p) for (p, c), n in self.inters[s].items() if c == tb.ids[0]]
            if not over:
                continue  # nothing there before: a cell that enters
            mother = self.owner(s - 1, max(over)[1])
            if mother is None or mother in self.divided:
                continue
            self.decide(mother, b, s)
        return self.removed

    def decide(self, mother: int, b: int, s: int) -> None:
        m, tb = self.tr[mother], self.tr[b]
        a_b = self.tables[s][tb.ids[0]][0]
        if m.end >= s:  # the mother goes on: her continuation is the sibling
            sib_id = m.ids[s - m.start]
            a_c, len_c = self.tables[s][sib_id][0], m.end - s + 1
            if self.looks_like_division(mother, s, (tb.ids[0], len(tb.ids)), (sib_id, len_c)):
                rest = Tracklet(s, m.ids[s - m.start:], parent=mother)
                m.ids = m.ids[:s - m.start]
                self.tr.append(rest)
                tb.parent = mother
                self.divided.add(mother)
                return
            fits = a_b + a_c <= self.cfg.fragment_area * self.mother_area(mother, s)
            min_daughter = self.cfg.division_min_daughter
            if fits and len(tb.ids) < min_daughter and self.covers_last(tb, m):
                self.merge_fragment(b, mother)
            elif (fits and self.cfg.fragment_goes_on and len_c < min_daughter
                  and not self.continued(mother) and self.covers_last(m, tb)):
                self.continue_as(mother, b)
            return
        sisters = [k for k, tr in enumerate(self.tr) if k != b and k not in self.removed
                   and tr.start == s and tr.parent < 0
                   and (m.ids[-1], tr.ids[0]) in self.inters[s]]
        for k in sisters:
            tk = self.tr[k]
            if self.looks_like_division(mother, s, (tb.ids[0], len(tb.ids)),
                                        (tk.ids[0], len(tk.ids))):
                tb.parent = tk.parent = mother
                self.divided.add(mother)
                return

    def covers_last(self, short: Tracklet, cell: Tracklet) -> bool:
        """Whether ``cell`` takes ``short`` back: its object in the frame after ``short``'s
        last covers at least half of ``short``'s last object."""
        e = short.end
        if not cell.start <= e + 1 <= cell.end:
            return False
        frag, nxt = short.ids[-1], cell.ids[e + 1 - cell.start]
        return self.inters[e + 1].get((frag, nxt), 0) >= 0.5 * self.tables[e][frag][0]

    def continued(self, mother: int) -> bool:
        """Whether a live tracklet continues the mother (a daughter or across a gap)."""
        return any(tr.parent == mother for k, tr in enumerate(self.tr) if k not in self.removed)

    def absorb(self, cell: Tracklet, first: int, frags: list[int]) -> None:
        """Give the fragment objects ``frags`` (one per frame from ``first`` on) to ``cell``
        where it has an object that they touch; the others are dropped."""
        for t, frag in enumerate(frags, start=first):
            if cell.start <= t <= cell.end:
                lab = np.asarray(self.labels[t])
                if _touching(lab == frag, lab == cell.ids[t - cell.start]):
                    cell.merged.setdefault(t, []).append(frag)

    def continue_as(self, mother: int, b: int) -> None:
        """The mother goes on as ``b`` (which is removed); her own objects from ``b``'s
        first frame on are fragments, merged into ``b``'s where they touch."""
        m, tb = self.tr[mother], self.tr[b]
        s = tb.start
        frags = m.ids[s - m.start:]
        m.ids = m.ids[:s - m.start] + tb.ids
        self.absorb(m, s, frags)
        for t, more in tb.merged.items():
            m.merged.setdefault(t, []).extend(more)
        for tr in self.tr:
            if tr.parent == b:
                tr.parent = mother
        self.removed.add(b)

    def merge_fragment(self, b: int, mother: int) -> None:
        """Give a short fragment's pixels to the touching sibling (the mother's continuation),
        frame by frame; fragments that touch nothing are dropped."""
        tb = self.tr[b]
        self.absorb(self.tr[mother], tb.start, tb.ids)
        self.removed.add(b)

def _tracklets(labels: Sequence[np.ndarray], cfg: TrackingConfig) -> _Divisions:
    """Links and tracklets (step 1 of the module docstring), ready for the division
    decisions of step 3."""
    labels = [np.asarray(lab) for lab in labels]
    tables = [object_table(lab) for lab in labels]
    inters = [{}] + [overlap_pairs(a, b) for a, b in itertools.pairwise(labels)]
    tracklets = build_tracklets(tables, link_sequence(labels, tables, inters, cfg))
    return _Divisions(tracklets, tables, labels, inters, cfg)


def candidate_divisions(labels: Sequence[np.ndarray], cfg: TrackingConfig) -> list[Weighed]:
    """Every candidate division the evidence rule weighs on ``labels`` (T arrays (H, W))
    when it accepts none, so that no decision hides a later candidate: what a learned
    ``division_evidence`` is chosen from."""
    divisions = _tracklets(labels, cfg)
    divisions.weighed = []
    divisions.run()
    return divisions.weighed


def _linked(labels: Sequence[np.ndarray], cfg: TrackingConfig) -> tuple[_Divisions, set[int]]:
    """Steps 1-3 and gap closing: the tracklets and the set of removed ones."""
    divisions = _tracklets(labels, cfg)
    removed = divisions.run()
    close_gaps(divisions.tr, divisions.tables, cfg, removed)
    return divisions, removed


def track_global(labels: Sequence[np.ndarray], cfg: TrackingConfig, *,
                 support: TrackSupport | None = None,
                 probabilities: Sequence[dict[int, float]] | None = None
                 ) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Link per-frame instance labels (T arrays (H, W), any ids, 0 = background) into CTC
    tracks; returns T uint16 masks labelled with track ids and the records (0-based frames).
    See the module docstring for the steps; with ``support`` and ``probabilities`` (per
    frame, label -> mean cell probability) the lineages it finds unlikely to be cells go."""
    divisions, removed = _linked(labels, cfg)
    if support is not None and probabilities is not None:
        dropped = drop_unsupported(divisions.tr, removed, divisions.tables,
                                   probabilities=probabilities, support=support)
        logger.info("track support: %d lineage(s) unlikely to be cells dropped", dropped)
    remove_flicker(divisions.tr, removed, len(labels), cfg.min_track_frames)
    return to_ctc(divisions.tr, removed, divisions.labels)


def lineage_examples(labels: Sequence[np.ndarray], cfg: TrackingConfig,
                     probabilities: Sequence[dict[int, float]],
                     markers: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Training rows for ``support.fit_support``: the (N, F) features of the lineages the
    tracker builds from ``labels`` and, (N,), the fraction of each lineage's objects that
    match a TRA marker of ``markers`` (T arrays (H, W))."""
    divisions, removed = _linked(labels, cfg)
    _, rows, objects = lineage_rows(divisions.tr, removed, divisions.tables, probabilities)
    matched = [matched_objects(lab, mk)
               for lab, mk in zip(divisions.labels, markers, strict=True)]
    hits = np.array([np.mean([i in matched[t] for t, i in objs]) for objs in objects])
    return rows, hits


def track_instances(labels: Sequence[np.ndarray], cfg: TrackingConfig, *,
                    support: TrackSupport | None = None,
                    probabilities: Sequence[dict[int, float]] | None = None
                    ) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Track with the configured method: ``global`` (this module, ``support`` and
    ``probabilities`` as there) or ``overlap`` (greedy)."""
    if cfg.method == "overlap":
        return track(labels, cfg.min_overlap)
    return track_global(labels, cfg, support=support, probabilities=probabilities)
