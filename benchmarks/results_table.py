"""The results tables, from run directories (every number comes from the runs' files:
config.yaml, split.json, metrics.jsonl with the hardware record, postprocess.json,
evaluation/*.json).

    python benchmarks/results_table.py RUN ...                 # print the tables
    python benchmarks/results_table.py --doc docs/results.md docs/runs/*   # the docs page

A RUN is a run directory or its record (benchmarks/keep_runs.py: the same files, no weights).

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
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ctc_unet.config import AugmentConfig, to_dict
from ctc_unet.rundir import RunDir, Split, frame_ranges, read_json


def minutes_and_iterations(run: RunDir) -> tuple[float, int]:
    """Training minutes from the metrics' time stamps (a pause before a --resume, an interval
    far longer than the usual one, is left out) and the last logged iteration."""
    train = [r for r in run.read_metrics() if r["kind"] == "train"]
    gaps = np.diff([r["time"] for r in train]) if len(train) > 1 else np.array([])
    usual = float(np.median(gaps)) if gaps.size else 0.0
    minutes = (gaps[gaps < 10 * usual].sum() + usual) / 60 if gaps.size else float("nan")
    return minutes, (train[-1]["iteration"] if train else 0)


def _frames(refs, sources=("GT", "ST", "ISBI", "TRA")) -> str:
    parts = []
    for source in sources:
        ts = sorted(r.t for r in refs if r.source == source)
        if ts:
            span = (frame_ranges(ts, 3) if len(ts) > 2 else ", ".join(f"{t:03d}" for t in ts))
            name = {"ISBI": "slices", "TRA": "TRA markers only"}.get(source, source)
            parts.append(f"{name} {span} ({len(ts)})")
    return "; ".join(parts)


def refit_info(run: RunDir) -> dict | None:
    """A refit's refit.json (its parent, hold-out, frames); None for a run of its own."""
    return read_json(run.refit) if run.refit.is_file() else None


def run_name(run: RunDir) -> str:
    """The run directory's name; a refit's as PARENT/refit."""
    parent = run.refit_parent()
    return f"{parent.root.name}/{run.root.name}" if parent else run.root.name


def _env(run: RunDir) -> dict | None:
    """The run's first ``env`` record (hardware, precision); None for runs from before it."""
    return next((r for r in run.read_metrics() if r.get("kind") == "env"), None)


def hardware(run: RunDir) -> str:
    """What the run trained on, from its metrics' ``env`` record."""
    env = _env(run)
    if env is None:
        return "(not recorded)"
    gpu = "" if env["device"] == "cuda" else ", no GPU"
    return f"{env['name']}, {env['cores']} cores{gpu}, {env['precision']}"


def _f(row: dict, key: str) -> str:
    v = row.get(key)
    return "" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def ctc_row(run: RunDir) -> list[str]:
    cfg = run.load_config()
    split = Split.from_json(run.split.read_text())
    minutes, iters = minutes_and_iterations(run)
    post = json.loads(run.postprocess.read_text()) if run.postprocess.is_file() else {}
    path = run.root / "evaluation" / f"{cfg.dataset}-report" / "evaluation.json"
    ev = json.loads(path.read_text())[0] if path.is_file() else {}
    parent = run.refit_parent()
    marked = (f" + DET on {_frames(split.choose_markers)}" if split.choose_markers else "")
    chose = (f"as {parent.root.name} (refit: its checkpoint iteration and "
             "post-processing)" if parent else
             f"{_frames(split.val)}{marked} by {post['measure']}" if post else
             f"{_frames(split.val)} (training stopped: nothing chosen)")
    gold = sum(r.source == "GT" for r in split.report)
    masks = (f"GT {ev['block']} ({ev['n_gt_seg']}: the evaluated data's masks)"
             if ev.get("n_gt_seg", 0) > gold else _frames(split.report))
    scored = (f"sequence {', '.join(split.report_sequences)} whole" if split.report_sequences
              else f"{masks}; TRA markers {ev.get('block', '')}")
    return [run_name(run), cfg.dataset, f"{cfg.targets.source}: {_frames(split.train)}",
            cfg.profile or "paper", str(cfg.train.seed), str(iters), f"{minutes:.1f}",
            hardware(run), chose, scored, _f(ev, "SEG"), _f(ev, "SEG_ST"), _f(ev, "DET"),
            _f(ev, "TRA"), _f(ev, "CT"), _f(ev, "TF"), _f(ev, "BC(0)"),
            f"{ev.get('divisions', '')} / {ev.get('divisions_ref', '')}"]


