"""Issue 42's trial (benchmarks/candidate_graph): competing segmentations per frame and one
integer program over time recover what a single threshold loses, and the annotated solution
the learners fit is one the program can reach."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import benchmark_module

from ctc_unet.config import PostprocessConfig
from ctc_unet.data.ctc import TrackRecord

benchmark_module("scoring")  # puts benchmarks/ on the path
from candidate_graph.candidates import probability_candidates  # noqa: E402
from candidate_graph.graph import build_links  # noqa: E402
from candidate_graph.learn import (  # noqa: E402
    AOGM,
    aogm_loss,
    bundle_minimize,
    full_solution,
    learn_costs,
    truth_labels,
)
from candidate_graph.program import (  # noqa: E402
    GraphCosts,
    Solution,
    assemble,
    build_program,
    chosen_outlines,
    solve,
)

POST = replace(PostprocessConfig(), threshold=0.8, min_size=10, method="components",
               fill_holes=False, restore_borders=False)
SPREAD = (-0.2, -0.1, 0.0, 0.1, 0.15)
SIZE = 64


def disk(cy: float, cx: float, r: float = 8.0) -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def frames_of(values: list[list[tuple]]) -> list[np.ndarray]:
    """Probability frames: per frame (cy, cx, p[, r]) disks on a background of 0.02."""
    out = []
    for cells in values:
        p = np.full((SIZE, SIZE), 0.02, np.float32)
        for cy, cx, v, *r in cells:
            p[disk(cy, cx, *r)] = v
        out.append(p)
    return out


def run_program(probs: list[np.ndarray], costs: GraphCosts | None = None):
    frames = probability_candidates(probs, POST, 0, SPREAD)
    links = build_links(frames, 1, 30.0)
    return frames, links, assemble(frames, links, solve(frames, links, costs or GraphCosts()))


def test_a_cell_below_the_threshold_in_one_frame_is_recovered_at_a_lower_level():
    cells = [[(20, 20, 0.97), (44, 44, 0.97)] for _ in range(5)]
    cells[2][0] = (20, 20, 0.65)  # below 0.8, above the lowest level 0.6
    _, _, (masks, records) = run_program(frames_of(cells))
    assert [len(np.unique(m)) - 1 for m in masks] == [2] * 5
    assert len(records) == 2 and all(r.begin == 0 and r.end == 4 for r in records)


def test_a_cell_split_into_two_fragments_in_one_frame_stays_one_whole_track():
    probs = frames_of([[(32, 32, 0.97)] for _ in range(5)])
    probs[2][31:34, :] = np.minimum(probs[2][31:34, :], 0.75)  # a seam: two pieces at 0.8
    frames, _, (masks, records) = run_program(probs)
    assert len(frames[2].ids) == 3  # the whole cell and its two halves compete
    assert [len(np.unique(m)) - 1 for m in masks] == [1] * 5
    assert len(records) == 1 and masks[2].astype(bool).sum() == disk(32, 32).sum()


def test_a_missed_frame_is_bridged_by_a_gap_link():
    cells = [[(32, 32, 0.97)] for _ in range(5)]
    cells[2] = []
    _, _, (masks, records) = run_program(frames_of(cells))
    assert [len(np.unique(m)) - 1 for m in masks] == [1, 1, 0, 1, 1]
    assert [(r.begin, r.end, r.parent) for r in records] == [(0, 1, 0), (3, 4, 1)]


def test_the_annotated_solution_is_one_the_program_can_reach():
    cells = [[(20, 20, 0.97), (44, 44, 0.97)] for _ in range(4)]
    cells[2][0] = (20, 20, 0.65)
    probs = frames_of(cells)
    markers = []
    for _ in range(4):
        m = np.zeros((SIZE, SIZE), np.uint16)
        m[disk(20, 20, 3)] = 1
        m[disk(44, 44, 3)] = 2
        markers.append(m)
    records = [TrackRecord(1, 0, 3, 0), TrackRecord(2, 0, 3, 0)]
    frames = probability_candidates(probs, POST, 0, SPREAD)
    links = build_links(frames, 1, 30.0)
    xt, wx, yt, wy = truth_labels(frames, links, markers, records)
    assert xt.sum() == 8 and yt.sum() == 6  # every marker a cell, every step a right link
    assert wx.all() and wy.all()  # each cell has one outline: every candidate counts
    program = build_program(frames, links)
    truth = full_solution(xt, yt, links)
    ax = program.matrix @ truth
    assert np.all(ax >= program.lower) and np.all(ax <= program.upper)
    costs, summary = learn_costs(frames, links, markers, records)
    assert summary["cells"] >= 8 and summary["right_links"] >= 6
    _, _, (masks, _) = run_program(probs, costs)
    assert [len(np.unique(m)) - 1 for m in masks] == [2] * 4


@pytest.mark.parametrize("weights", [11, 12])
def test_costs_round_trip_as_a_vector(weights):
    c = GraphCosts(level=1.5)
    w = c.vector()[:weights]
    back = GraphCosts.from_vector(w)
    assert back.node == c.node and back.division == c.division
    assert back.level == (1.5 if weights == 12 else 0.0)


def test_the_chosen_thresholds_outlines_redraw_the_programs_cells():
    cells = np.zeros((SIZE, SIZE), np.uint16)
    cells[disk(20, 20, 10)] = 4  # chosen at a lower level: two parts at the chosen one
    cells[disk(48, 48)] = 7  # no part at the chosen level: keeps its outline
    level = np.zeros((SIZE, SIZE), np.int32)
    level[disk(20, 15, 4)] = 11
    level[disk(20, 25, 4)] = 12
    level[disk(5, 50, 3)] = 13  # a chosen-level object the program did not choose
    out = chosen_outlines(cells, level)
    assert set(np.unique(out[disk(20, 15, 4) | disk(20, 25, 4)])) == {4}
    assert (out == 4).sum() == (level == 11).sum() + (level == 12).sum()
    assert np.array_equal(out == 7, cells == 7) and not np.any(out[level == 13])


def test_a_cell_chosen_at_a_higher_threshold_takes_its_chosen_level_outline():
    cells = np.zeros((SIZE, SIZE), np.uint16)
    cells[disk(20, 20, 4)] = 3  # a core inside one chosen-level object
    level = np.zeros((SIZE, SIZE), np.int32)
    level[disk(20, 20, 9)] = 5
    out = chosen_outlines(cells, level)
    assert np.array_equal(out == 3, level == 5)


def division_sequence():
    """Five frames: cell 1 divides into 3 and 4 after frame 1, cell 2 stays; cell 2 lies
    below the chosen threshold in frame 3; markers and tracks of the reference."""
    cells = [[(20, 20, 0.97), (48, 48, 0.97)], [(20, 22, 0.97), (48, 48, 0.97)]]
    cells += [[(12, 22, 0.97, 6), (30, 22, 0.97, 6), (48, 48, 0.97)] for _ in range(3)]
    cells[3][2] = (48, 48, 0.65)
    markers = []
    for row in cells:
        m = np.zeros((SIZE, SIZE), np.uint16)
        labels = [1, 2] if len(row) == 2 else [3, 4, 2]
        for label, (cy, cx, *_) in zip(labels, row, strict=True):
            m[disk(cy, cx, 3)] = label
        markers.append(m)
    records = [TrackRecord(1, 0, 1, 0), TrackRecord(2, 0, 4, 0), TrackRecord(3, 2, 4, 1),
               TrackRecord(4, 2, 4, 1)]
    return frames_of(cells), markers, records


def ctc_aogm(tmp_path, masks, records, markers, reference) -> dict:
    """py-ctcmetrics' AOGM counts of a tracked result against markers and tracks."""
    import tifffile

    from ctc_unet.data.ctc import write_results
    from ctc_unet.evaluation.ctc import evaluate_ctc_sequence

    gt = tmp_path / "01_GT"
    (gt / "TRA").mkdir(parents=True, exist_ok=True)
    for t, m in enumerate(markers):
        tifffile.imwrite(gt / "TRA" / f"man_track{t:03d}.tif", m)
    (gt / "TRA" / "man_track.txt").write_text(
        "".join(f"{r.label} {r.begin} {r.end} {r.parent}\n" for r in reference))
    res = write_results(tmp_path / "out", "01", list(range(len(masks))), masks,
                        records=records, digits=3)
    return evaluate_ctc_sequence(res, gt, digits=3)


