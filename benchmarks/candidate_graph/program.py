"""One global choice over time: which candidates are cells and how they link, as an integer
program over the candidate graph, solved with HiGHS (``scipy.optimize.milp``).

Variables (all 0/1), in this order: x_c a candidate is chosen, y_l a link is used, a_c a
chosen candidate starts a track, d_c it ends one, s_c it divides. Constraints:

- at most one candidate of each conflict set (candidates that claim a common pixel);
- flow in: sum of y over links into c, plus a_c, equals x_c (one predecessor at most);
- flow out: sum of y over links out of c, plus d_c, equals x_c + s_c, and s_c <= x_c (one
  successor, or two when it divides).

The cost of a solution y is ``w @ phi @ y``: for every chosen candidate and link the negative
log-odds that it is right (linear in their features), a cost per level a candidate lies from
the chosen threshold's, and fixed costs for starting a track (not in the first frame), ending
one (not in the last) and dividing (``GraphCosts``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from ctc_unet.data.ctc import TrackRecord
from ctc_unet.errors import CtcUnetError

from .candidates import FrameCandidates
from .graph import Links

logger = logging.getLogger(__name__)

WEIGHTS = 12  # node 3, edge 5, appear, disappear, division, level


@dataclass(frozen=True)
class GraphCosts:
    """Weights of the log-odds that a candidate is a cell (``node``: over mean probability,
    |log relative area|, bias) and that a link is right (``edge``: over IoU, distance, area
    change, gap, bias), the costs of a track's start, end and division, and of each level a
    chosen candidate lies from the chosen threshold's (``level``)."""

    node: tuple[float, ...] = (6.0, -3.0, -2.0)
    edge: tuple[float, ...] = (8.0, -1.0, -2.0, -1.5, -1.0)
    appear: float = 3.0
    disappear: float = 3.0
    division: float = 2.0
    level: float = 0.0

    @staticmethod
    def node_terms(features: np.ndarray) -> np.ndarray:
        """(n, 3): mean probability, |log relative area|, 1 of candidate feature rows."""
        rel = np.maximum(features[:, 2], 1e-6)
        return np.column_stack([features[:, 0], np.abs(np.log(rel)), np.ones(len(features))])

    @staticmethod
    def edge_terms(features: np.ndarray) -> np.ndarray:
        """(n, 5): the link features and 1."""
        return np.column_stack([features, np.ones(len(features))])

    def vector(self) -> np.ndarray:
        """(WEIGHTS,) in ``phi``'s row order."""
        return np.r_[self.node, self.edge, self.appear, self.disappear, self.division,
                     self.level]

    @classmethod
    def from_vector(cls, w: Sequence[float]) -> GraphCosts:
        w = [float(v) for v in w] + [0.0] * (WEIGHTS - len(w))
        return cls(tuple(w[0:3]), tuple(w[3:8]), w[8], w[9], w[10], w[11])

    def to_dict(self) -> dict:
        return {"node": list(self.node), "edge": list(self.edge), "appear": self.appear,
                "disappear": self.disappear, "division": self.division, "level": self.level}

    @classmethod
    def from_dict(cls, data: dict) -> GraphCosts:
        return cls(tuple(data["node"]), tuple(data["edge"]), float(data["appear"]),
                   float(data["disappear"]), float(data["division"]),
                   float(data.get("level", 0.0)))


@dataclass(frozen=True)
class Program:
    """The constraints ``lower <= matrix @ y <= upper`` over the 4 n + e variables of n
    candidates and e links (module docstring), and ``phi`` (WEIGHTS, 4 n + e)."""

    matrix: sparse.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    phi: np.ndarray
    n: int
    e: int


def build_program(frames: Sequence[FrameCandidates], links: Links) -> Program:
    """The program of ``frames`` (candidate ids 0 .. n - 1) and ``links``."""
    n, e = sum(fc.ids.size for fc in frames), len(links)
    frame_of = np.concatenate([np.full(fc.ids.size, fc.t) for fc in frames])
    x, y, a, d, s = (np.arange(n), n + np.arange(e), n + e + np.arange(n),
                     2 * n + e + np.arange(n), 3 * n + e + np.arange(n))
    idx = np.arange(n)
    rows, cols, vals, lo, hi = [], [], [], [], []

    def add(parts, lower: float, upper: float, n_rows: int) -> None:
        for c, v, r in parts:
            rows.append(len(lo) + r)
            cols.append(c)
            vals.append(np.broadcast_to(v, c.shape))
        lo.extend([lower] * n_rows)
        hi.extend([upper] * n_rows)

    add([(y, 1.0, links.dst), (a, 1.0, idx), (x, -1.0, idx)], 0.0, 0.0, n)
    add([(y, 1.0, links.src), (d, 1.0, idx), (x, -1.0, idx), (s, -1.0, idx)], 0.0, 0.0, n)
    add([(s, 1.0, idx), (x, -1.0, idx)], -np.inf, 0.0, n)
    sets = [c for fc in frames for c in fc.conflicts]
    if sets:
        members = np.concatenate([np.asarray(c) for c in sets])
        which = np.repeat(np.arange(len(sets)), [len(c) for c in sets])
        add([(members, 1.0, which)], -np.inf, 1.0, len(sets))
    matrix = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                       np.concatenate(cols))),
                               shape=(len(lo), 4 * n + e))
    features = np.concatenate([fc.features for fc in frames])
    phi = np.zeros((WEIGHTS, 4 * n + e))
    phi[0:3, x] = -GraphCosts.node_terms(features).T
    phi[3:8, y] = -GraphCosts.edge_terms(links.features).T
    phi[8, a] = frame_of != frame_of.min()
    phi[9, d] = frame_of != frame_of.max()
    phi[10, s] = 1.0
    phi[11, x] = features[:, 4]
    return Program(matrix, np.asarray(lo), np.asarray(hi), phi, n, e)