def isbi_row(run: RunDir) -> list[str]:
    cfg = run.load_config()
    split = Split.from_json(run.split.read_text())
    minutes, iters = minutes_and_iterations(run)
    no, yes = isbi_evaluation(run)

    def pair(key: str) -> str:
        return f"{_f(no, key)} / {_f(yes, key)}"

    return [run.root.name, cfg.dataset, _frames(split.train), cfg.profile or "paper",
            cfg.train.optimizer,
            str(iters), f"{minutes:.1f}", hardware(run), f"{_frames(split.val)} by pixel error",
            _frames(split.report), pair("rand_error"), pair("info_error"),
            pair("pixel_error")]


def isbi_evaluation(run: RunDir) -> tuple[dict, dict]:
    """``evaluate --data ISBI2012``'s rows without and with test-time augmentation."""
    path = run.root / "evaluation" / "ISBI2012" / "evaluation.json"
    rows = {r["tta"]: r for r in json.loads(path.read_text())} if path.is_file() else {}
    return rows.get(1, {}), rows.get(max(rows, default=1), {})


def _evaluation(run: RunDir, dataset: str, frames: str) -> dict:
    """The first row of ``evaluate RUN --frames FRAMES``'s evaluation.json (where the CLI
    writes it: evaluation/DATASET-FRAMES, evaluation/DATASET for all frames); {} if none."""
    suffix = "" if frames == "all" else f"-{frames}"
    path = run.root / "evaluation" / f"{dataset}{suffix}" / "evaluation.json"
    return json.loads(path.read_text())[0] if path.is_file() else {}


def _command(run: RunDir) -> str:
    """The ``command:`` line that ``ctc-unet train`` writes to train.log (runs from before it
    did: empty)."""
    if run.log.is_file():
        for line in run.log.read_text().splitlines():
            if "command: " in line:
                return "`" + _moved(line.split("command: ", 1)[1]) + "`"
    return ""


MOVED_FROM, MOVED_TO = ("configs", "experiments"), ("benchmarks", "experiments")


def _moved(command: str) -> str:
    """The command with the trial configs where they are now (they left the package), without
    the machine's own data root (``--data-dir``: where the data lay, not part of the recipe)."""
    command = re.sub(r" --data-dir[ =]\S+", "", command)
    return command.replace("/".join(MOVED_FROM) + "/", "/".join(MOVED_TO) + "/")


def reproduced_today(run: RunDir) -> bool:
    """Whether the run's recorded command, with today's configuration files, resolves to the
    configuration the run trained with (config.yaml)."""
    import shlex

    from ctc_unet.config import load_config

    parent = run.refit_parent()
    if parent:  # the recipe is the parent's, the iterations its chosen checkpoint's
        return parent.config.is_file() and reproduced_today(parent)
    words = shlex.split(_command(run).strip("`"))
    if len(words) < 4 or words[:2] != ["ctc-unet", "train"]:
        return False
    opts = dict(zip(words[3::2], words[4::2], strict=False))
    cfg = run.load_config()
    train = {"seed": int(opts.get("--seed", cfg.train.seed))}
    if "--iterations" in opts:
        train["iterations"] = int(opts["--iterations"])
    extra = Path(opts["--config"]) if "--config" in opts else None
    try:
        now = load_config(cfg.dataset, extra, {"train": train}, opts.get("--profile"))
    except Exception:  # a file of the command that no longer exists: not reproduced
        return False
    return to_dict(now) == to_dict(cfg)


