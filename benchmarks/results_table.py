"""Print the README results tables from run directories (every number comes from the runs'
files: config.yaml, split.json, metrics.jsonl, postprocess.json, evaluation/*.json).

    python benchmarks/results_table.py runs/p12-dic-GT runs/p12-isbi [--hardware TEXT]

CTC runs: the scores of ``ctc-unet evaluate RUN --data DATASET --frames report``
(evaluation/<dataset>-report/evaluation.json): SEG against the GT frames of the reporting
block, SEG_ST against its silver truth, DET, TRA, CT, TF, BC(0) and divisions over the block.
ISBI 2012 runs: ``ctc-unet evaluate RUN --data ISBI2012`` (the reporting slices, without and
with test-time augmentation). Each row says which frames chose (checkpoint, post-processing)
and which scored.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np

from ctc_unet.rundir import RunDir, Split


def minutes_and_iterations(run: RunDir) -> tuple[float, int]:
    """Training minutes from the metrics' time stamps (a pause before a --resume, an interval
    far longer than the usual one, is left out) and the last logged iteration."""
    train = [r for r in run.read_metrics() if r["kind"] == "train"]
    gaps = np.diff([r["time"] for r in train]) if len(train) > 1 else np.array([])
    usual = float(np.median(gaps)) if gaps.size else 0.0
    minutes = (gaps[gaps < 10 * usual].sum() + usual) / 60 if gaps.size else float("nan")
    return minutes, (train[-1]["iteration"] if train else 0)


def _frames(refs, sources=("GT", "ST", "ISBI")) -> str:
    parts = []
    for source in sources:
        ts = sorted(r.t for r in refs if r.source == source)
        if ts:
            span = f"{ts[0]:03d}-{ts[-1]:03d}" if len(ts) > 2 else ", ".join(f"{t:03d}"
                                                                              for t in ts)
            parts.append(f"{source if source != 'ISBI' else 'slices'} {span} ({len(ts)})")
    return "; ".join(parts)


def _f(row: dict, key: str) -> str:
    v = row.get(key)
    return "" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def ctc_row(run: RunDir, hardware: str) -> list[str]:
    cfg = run.load_config()
    split = Split.from_json(run.split.read_text())
    minutes, iters = minutes_and_iterations(run)
    post = json.loads(run.postprocess.read_text()) if run.postprocess.is_file() else {}
    path = run.root / "evaluation" / f"{cfg.dataset}-report" / "evaluation.json"
    ev = json.loads(path.read_text())[0] if path.is_file() else {}
    chose = (f"{_frames(split.val)} by {post['measure']}" if post else
             f"{_frames(split.val)} (training stopped: nothing chosen)")
    scored = f"{_frames(split.report)}; TRA markers {ev.get('block', '')}"
    return [run.root.name, cfg.dataset, f"{cfg.targets.source}: {_frames(split.train, ('GT',))}",
            cfg.profile or "paper", cfg.train.optimizer, str(iters), f"{minutes:.1f}",
            hardware, chose, scored, _f(ev, "SEG"), _f(ev, "SEG_ST"), _f(ev, "DET"),
            _f(ev, "TRA"), _f(ev, "CT"), _f(ev, "TF"), _f(ev, "BC(0)"),
            f"{ev.get('divisions', '')} / {ev.get('divisions_ref', '')}"]


def isbi_row(run: RunDir, hardware: str) -> list[str]:
    cfg = run.load_config()
    split = Split.from_json(run.split.read_text())
    minutes, iters = minutes_and_iterations(run)
    path = run.root / "evaluation" / "ISBI2012" / "evaluation.json"
    rows = {r["tta"]: r for r in json.loads(path.read_text())} if path.is_file() else {}
    no, yes = rows.get(1, {}), rows.get(max(rows, default=1), {})

    def pair(key: str) -> str:
        return f"{_f(no, key)} / {_f(yes, key)}"

    return [run.root.name, cfg.dataset, _frames(split.train), cfg.profile or "paper",
            cfg.train.optimizer,
            str(iters), f"{minutes:.1f}", hardware, f"{_frames(split.val)} by pixel error",
            _frames(split.report), pair("rand_error"), pair("info_error"),
            pair("pixel_error")]


def _evaluation(run: RunDir, dataset: str, frames: str) -> dict:
    path = run.root / "evaluation" / f"{dataset}-{frames}" / "evaluation.json"
    return json.loads(path.read_text())[0] if path.is_file() else {}


def _command(run: RunDir) -> str:
    """The ``command:`` line that ``ctc-unet train`` writes to train.log (runs from before it
    did: empty)."""
    if run.log.is_file():
        for line in run.log.read_text().splitlines():
            if "command: " in line:
                return "`" + line.split("command: ", 1)[1] + "`"
    return ""


def trial_row(run: RunDir) -> list[str]:
    """One recipe trial: what trained, how, and its scores on the choosing frames (which
    chose the checkpoint and post-processing: the chosen setting's OP_CSB in postprocess.json,
    SEG and DET on arrays as in the search) and on the reporting frames (which chose nothing:
    ``evaluate --frames report``, py-ctcmetrics)."""
    from ctc_unet.postprocess.search import describe

    cfg = run.load_config()
    split = Split.from_json(run.split.read_text())
    minutes, iters = minutes_and_iterations(run)
    post = json.loads(run.postprocess.read_text()) if run.postprocess.is_file() else {}
    report = _evaluation(run, cfg.dataset, "report")
    recipe = (f"{cfg.targets.source} ({len(split.train)} frames), {cfg.model.base_channels} ch, "
              f"{cfg.train.tile_size} px, {cfg.model.n_classes} classes, cell sampling "
              f"{cfg.augment.cell_sampling:g}, {cfg.train.optimizer} lr {cfg.train.lr:g}")
    chosen = (f"{describe(post)}, p > {post['threshold']:g}, min {post['min_size']}"
              if post else "(nothing chosen)")
    return [run.root.name, recipe, str(iters), f"{minutes:.1f}", chosen,
            _f(post, "score"), _f(report, "SEG"), _f(report, "SEG_ST"), _f(report, "DET"),
            _f(report, "TRA"), _command(run)]


TRIAL_HEAD = ["run", "recipe", "iterations", "minutes", "post-processing (chosen on 72-83)",
              "OP_CSB choosing (72-83, search)", "SEG (GT 054, 067)", "SEG (ST 50-71)",
              "DET (50-71)", "TRA (50-71)", "command"]
CTC_HEAD = ["run", "dataset", "training frames", "profile", "optimizer", "iterations", "minutes",
            "hardware", "chose (checkpoint, post-processing)", "scored", "SEG (GT)",
            "SEG (ST)", "DET", "TRA", "CT", "TF", "BC(0)", "divisions (result / ref.)"]
ISBI_HEAD = ["run", "dataset", "training slices", "profile", "optimizer", "iterations", "minutes",
             "hardware", "chose", "scored", "Rand error (no TTA / TTA)",
             "information error (no TTA / TTA)", "pixel error (no TTA / TTA)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--hardware", default=f"{platform.machine()} CPU, {os.cpu_count()} "
                        "cores, no GPU")
    parser.add_argument("--trials", action="store_true",
                        help="the compact table of recipe trials (CTC runs): recipe, minutes, "
                        "scores on the choosing and on the reporting frames, command")
    args = parser.parse_args()
    runs = [RunDir(p) for p in args.runs]
    if args.trials:
        print("| " + " | ".join(TRIAL_HEAD) + " |")
        print("|" + " --- |" * len(TRIAL_HEAD))
        for run in runs:
            print("| " + " | ".join(trial_row(run)) + " |")
        return
    for head, pick, make in ((CTC_HEAD, lambda c: c.dataset != "ISBI2012", ctc_row),
                             (ISBI_HEAD, lambda c: c.dataset == "ISBI2012", isbi_row)):
        chosen = [r for r in runs if pick(r.load_config())]
        if not chosen:
            continue
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for run in chosen:
            print("| " + " | ".join(make(run, args.hardware)) + " |")
        print()


if __name__ == "__main__":
    main()
