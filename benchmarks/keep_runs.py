"""Keep a run's record in the repository, so that docs/results.md can be regenerated after the
run directory is gone (runs/ is not committed, and machines do not keep it between sessions).

    python benchmarks/keep_runs.py RUN ... [--into docs/runs]
    python benchmarks/results_table.py --doc docs/results.md docs/runs/*

A record holds the files that describe the run, not its weights or masks: config.yaml,
split.json, metrics.jsonl, postprocess.json, refit.json, train.log and each
evaluation/*/evaluation.json. A refit inside its run (RUN/refit-holdout) is kept inside the
run's record, where results_table finds its parent. Each record is staged and renamed
(ctc_unet.files.staged_dir); an existing record of the same name is replaced.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ctc_unet.files import staged_dir

RECORD_FILES = ("config.yaml", "split.json", "metrics.jsonl", "postprocess.json", "refit.json",
                "train.log")


def record_files(run: Path) -> list[Path]:
    """The run's files a record keeps, relative to the run directory (nested refits'
    included)."""
    kept = [Path(n) for n in RECORD_FILES if (run / n).is_file()]
    kept += sorted(p.relative_to(run) for p in run.glob("evaluation/*/evaluation.json"))
    for sub in sorted(p.parent for p in run.glob("*/refit.json")):
        kept += [sub.relative_to(run) / f for f in record_files(sub)]
    return kept


def keep(run: Path, into: Path) -> Path:
    """Copy ``run``'s record to ``into/<run name>``; returns the record's folder."""
    if not (run / "config.yaml").is_file():
        raise SystemExit(f"{run}: not a run directory (no config.yaml)")
    dest = into / run.name
    with staged_dir(dest) as stage:
        for rel in record_files(run):
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run / rel, stage / rel)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--into", type=Path, default=Path("docs/runs"))
    args = parser.parse_args()
    args.into.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        dest = keep(run, args.into)
        size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
        print(f"{dest} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