def precision(run: RunDir) -> str:
    env = _env(run)
    if env is not None:
        return {"float32": "fp32", "bfloat16": "bf16"}.get(env["precision"], env["precision"])
    amp = run.load_config().train.amp
    return "fp32" if amp == "none" else amp


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
    marked = sum(r.source == "TRA" for r in split.train)
    frames = f"{len(split.train)} frames" + (f", {marked} of them TRA markers only"
                                             if marked else "")
    recipe = (f"{cfg.targets.source} ({frames}), {cfg.model.base_channels} ch, "
              f"{cfg.train.tile_size} px, {cfg.model.n_classes} classes, cell sampling "
              f"{cfg.augment.cell_sampling:g}, {cfg.train.optimizer} lr {cfg.train.lr:g}, "
              f"{precision(run)}")
    aug = cfg.augment
    if aug.scale_prob > 0:
        recipe += f", zoom {aug.scale_prob:g} ({aug.scale_range[0]:g}-{aug.scale_range[1]:g})"
    if aug.blur_prob > 0:
        recipe += f", blur {aug.blur_prob:g} ({aug.blur_range[0]:g}-{aug.blur_range[1]:g} px)"
    base = AugmentConfig()
    if (aug.gamma_prob, tuple(aug.gamma_range)) != (base.gamma_prob, tuple(base.gamma_range)):
        recipe += f", gamma {aug.gamma_prob:g} ({aug.gamma_range[0]:g}-{aug.gamma_range[1]:g})"
    if (aug.noise_prob, aug.noise_std) != (base.noise_prob, base.noise_std):
        recipe += f", noise {aug.noise_prob:g} (std up to {aug.noise_std:g})"
    if cfg.model.depth != 4:
        recipe += f", depth {cfg.model.depth}"
    if cfg.train.ema_decay:
        recipe += f", weight average (decay {cfg.train.ema_decay:g})"
    if cfg.model.context_frames:
        k = cfg.model.context_frames
        recipe += f", temporal context t-{k}..t+{k}"
    chosen = (f"{describe(post)}, p > {post['threshold']:g}, min {post['min_size']}"
              if post else "(nothing chosen)")
    parent = run.refit_parent()
    if parent:
        recipe = f"refit of {parent.root.name}: " + recipe
    return [run_name(run), recipe, str(iters), f"{minutes:.1f}", chosen,
            _f(post, "score"), _f(report, "SEG"), _f(report, "SEG_ST"), _f(report, "DET"),
            _f(report, "TRA"), _command(run) + ("" if reproduced_today(run) else
                                                " (today's files give another config: "
                                                "see the run's config.yaml)")]


TRIAL_HEAD = ["run", "recipe", "iterations", "minutes", "post-processing (chosen)",
              "OP_CSB choosing (search)", "SEG (GT, reporting)", "SEG (ST, reporting)",
              "DET (reporting)", "TRA (reporting)", "command"]
CTC_HEAD = ["run", "dataset", "training frames", "profile", "seed", "iterations", "minutes",
            "hardware", "chose (checkpoint, post-processing)", "scored", "SEG (GT)",
            "SEG (ST)", "DET", "TRA", "CT", "TF", "BC(0)", "divisions (result / ref.)"]
ISBI_HEAD = ["run", "dataset", "training slices", "profile", "optimizer", "iterations", "minutes",
             "hardware", "chose", "scored", "Rand error (no TTA / TTA)",
             "information error (no TTA / TTA)", "pixel error (no TTA / TTA)"]


def table(head: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
                      *("| " + " | ".join(r) + " |" for r in rows)]) + "\n"


def recipe_key(run: RunDir) -> tuple[str, str]:
    """Runs of one recipe differ only by seed: (dataset, the config without the seed)."""
    cfg = to_dict(run.load_config())
    refit = refit_info(run)
    # a refit's iterations: the chosen checkpoint's; train.refit does not change the run's model
    drop = ("seed", "iterations", "refit") if refit else ("seed", "refit")
    cfg["train"] = {k: v for k, v in cfg["train"].items() if k not in drop}
    if refit:
        cfg["refit"] = "hold-out" if refit["hold_out"] else "all"
    cfg["train"]["amp"] = precision(run)  # "auto" and "bf16" are one recipe where bf16 ran
    cfg.pop("profile", None)
    return cfg["dataset"], json.dumps(cfg, sort_keys=True)


