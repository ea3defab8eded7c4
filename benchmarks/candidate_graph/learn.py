"""Costs of the candidate program learned from a sequence's own annotations: its TRA markers
(every cell of every frame) and man_track.txt tell which candidates are cells and which links
are right.

Two learners: ``learn_costs`` fits two marginal logistic regressions (a candidate is a cell; a
link joins one cell to itself, or a mother to her daughter) and takes the start, end and
division costs as the negative log-odds of their frequencies; ``learn_structured`` fits all
weights at once with the program in the loop (a structured SVM, as motile learns its weights:
a bundle method, structsvm's or ``bundle_minimize``; a Hamming loss or the challenge's AOGM,
``aogm_loss``; loss-augmented inference by the program itself).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from ctc_unet.data.ctc import TrackRecord

from .candidates import FrameCandidates
from .graph import Links
from .program import GraphCosts, Program, solve_program

logger = logging.getLogger(__name__)

L2 = 1e-2  # ridge on the logistic weights (not the bias): a few hundred samples suffice
MIN_SAMPLES = 5  # of each class, else the hand-set weights stand


def marker_hits(fc: FrameCandidates, markers: np.ndarray) -> dict[int, list[int]]:
    """Candidate id -> the markers (ascending) of which it holds more than half, the
    challenge's matching rule, for one frame (one pass over each level's pixels)."""
    marks = np.asarray(markers)
    sizes = np.bincount(marks.ravel())
    hits: dict[int, list[int]] = {int(c): [] for c in fc.ids}
    done: set[int] = set()
    for level in fc.levels:
        both = (level > 0) & (marks > 0)
        keys, counts = np.unique(level[both].astype(np.int64) * sizes.size + marks[both],
                                 return_counts=True)
        for key, n in zip(keys.tolist(), counts.tolist(), strict=True):
            cid, m = divmod(key, sizes.size)
            if cid - 1 not in done and n > 0.5 * sizes[m]:
                hits[cid - 1].append(m)
        done.update(int(v) - 1 for v in np.unique(level[level > 0]))
    return hits


def candidate_markers(fc: FrameCandidates, markers: np.ndarray) -> dict[int, int]:
    """Candidate id -> the marker label it is (0: not a cell) for one frame: it holds one
    marker, and no other candidate of its level holds that marker."""
    hits = marker_hits(fc, markers)
    out: dict[int, int] = {}
    for level in fc.levels:
        found: dict[int, list[int]] = {}
        for cid in (np.unique(level[level > 0]) - 1).tolist():
            if len(hits[cid]) == 1:
                found.setdefault(hits[cid][0], []).append(cid)
            out.setdefault(cid, 0)
        for m, cids in found.items():
            if len(cids) == 1:
                out[cids[0]] = m
    return out


def link_labels(frames: Sequence[FrameCandidates], links: Links, cell_of: dict[int, int],
                records: Sequence[TrackRecord]) -> np.ndarray:
    """1 for a link between two cells of one track (or a mother's last frame and a
    daughter's first), else 0."""
    parent = {r.label: r.parent for r in records}
    begin = {r.label: r.begin for r in records}
    frame_of = {int(c): fc.t for fc in frames for c in fc.ids}
    out = np.zeros(len(links), int)
    for k, (a, b) in enumerate(zip(links.src, links.dst, strict=True)):
        ma, mb = cell_of.get(int(a), 0), cell_of.get(int(b), 0)
        if ma and mb and (ma == mb or (parent.get(mb) == ma
                                       and begin.get(mb) == frame_of[int(b)])):
            out[k] = 1
    return out


def fit_logistic(terms: np.ndarray, labels: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Weights of a logistic regression of ``labels`` on ``terms`` (last column: bias),
    ridge-penalized but for the bias; ``start`` where too few samples of a class exist."""
    if min(int(labels.sum()), int((1 - labels).sum())) < MIN_SAMPLES:
        return np.asarray(start, float)
    y = 2.0 * labels - 1.0
    ridge = np.r_[np.full(terms.shape[1] - 1, L2), 0.0]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = y * (terms @ w)
        value = np.logaddexp(0.0, -z).mean() + 0.5 * float(ridge @ (w * w))
        grad = -(terms.T @ (y / (1.0 + np.exp(z)))) / len(z) + ridge * w
        return value, grad

    return minimize(loss, np.asarray(start, float), jac=True, method="L-BFGS-B").x


def fit_ranked(terms: np.ndarray, labels: np.ndarray, links: Links, start: np.ndarray
               ) -> np.ndarray:
    """Link weights that rank a candidate's right incoming (and outgoing) link above its
    rivals (a logistic regression on feature differences), then scaled and shifted to the
    log-odds that a link is right (a one-dimensional logistic regression)."""
    diffs = []
    for ends in (links.dst, links.src):
        for node in np.unique(ends[labels == 1]):
            mine = ends == node
            right = np.flatnonzero(mine & (labels == 1))
            wrong = np.flatnonzero(mine & (labels == 0))
            for r in right:
                diffs += [terms[r] - terms[w] for w in wrong]
    if len(diffs) < MIN_SAMPLES:
        return fit_logistic(terms, labels, start)
    d = np.asarray(diffs)[:, :-1]  # the bias cancels in a difference
    both = np.vstack([d, -d])
    y = np.r_[np.ones(len(d)), np.zeros(len(d))]
    w = fit_logistic(np.column_stack([both, np.zeros(len(both))]), y,
                     np.zeros(both.shape[1] + 1))[:-1]
    score = terms[:, :-1] @ w
    a, b = fit_logistic(np.column_stack([score, np.ones(len(score))]), labels,
                        np.array([1.0, 0.0]))
    return np.r_[a * w, b]


def log_odds_cost(events: int, chances: int) -> float:
    """The negative log-odds of an event seen ``events`` times in ``chances`` (smoothed)."""
    p = (events + 1.0) / (chances + 2.0)
    return float(np.log((1.0 - p) / p))


def learn_costs(frames: Sequence[FrameCandidates], links: Links,
                markers: Sequence[np.ndarray], records: Sequence[TrackRecord],
                start: GraphCosts | None = None) -> tuple[GraphCosts, dict]:
    """Costs fitted to annotated frames (``markers`` one per frame of ``frames``, ``records``
    their tracks with frames = list positions) and a summary of what they were fitted on."""
    start = start or GraphCosts()
    cell_of: dict[int, int] = {}
    for fc, m in zip(frames, markers, strict=True):
        cell_of.update(candidate_markers(fc, m))
    features = np.concatenate([fc.features for fc in frames])
    node_y = np.array([1 if cell_of.get(int(c), 0) else 0
                       for fc in frames for c in fc.ids])
    node_w = fit_logistic(start.node_terms(features), node_y, np.asarray(start.node))
    edge_y = link_labels(frames, links, cell_of, records)
    edge_w = fit_ranked(start.edge_terms(links.features), edge_y, links,
                        np.asarray(start.edge))
    n_cells = sum(int(np.count_nonzero(np.unique(m))) for m in markers)
    first, last = 0, len(frames) - 1
    starts = sum(r.begin > first and not r.parent for r in records)
    ends = sum(r.end < last and r.label not in {q.parent for q in records} for r in records)
    divisions = sum(sum(q.parent == r.label for q in records) >= 2 for r in records)
    costs = GraphCosts(tuple(float(v) for v in node_w), tuple(float(v) for v in edge_w),
                       log_odds_cost(starts, n_cells), log_odds_cost(ends, n_cells),
                       log_odds_cost(divisions, n_cells))
    summary = {"frames": len(frames), "candidates": int(node_y.size), "cells": int(node_y.sum()),
               "links": int(edge_y.size), "right_links": int(edge_y.sum()),
               "track_starts": starts, "track_ends": ends, "divisions": divisions}
    logger.info("tracking costs learned on %d frames (%d candidates, %d cells, %d links, %d "
                "right): %s", len(frames), node_y.size, node_y.sum(), edge_y.size,
                edge_y.sum(), costs.to_dict())
    return costs, summary


def truth_labels(frames: Sequence[FrameCandidates], links: Links,
                 markers: Sequence[np.ndarray], records: Sequence[TrackRecord]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The annotated solution's candidates ``xt`` (n,) and links ``yt`` (e,), and which of
    them the Hamming loss counts (``wx``, ``wy``). Per frame, each TRA marker's cell is the
    candidate that holds more than half of that marker and of no other, at the level nearest
    the chosen threshold's; candidates of no or several markers are not cells; a marker's
    other candidates are left out of the loss (another level's outline of the same cell). A
    link is right between a marker's successive cells, and from a mother's last cell to a
    daughter's first."""
    n, e = sum(fc.ids.size for fc in frames), len(links)
    xt, wx = np.zeros(n), np.ones(n)
    marker_of: dict[int, int] = {}
    frame_of: dict[int, int] = {}
    offset = np.concatenate([fc.features[:, 4] for fc in frames])
    for fc, marks in zip(frames, markers, strict=True):
        per_marker: dict[int, list[int]] = {}
        for cid, hit in marker_hits(fc, marks).items():
            frame_of[cid] = fc.t
            if len(hit) == 1:
                per_marker.setdefault(hit[0], []).append(cid)
        for m, cids in per_marker.items():
            best = min(cids, key=lambda c: (offset[c], c))
            xt[best], marker_of[best] = 1, m
            wx[[c for c in cids if c != best]] = 0
        for group in fc.conflicts:  # the truth must be feasible: keep the nearest level's
            chosen = sorted((c for c in group if xt[c]), key=lambda c: offset[c])
            for c in chosen[1:]:
                xt[c] = wx[c] = 0
                marker_of.pop(c)
    seen: dict[int, list[int]] = {}
    for c, m in marker_of.items():
        seen.setdefault(m, []).append(frame_of[c])
    parent = {r.label: r.parent for r in records}
    yt, wy = np.zeros(e), np.zeros(e)
    for k, (a, b) in enumerate(zip(links.src.tolist(), links.dst.tolist(), strict=True)):
        wy[k] = wx[a] * wx[b]
        ma, mb = marker_of.get(a), marker_of.get(b)
        if ma is None or mb is None:
            continue
        ta, tb = frame_of[a], frame_of[b]
        if ma == mb:
            yt[k] = not any(ta < t < tb for t in seen[ma])
        elif parent.get(mb) == ma:
            yt[k] = ta == max(seen[ma]) and tb == min(seen[mb])
    return xt, wx, yt, wy


def full_solution(xt: np.ndarray, yt: np.ndarray, links: Links) -> np.ndarray:
    """The program's whole vector (x, y, a, d, s) of chosen candidates ``xt`` and links
    ``yt``: starts, ends and divisions follow from the flow."""
    n = xt.size
    into = np.bincount(links.dst[yt > 0], minlength=n)
    out = np.bincount(links.src[yt > 0], minlength=n)
    s = (out >= 2).astype(float)
    return np.concatenate([xt, yt, xt - into, xt + s - out, s])


AOGM = {"ns": 5.0, "fn": 10.0, "fp": 1.0, "ed": 1.0, "ea": 1.5}  # py-ctcmetrics' tra.py


def aogm_loss(frames: Sequence[FrameCandidates], links: Links,
              markers: Sequence[np.ndarray], records: Sequence[TrackRecord]
              ) -> tuple[float, np.ndarray]:
    """The AOGM of a solution y (4 n + e) against the markers and tracks, as ``base + gain @
    y``, with the challenge's weights (``AOGM``): every marker of every frame is missed
    (10) unless a chosen candidate holds more than half of it; a chosen candidate that holds
    none is false (1), one that holds k > 1 needs k - 1 splits (5 each); every reference
    edge (successive frames of a track, a mother's last frame to a daughter's first) is
    missing (1.5) unless a chosen link joins candidates of its two markers; a chosen link
    between candidates that hold markers and is no reference edge is redundant (1; a false
    candidate's links go with it). Edge semantics (EC) are left out. Exact where each
    marker's candidates exclude each other (they do: each holds more than half of it, so
    any two share a pixel, and conflict)."""
    n, e = sum(fc.ids.size for fc in frames), len(links)
    gain, base = np.zeros(4 * n + e), 0.0
    single: dict[int, int] = {}
    false: set[int] = set()
    frame_of: dict[int, int] = {}
    for fc, marks in zip(frames, markers, strict=True):
        base += AOGM["fn"] * np.count_nonzero(np.unique(marks))
        for cid, hit in marker_hits(fc, marks).items():
            frame_of[cid] = fc.t
            k = len(hit)
            gain[cid] = AOGM["fp"] if k == 0 else -AOGM["fn"] * k + AOGM["ns"] * (k - 1)
            if k == 1:
                single[cid] = hit[0]
            elif k == 0:
                false.add(cid)
    parent = {r.label: r.parent for r in records}
    span = {r.label: (r.begin, r.end) for r in records}
    base += AOGM["ea"] * sum(r.end - r.begin + (r.parent in span) for r in records)
    for k, (a, b) in enumerate(zip(links.src.tolist(), links.dst.tolist(), strict=True)):
        ma, mb = single.get(a), single.get(b)
        ta, tb = frame_of[a], frame_of[b]
        right = ma is not None and mb is not None and (
            (ma == mb and tb == ta + 1)
            or (parent.get(mb) == ma and ta == span[ma][1] and tb == span[mb][0]))
        gain[n + k] = (-AOGM["ea"] if right else 0.0 if a in false or b in false
                       else AOGM["ed"])
    return float(base), gain


def bundle_minimize(value_gradient, dims: int, regularizer: float, iterations: int,
                    eps: float = 1.0) -> np.ndarray:
    """The w minimizing regularizer/2 |w|^2 + R(w) for a convex R given as ``value_gradient(w)
    -> (R(w), a subgradient)``, by the bundle method (BMRM, Teo et al. 2010, as structsvm's):
    R is modelled by the planes seen so far; each step minimizes the model
    (``_model_minimum``), and stops when the gap between the best objective seen and the
    model's minimum falls below ``eps``. structsvm solves that QP with SCIP, which stalled
    for minutes on the first plane of the AOGM loss."""
    w = np.zeros(dims)
    planes, offsets = [], []
    best = np.inf
    for _ in range(iterations):
        value, grad = value_gradient(w)
        best = min(best, 0.5 * regularizer * float(w @ w) + value)
        planes.append(np.asarray(grad, float))
        offsets.append(value - float(np.asarray(grad) @ w))
        a, b = np.asarray(planes), np.asarray(offsets)
        w = _model_minimum(a, b, regularizer)
        model = 0.5 * regularizer * float(w @ w) + float(np.max(a @ w + b))
        logger.info("bundle: best %.1f, model %.1f, gap %.2f", best, model, best - model)
        if best - model < eps:
            break
    return w


def simplex_projection(v: np.ndarray) -> np.ndarray:
    """The point of the probability simplex nearest ``v`` (Duchi et al. 2008)."""
    u = np.sort(v)[::-1]
    cum = np.cumsum(u) - 1.0
    k = np.flatnonzero(u - cum / np.arange(1, v.size + 1) > 0)[-1]
    return np.maximum(v - cum[k] / (k + 1), 0.0)


def _model_minimum(a: np.ndarray, b: np.ndarray, regularizer: float,
                   steps: int = 20000) -> np.ndarray:
    """The w minimizing regularizer/2 |w|^2 + max_i (a_i @ w + b_i) (``a`` (k, d), ``b``
    (k,)), through its dual over the simplex, max_alpha b @ alpha - |a.T @ alpha|^2 /
    (2 regularizer), solved by accelerated projected gradient (FISTA); w = -a.T @ alpha /
    regularizer."""
    gram = a @ a.T / regularizer
    lipschitz = max(float(np.linalg.eigvalsh(gram)[-1]), 1e-12)
    alpha = z = np.full(len(b), 1.0 / len(b))
    t = 1.0
    for _ in range(steps):
        nxt = simplex_projection(z - (gram @ z - b) / lipschitz)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z = nxt + (t - 1) / t_next * (nxt - alpha)
        if np.abs(nxt - alpha).max() < 1e-12:
            alpha = nxt
            break
        alpha, t = nxt, t_next
    return -(a.T @ alpha) / regularizer


def hamming_gain(truth: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """The gain of the Hamming distance to ``truth`` over the variables where ``counted`` is
    1, for ``learn_structured``: Hamming(truth, y) = gain @ (y - truth) for 0/1 vectors."""
    return counted * (1 - 2 * truth)


def learn_structured(program: Program, truth: np.ndarray, gain: np.ndarray,
                     dims: int = 12, regularizer: float = 1.0, iterations: int = 30,
                     solve_seconds: float = 60.0, bundle: str = "structsvm"
                     ) -> tuple[GraphCosts, list[dict]]:
    """Weights (the first ``dims`` of ``GraphCosts.vector``'s) minimizing regularizer/2 |w|^2 +
    max_y [w @ phi @ (truth - y) + Delta(truth, y)], by a bundle method (convergence gap 1;
    ``bundle``: structsvm's or ``bundle_minimize``, "scipy"), the maximum found by the
    program (at most ``solve_seconds`` each: a solution short of the maximum still gives a
    valid lower plane); and each iteration's loss, Delta and seconds. Delta = gain @ (y -
    truth), L(y) - L(truth) of a loss linear in y: ``hamming_gain``, or the ``gain`` of
    ``aogm_loss``."""

    if np.any(program.matrix @ truth < program.lower - 1e-9) or np.any(
            program.matrix @ truth > program.upper + 1e-9):
        raise ValueError("the annotated solution breaks the program's constraints")
    phi = program.phi[:dims]
    at_truth = phi @ truth
    history: list[dict] = []

    def value_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        t0 = time.time()
        y = solve_program(program, phi.T @ w - gain, solve_seconds)
        hamming = float(gain @ (y - truth))
        value = float(w @ (at_truth - phi @ y)) + hamming
        history.append({"w": np.round(w, 3).tolist(), "loss": round(value, 1),
                        "hamming": hamming, "seconds": round(time.time() - t0, 1)})
        logger.info("structured loss %.1f, Hamming %.0f (%.0f s)", value, hamming,
                    time.time() - t0)
        return value, at_truth - phi @ y

    if bundle == "scipy":
        w = bundle_minimize(value_gradient, dims, regularizer, iterations)
    else:
        import structsvm  # optional: pip install structsvm ilpy pyscipopt

        w = structsvm.BundleMethod(value_gradient, dims, regularizer, 1.0).optimize(iterations)
    return GraphCosts.from_vector(w), history