def solve_program(program: Program, cost: np.ndarray, time_limit: float = 600.0
                  ) -> np.ndarray:
    """The 0/1 vector y (4 n + e) of least ``cost @ y`` under the program's constraints."""
    result = milp(cost, constraints=LinearConstraint(program.matrix, program.lower,
                                                     program.upper),
                  integrality=np.ones(cost.size), bounds=Bounds(0, 1),
                  options={"time_limit": time_limit, "disp": False})
    if result.x is None:
        raise CtcUnetError(f"the tracking program found no solution ({result.message})")
    return (result.x > 0.5).astype(float)


@dataclass(frozen=True)
class Solution:
    """Which candidates (by id) and which links (by index) the program chose."""

    nodes: np.ndarray
    links: np.ndarray
    seconds: float


def solve(frames: Sequence[FrameCandidates], links: Links, costs: GraphCosts,
          time_limit: float = 600.0, program: Program | None = None) -> Solution:
    """The cheapest consistent choice of candidates and links (module docstring);
    ``program``: ``build_program(frames, links)`` when built already."""
    t0 = time.perf_counter()
    program = program or build_program(frames, links)
    y = solve_program(program, costs.vector() @ program.phi, time_limit)
    n, e = program.n, program.e
    seconds = time.perf_counter() - t0
    logger.info("tracking program: %d candidates, %d links; %d cells chosen in %.1f s", n, e,
                int(y[:n].sum()), seconds)
    return Solution(y[:n] > 0, y[n:n + e] > 0, seconds)


def assemble(frames: Sequence[FrameCandidates], links: Links, solution: Solution
             ) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Tracked label images and track records (frames = list positions) of a solution: a
    chosen candidate continues its predecessor's track when the predecessor has one
    successor in the next frame; a division's daughters and a gap's later part start tracks
    whose parent is the track before (the CTC format's encoding of a gap)."""
    used = np.flatnonzero(solution.links)
    succ: dict[int, list[int]] = {}
    pred: dict[int, int] = {}
    for k in used:
        succ.setdefault(int(links.src[k]), []).append(int(links.dst[k]))
        pred[int(links.dst[k])] = int(links.src[k])
    frame_of = {int(c): fc.t for fc in frames for c in fc.ids}
    label_of: dict[int, int] = {}
    records: dict[int, TrackRecord] = {}
    for c in sorted(np.flatnonzero(solution.nodes).tolist(), key=lambda c: frame_of[c]):
        p = pred.get(c)
        t = frame_of[c]
        if p is not None and len(succ.get(p, [])) == 1 and frame_of[p] == t - 1:
            label = label_of[p]
            records[label] = TrackRecord(label, records[label].begin, t,
                                         records[label].parent)
        else:
            label = len(records) + 1
            parent = label_of[p] if p is not None else 0
            records[label] = TrackRecord(label, t, t, parent)
        label_of[c] = label
    masks = []
    for fc in frames:
        out = np.zeros(fc.levels.shape[1:], np.uint16)
        for c in fc.ids:
            if int(c) in label_of:
                out[fc.mask(int(c))] = label_of[int(c)]
        masks.append(out)
    return masks, sorted(records.values(), key=lambda r: r.label)


def chosen_outlines(cells: np.ndarray, chosen_level: np.ndarray) -> np.ndarray:
    """The program's cells (H, W) drawn with the chosen threshold's outlines
    (``chosen_level``: that level's label image, (H, W)): each object of the chosen level
    more than half inside one cell becomes (part of) that cell (a cell chosen at a lower
    threshold, kept whole); a cell with no such part that lies more than half inside one
    object, alone, takes that object's outline (a cell chosen at a higher threshold); any
    other cell keeps its own outline. The program decides which cells exist and how they
    link, the chosen threshold how they look."""
    out = np.zeros_like(cells)
    pairs: dict[tuple[int, int], int] = {}
    both = (cells > 0) & (chosen_level > 0)
    for k, o in zip(cells[both].tolist(), chosen_level[both].tolist(), strict=True):
        pairs[(k, o)] = pairs.get((k, o), 0) + 1
    cell_area = np.bincount(cells.ravel())
    object_area = np.bincount(chosen_level.ravel())
    parts = {o: k for (k, o), n in pairs.items() if 2 * n > object_area[o]}
    whole = {k for k in parts.values()}
    hosts: dict[int, list[int]] = {}
    for (k, o), n in pairs.items():
        if k not in whole and o not in parts and 2 * n > cell_area[k]:
            hosts.setdefault(o, []).append(k)
    parts |= {o: ks[0] for o, ks in hosts.items() if len(ks) == 1}
    for o, k in parts.items():
        out[chosen_level == o] = k
    for label in np.unique(cells[cells > 0]):
        if label not in parts.values():
            out[(cells == label) & (out == 0)] = label
    return out