def choosing_score(run: RunDir) -> float | None:
    """The score the choosing frames gave the run: the chosen post-processing's (CTC:
    OP_CSB in postprocess.json), else the best checkpoint's (ISBI 2012: 1 - pixel error)."""
    if run.postprocess.is_file():
        return float(json.loads(run.postprocess.read_text())["score"])
    scores = [r["val_score"] for r in run.read_metrics()
              if r.get("kind") == "val" and isinstance(r.get("val_score"), float)]
    return max(scores) if scores else None


def _spread(vals: list[float]) -> str:
    """Mean ± half the range."""
    return f"{sum(vals) / len(vals):.3f} ± {(max(vals) - min(vals)) / 2:.3f}" if vals else ""


def _isbi_measures(run: RunDir) -> dict[str, float]:
    no, yes = isbi_evaluation(run)
    return {f"{k}{suffix}": r[k] for suffix, r in (("", no), ("_tta", yes))
            for k in ("rand_error", "info_error") if isinstance(r.get(k), float)}


SEED_KEYS = {False: ("SEG", "SEG_ST", "DET", "TRA"),
             True: ("rand_error", "rand_error_tta", "info_error", "info_error_tta")}
SEED_HEAD = {False: ["choosing (OP_CSB)", "SEG (GT)", "SEG (ST)", "DET", "TRA"],
             True: ["choosing (1 - pixel error)", "Rand error", "Rand error (TTA)",
                    "information error", "information error (TTA)"]}


def seeds_table(runs: list[RunDir], isbi: bool = False) -> str:
    """Mean and half the range over the seeds of each recipe: the choosing frames' score
    (whose spread says how large a difference between recipes is more than seed noise) and
    the reporting measures (CTC runs, or with ``isbi`` ISBI 2012's errors); recipes run with
    one seed have no spread and are left to the other tables."""
    groups: dict[tuple[str, str], list[RunDir]] = defaultdict(list)
    for run in runs:
        groups[recipe_key(run)].append(run)
    rows = []
    for (dataset, _), members in groups.items():
        members = sorted(members, key=lambda r: (r.load_config().train.seed, run_name(r)))
        if len(members) < 2:
            continue
        evs = [_isbi_measures(r) if isbi else _evaluation(r, dataset, "report")
               for r in members]
        chosen = [c for c in map(choosing_score, members) if c is not None]
        cells = [_spread(chosen)] + [
            _spread([e[k] for e in evs if isinstance(e.get(k), float)])
            for k in SEED_KEYS[isbi]]
        seeds = ", ".join(str(r.load_config().train.seed) for r in members)
        rows.append([dataset, ", ".join(run_name(r) for r in members), seeds, *cells])
    if not rows:
        return "" if isbi else "(No recipe among these runs was trained with two seeds.)\n"
    return table(["dataset", "runs", "seeds", *SEED_HEAD[isbi]], rows)


REFIT_KEYS = ("SEG", "SEG_ST", "DET", "TRA")


def refit_scores(run: RunDir, parent: RunDir, hold_out: bool) -> tuple[dict, dict, str]:
    """(the refit's scores, the parent's, what scored both): with --hold-out the parent's
    reporting frames; else ``evaluate --frames all`` of a sequence that neither trained on (a
    second sequence, left out of a one-sequence protocol); empty dicts when there is none."""
    dataset = parent.load_config().dataset
    if hold_out:
        return (*(_evaluation(r, dataset, "report") for r in (run, parent)),
                _frames(parent.load_split().report))
    mine, theirs = (_evaluation(r, dataset, "all") for r in (run, parent))
    seq = mine.get("sequence")
    trained = {f.sequence for r in (run, parent) for f in r.load_split().train}
    if seq is None or seq in trained or theirs.get("sequence") != seq:
        return {}, {}, ""
    return mine, theirs, f"sequence {seq} whole (trained on by neither)"


