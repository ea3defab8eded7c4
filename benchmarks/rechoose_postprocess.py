"""Choose a run's post-processing again with today's search (instance rule, threshold, minimum
size on the run's choosing frames, as at the end of training), for runs trained before the
search knew the watershed rules. Rewrites RUN/postprocess.json (atomically).

    python benchmarks/rechoose_postprocess.py runs/p12-dic-GT --data ../shared/data/DIC-C2DH-HeLa
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from ctc_unet.rundir import RunDir
from ctc_unet.training.split import load_frames
from ctc_unet.training.validation import choose_postprocess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the run's dataset folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run = RunDir(args.run)
    cfg = run.load_config()
    _, _, val = load_frames(args.data, cfg, run.load_split())
    choose_postprocess(run, cfg, val, torch.device("cpu"))
    print(run.postprocess.read_text())


if __name__ == "__main__":
    main()
