"""Choose the tracker's settings by the project's rule: the choosing frames choose, the
reporting frames report (issue 23; the defaults of ``configs/defaults.yaml`` were set partly on
DIC-HeLa's reporting block 50-71).

    python benchmarks/choose_tracker.py --data ../shared/data/DIC-C2DH-HeLa \
        [--sequence 01] [--choose 72-83] [--report 50-71] [--masks DIR]
        [--also DATASET_DIR SEQUENCE MASKS_DIR]

The masks (default: the sequence's silver truth, ``01_ST/SEG``, every frame segmented) are
tracked block by block with every setting of a small grid of the division and gap rules; each
block is scored against the gold TRA markers with py-ctcmetrics (TRA, CT, BC(0), divisions).
The setting with the best mean of TRA, CT and BC(0) on the choosing block replaces the defaults
when it beats them by more than ``TIE`` (else the defaults stay); the defaults and the best
setting are then scored on the reporting block, which chose nothing, and
(``--also``) on a whole sequence of another dataset that nothing chose on, e.g. a model's
masks of Fluo-N2DH-GOWT1 02.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ctc_unet.config import TrackingConfig, load_config
from ctc_unet.data.ctc import TrackRecord, open_ctc_dataset, write_results
from ctc_unet.evaluation.ctc import evaluate_ctc_sequence
from ctc_unet.tracking.linking import track_instances
from ctc_unet.workflow.track import read_mask_folder

CUTOFFS = {
    "division_size_ratio": (0.3, 0.5, 0.7),
    "division_min_mother": (1, 3),
    "division_min_daughter": (1, 2, 3),
    "max_gap": (0, 1),
}
EVIDENCE = {"division_evidence": (0.2, 0.35, 0.5, 0.65, 0.8), "max_gap": (0, 1)}


def grid() -> list[dict]:
    """Every setting tried: the cut-off rule's grid and the evidence rule's thresholds."""
    out = []
    for rule, axes in (("cutoffs", CUTOFFS), ("evidence", EVIDENCE)):
        for values in itertools.product(*axes.values()):
            out.append({"division_rule": rule, **dict(zip(axes, values, strict=True))})
    return out


def _name(setting: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in setting.items())


# a tracker other than this package's: a function of the masks returning labels and records
Tracker = Callable[[list[np.ndarray]], tuple[list[np.ndarray], list[TrackRecord]]]
KEYS = ("TRA", "CT", "BC(0)")
# a setting replaces the defaults only when its mean beats theirs by more than this: on a
# block of about 20 reference tracks one track more or less complete moves CT by ~0.05 and
# the mean by ~0.017, so smaller differences are no evidence
TIE = 0.01


def score_block(masks: list[np.ndarray], frames: list[int], block: tuple[int, int],
                cfg: TrackingConfig | Tracker, gt: Path) -> dict[str, float]:
    """Track the block's masks alone (with the tracker's ``cfg``, or a function of the masks
    returning labels and records) and score them on that block (frames outside it are written
    empty, so the result has the sequence's length)."""
    first, last = block
    inside = [i for i, t in enumerate(frames) if first <= t <= last]
    tracked, records = run_tracker([masks[i] for i in inside], cfg)
    shifted = [TrackRecord(r.label, r.begin + first, r.end + first, r.parent) for r in records]
    empty = np.zeros_like(masks[0])
    full = [tracked[inside.index(i)] if i in inside else empty for i in range(len(frames))]
    with tempfile.TemporaryDirectory() as tmp:
        res = write_results(Path(tmp), gt.name[:-3], frames, full, shifted, 3)
        s = evaluate_ctc_sequence(res, gt, block, 3)
    s["mean"] = float(np.mean([s[k] for k in KEYS if k in s]))
    return s


def run_tracker(masks: list[np.ndarray], cfg: TrackingConfig | Tracker
                ) -> tuple[list[np.ndarray], list[TrackRecord]]:
    """Track ``masks`` with this package's tracker configured by ``cfg``, or with ``cfg``
    itself when it is another tracker's function."""
    return track_instances(masks, cfg) if isinstance(cfg, TrackingConfig) else cfg(masks)


def _row(name: str, s: dict[str, float]) -> str:
    cells = " | ".join(f"{s[k]:.4f}" if k in s else "" for k in (*KEYS, "mean"))
    return f"| {name} | {cells} | {s['divisions']} / {s['divisions_ref']} |"


def parse_block(text: str) -> tuple[int, int]:
    """"FIRST-LAST" -> (first, last), for command-line options."""
    first, last = (int(x) for x in text.split("-"))
    return first, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sequence", default="01")
    parser.add_argument("--choose", type=parse_block, default=(72, 83))
    parser.add_argument("--report", type=parse_block, default=(50, 71))
    parser.add_argument("--masks", type=Path, help="mask folder (default: XX_ST/SEG)")
    parser.add_argument("--also", nargs=3, metavar=("DATA", "SEQUENCE", "MASKS"),
                        help="score defaults and the chosen setting on this whole sequence")
    args = parser.parse_args()
    folder = args.masks or args.data / f"{args.sequence}_ST" / "SEG"
    frames, masks, _ = read_mask_folder(folder)
    seq_frames = sorted(open_ctc_dataset(args.data).sequence(args.sequence).frames)
    assert frames == seq_frames, "the masks must cover every frame of the sequence"
    gt = args.data / f"{args.sequence}_GT"
    base = load_config(None).tracking
    head = "| setting | " + " | ".join((*KEYS, "mean")) + " | divisions / reference |"
    rule = "|" + " --- |" * (len(KEYS) + 3)
    t0 = time.perf_counter()
    tried = []
    for setting in grid():
        cfg = replace(base, **setting)
        tried.append((setting, cfg, score_block(masks, frames, args.choose, cfg, gt)))
    tried.sort(key=lambda x: -x[2]["mean"])
    print(f"{folder}: {len(tried)} settings on the choosing block {args.choose} "
          f"({time.perf_counter() - t0:.0f} s); the five best, the evidence rule's settings "
          "and the defaults:\n")
    print(head + "\n" + rule)
    shown = tried[:5] + [x for x in tried[5:] if x[0]["division_rule"] == "evidence"]
    for setting, _, s in shown:
        print(_row(_name(setting), s))
    default_score = score_block(masks, frames, args.choose, base, gt)
    print(_row("defaults", default_score))
    best_setting, best_cfg, best = tried[0]
    if best["mean"] > default_score["mean"] + TIE:
        print(f"\nchosen: {_name(best_setting)} (beats the defaults by more than {TIE})")
    else:
        print(f"\nchosen: the defaults (no setting beats them by more than {TIE})")
    print(f"\nreporting block {args.report} (chose nothing):\n\n{head}\n{rule}")
    print(_row("defaults", score_block(masks, frames, args.report, base, gt)))
    print(_row(f"best on the choosing block ({_name(best_setting)})",
               score_block(masks, frames, args.report, best_cfg, gt)))
    if args.also:
        data, seq, folder = Path(args.also[0]), args.also[1], Path(args.also[2])
        other_frames, other, _ = read_mask_folder(folder)
        block = (min(other_frames), max(other_frames))
        print(f"\n{data.name} {seq}, all frames {block} ({folder}):\n\n{head}\n{rule}")
        for name, cfg in (("defaults", base), ("best on the choosing block", best_cfg)):
            print(_row(name, score_block(other, other_frames, block, cfg,
                                         data / f"{seq}_GT")))


if __name__ == "__main__":
    main()