def refit_table(runs: list[RunDir]) -> str:
    """Each refit beside its parent, scored on the same frames: with --hold-out the parent's
    reporting frames, else a sequence that neither trained on. Does the refit, trained on more
    frames, score higher than the model it replaces?"""
    rows = []
    for run in runs:
        info = refit_info(run)
        if not info:
            continue
        parent = run.refit_parent()
        mine, theirs, scored = refit_scores(run, parent, info["hold_out"])
        if not scored:
            continue
        cells = [f"{_f(theirs, k)} → {_f(mine, k)} ({mine[k] - theirs[k]:+.4f})"
                 if isinstance(mine.get(k), float) and isinstance(theirs.get(k), float) else ""
                 for k in REFIT_KEYS]
        rows.append([run_name(run), str(parent.load_config().train.seed),
                     f"{info['parent_training_frames']} → {info['training_frames']}",
                     str(info["iterations"]), f"{minutes_and_iterations(run)[0]:.1f}",
                     scored, *cells])
    return table(["refit", "seed", "training frames (run → refit)", "iterations",
                  "minutes (refit)", "scored (both)", "SEG (GT)", "SEG (ST)", "DET", "TRA"],
                 rows)


def reporting(runs: list[RunDir]) -> list[RunDir]:
    """The runs with reporting frames of their own: all but refits on every annotated frame,
    which only the refit table compares (on a sequence that neither trained on)."""
    infos = [(r, refit_info(r)) for r in runs]
    return [r for r, info in infos if info is None or info["hold_out"]]


def tables(runs: list[RunDir], trials: bool) -> str:
    if trials:
        return table(TRIAL_HEAD, [trial_row(r) for r in runs])
    parts = []
    picks: list[tuple[list[str], Callable, Callable]] = [
        (CTC_HEAD, lambda c: c.dataset != "ISBI2012", ctc_row),
        (ISBI_HEAD, lambda c: c.dataset == "ISBI2012", isbi_row)]
    for head, pick, make in picks:
        chosen = [r for r in runs if pick(r.load_config())]
        if chosen:
            parts.append(table(head, [make(r) for r in chosen]))
    return "\n".join(parts)


DOC_HEAD = """# Results

Generated by `python benchmarks/results_table.py --doc docs/results.md {runs}` from the run
directories or their records in `docs/runs/` (`python benchmarks/keep_runs.py RUN` keeps a run's
`config.yaml`, `split.json`, `metrics.jsonl`, `train.log`, `postprocess.json` and
`evaluation/*/evaluation.json`, not its weights); do not edit by hand. Runs from before records
were kept: [results-earlier.md](results-earlier.md). Every row's run was trained with the
configuration files of this repository and scored with `ctc-unet evaluate RUN --frames report`.
What chooses never reports: "chose" frames picked the checkpoint and the post-processing,
"scored" frames picked nothing (docs/evaluation.md, "Validation protocol"). Minutes are
training time from the metrics' time stamps; the hardware column is read from each run.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--trials", action="store_true",
                        help="the compact table of recipe trials (CTC runs): recipe, minutes, "
                        "scores on the choosing and on the reporting frames, command")
    parser.add_argument("--refit", action="store_true",
                        help="refits beside their parent runs, on the same frames: the "
                        "reporting frames (--hold-out), or a sequence neither trained on")
    parser.add_argument("--doc", type=Path, help="write the results page (every table)")
    args = parser.parse_args()
    runs = [RunDir(p) for p in args.runs]
    if args.doc is None:
        print(refit_table(runs) if args.refit else tables(runs, args.trials))
        return
    ctc = [r for r in runs if r.load_config().dataset != "ISBI2012"]
    isbi = [r for r in runs if r.load_config().dataset == "ISBI2012"]
    text = "\n".join([
        DOC_HEAD.format(runs=" ".join(str(p) for p in args.runs)),
        "## Every run\n", tables(reporting(runs), False),
        "## Seeds: mean ± half the range of each recipe\n", seeds_table(reporting(ctc)),
        seeds_table(isbi, isbi=True),
        "## Recipes: scores on the choosing frames and on the reporting frames\n",
        tables(reporting(ctc), True)])
    if any(refit_info(r) for r in ctc):
        text += "\n## Refits beside their runs, on the same frames\n\n" + \
            refit_table(ctc)
    args.doc.write_text(text)
    print(args.doc)


if __name__ == "__main__":
    main()