@pytest.mark.parametrize("which", ["annotated", "hand-set", "one cell left out"])
def test_the_aogm_loss_is_the_challenges_aogm(tmp_path, which):
    probs, markers, reference = division_sequence()
    frames = probability_candidates(probs, POST, 0, SPREAD)
    links = build_links(frames, 1, 30.0)
    base, gain = aogm_loss(frames, links, markers, reference)
    n, e = sum(fc.ids.size for fc in frames), len(links)
    if which == "hand-set":
        sol = solve(frames, links, GraphCosts())
        nodes, used = sol.nodes, sol.links
    else:
        xt, _, yt, _ = truth_labels(frames, links, markers, reference)
        nodes, used = xt > 0, yt > 0
        if which == "one cell left out":  # cell 2 of frame 2, and its two links
            fc = frames[2]
            gone = next(c for c, (cy, _) in zip(fc.ids, fc.centroids, strict=True)
                        if nodes[c] and cy > 40)
            nodes = nodes.copy()
            nodes[gone] = False
            used = used & (links.src != gone) & (links.dst != gone)
    masks, records = assemble(frames, links, Solution(nodes, used, 0.0))
    y = np.zeros(4 * n + e)
    y[:n], y[n:n + e] = nodes, used
    s = ctc_aogm(tmp_path, masks, records, markers, reference)
    counts = {k: s[f"AOGM_{k.upper()}"] for k in AOGM}
    # the challenge's AOGM but for edge semantics (EC), which the loss leaves out
    assert base + gain @ y == pytest.approx(sum(AOGM[k] * counts[k] for k in AOGM))
    if which == "annotated":
        assert base + gain @ y == 0 and s["TRA"] == 1.0
    if which == "one cell left out":
        assert counts == {"ns": 0, "fn": 1, "fp": 0, "ed": 0, "ea": 2}


def test_the_bundle_method_finds_a_known_minimum():
    # 1/2 |w|^2 + |w1 - 3| + |w2 + 0.5|: w1 = 1 (slope 1 left of 3), w2 = -0.5 (at the kink)
    def value_gradient(w):
        r = w - np.array([3.0, -0.5])
        return float(np.abs(r).sum()), np.sign(r)

    w = bundle_minimize(value_gradient, 2, 1.0, 100, eps=1e-6)
    assert w == pytest.approx([1.0, -0.5], abs=1e-3)
