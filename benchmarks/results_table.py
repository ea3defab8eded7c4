"""Print the README results table from run directories (numbers come from the runs' files).

    python benchmarks/results_table.py runs/acc-dic-GT runs/acc-dic-GTpST ... [--hardware TEXT]

Per run: dataset, training set (targets.source), profile, optimizer, iterations, training
minutes (from metrics.jsonl time stamps), the best validation SEG during training, and the
scores of ``ctc-unet evaluate RUN --frames val`` (evaluation/<dataset>/evaluation.json): SEG on
the held-out GT frames and DET over the whole sequence; for ISBI 2012 the Rand and pixel error
of the held-out slices without and with test-time augmentation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np

from ctc_unet.training.rundir import RunDir


def row(run: RunDir, hardware: str) -> list[str]:
    cfg = run.load_config()
    records = run.read_metrics()
    train = [r for r in records if r["kind"] == "train"]
    val = [r for r in records if r["kind"] == "val" and "val_score" in r]
    # Training time: the intervals between log records, leaving out the pause between a run
    # and its --resume (an interval far longer than the usual one); the first interval, whose
    # start is not logged, counts as a usual one.
    gaps = np.diff([r["time"] for r in train]) if len(train) > 1 else np.array([])
    usual = float(np.median(gaps)) if gaps.size else 0.0
    minutes = (gaps[gaps < 10 * usual].sum() + usual) / 60 if gaps.size else float("nan")
    iters = train[-1]["iteration"] if train else 0
    best = max((r["val_score"] for r in val), default=float("nan"))
    evals = sorted((run.root / "evaluation").glob("*/evaluation.json"))
    scores = json.loads(evals[0].read_text()) if evals else []
    base = [cfg.dataset, cfg.targets.source, cfg.profile or "paper", cfg.train.optimizer,
            str(iters), f"{minutes:.1f}", hardware]
    if cfg.dataset == "ISBI2012":
        by_tta = {r["tta"]: r for r in scores}
        no, yes = by_tta.get(1, {}), by_tta.get(max(by_tta, default=1), {})
        return [*base, "", "", f"{no.get('rand_error', float('nan')):.4f} / "
                f"{yes.get('rand_error', float('nan')):.4f}",
                f"{no.get('pixel_error', float('nan')):.4f} / "
                f"{yes.get('pixel_error', float('nan')):.4f}"]
    seg = scores[0]["SEG"] if scores else float("nan")
    det = scores[0]["DET"] if scores else float("nan")
    return [*base, f"{seg:.4f} (best val {best:.4f})", f"{det:.4f}", "", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--hardware", default=f"{platform.machine()} CPU, {os.cpu_count()} "
                        "cores, no GPU")
    args = parser.parse_args()
    head = ["dataset", "training set", "profile", "optimizer", "iterations", "minutes",
            "hardware", "SEG (held-out GT frames)", "DET (seq. 01)",
            "Rand error (no TTA / TTA)", "pixel error (no TTA / TTA)"]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for path in args.runs:
        print("| " + " | ".join(row(RunDir(path), args.hardware)) + " |")


if __name__ == "__main__":
    main()
