"""Cell Tracking Challenge submissions: results, software and scripts in one package.

Layout of ``<out>/<TEAM>/`` (and ``<out>/<TEAM>.zip`` of it)::

    <DATASET>/XX_RES/             maskNNN.tif + res_track.txt, validated with py-ctcmetrics
    SW/<DATASET>-XX.sh            runs the method from SW/ with relative paths: reads
                                  ../<DATASET>/XX, writes ../<DATASET>/XX_RES
    SW/models/<DATASET>/          weights (checkpoint_best.pt), config.yaml, postprocess.json
                                  (and track_support.json where the run learned one)
    SW/wheels/ctc_unet-*.whl      this package (built by pip wheel), for an offline install
    SW/requirements.txt           pinned dependencies
    SW/install.sh                 pip install of the wheel and the requirements
    SW/README.md                  method, training configuration, how to run

Everything is written into a temporary folder and moved into place only when complete.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

import torch

from ctc_unet import __version__
from ctc_unet.config import Config, dump_config
from ctc_unet.data.ctc import open_ctc_dataset
from ctc_unet.errors import CtcUnetError
from ctc_unet.evaluation.ctc import ctcmetrics_problem
from ctc_unet.files import (
    check_apart,
    check_replaceable,
    holds_only,
    make_parents,
    make_staging_dir,
    remove_empty,
    remove_stale_staging,
    replace_dir,
)
from ctc_unet.rundir import RunDir, load_checkpoint, save_checkpoint
from ctc_unet.submission.wheel import build_wheel, pinned_requirements

logger = logging.getLogger(__name__)

TEAM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


def training_configuration(cfg: Config) -> str:
    """The CTC name of the training data: GT, ST or GT+ST (of the dataset itself)."""
    return cfg.targets.source


SCRIPT = """#!/usr/bin/env bash
# {dataset} sequence {seq}: run from this SW folder as the CTC organisers do. Reads
# ../{dataset}/{seq} and writes ../{dataset}/{seq}_RES (masks and res_track.txt).
# Needs ctc-unet's dependencies (see install.sh); the packaged wheel is used as is.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${{CTC_UNET_PYTHON:-python3}}"
WHEEL="$(ls wheels/ctc_unet-*.whl | head -n 1)"
export PYTHONPATH="$PWD/$WHEEL${{PYTHONPATH:+:$PYTHONPATH}}"
"$PYTHON" -m ctc_unet predict "models/{dataset}" --data "../{dataset}" --sequence {seq} \\
  --out "../{dataset}" "$@"
"""

INSTALL = """#!/usr/bin/env bash
# Install the packaged ctc-unet and its pinned dependencies into the current Python
# environment. Offline: pass a folder of dependency wheels, e.g. ./install.sh /path/to/wheels
set -euo pipefail
cd "$(dirname "$0")"
if [ "$#" -ge 1 ]; then
  python3 -m pip install --no-index --find-links "$1" -r requirements.txt wheels/ctc_unet-*.whl
else
  python3 -m pip install -r requirements.txt wheels/ctc_unet-*.whl
fi
"""


def _readme(team: str, entries: list[tuple[str, RunDir, Config, list[str]]]) -> str:
    lines = [f"# {team}: ctc-unet {__version__}", "",
             "The original U-Net (Ronneberger, Fischer, Brox, MICCAI 2015): unpadded "
             "convolutions, overlap-tile inference with mirrored borders, weighted "
             "cross-entropy with separation borders between touching cells; instances from the "
             "predicted borders; tracking by global assignment with gap closing and checked "
             "divisions.", "",
             "| dataset | training configuration | sequences | network | iterations |",
             "| --- | --- | --- | --- | --- |"]
    for dataset, _run, cfg, seqs in entries:
        mc = cfg.model
        lines.append(f"| {dataset} | {training_configuration(cfg)} | {', '.join(seqs)} | "
                     f"depth {mc.depth}, {mc.base_channels} base channels | "
                     f"{cfg.train.iterations} |")
    lines += ["", "Run: `./install.sh` once, then e.g. `./DATASET-01.sh` from this folder.",
              "Set CTC_UNET_PYTHON to choose the Python interpreter; extra arguments go to "
              "`ctc-unet predict` (e.g. `--device cpu`).", ""]
    return "\n".join(lines)


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _challenge_root(data: str | Path | None, dataset: str, single: bool,
                    data_dir: Path | None, challenge: bool) -> Path:
    """The folder of ``dataset``'s sequences to predict: ``data`` is a folder holding
    ``<DATASET>/`` folders, the dataset's own folder (one run), a dataset name, or None (the
    run's dataset under the data root; its challenge copy with ``challenge``)."""
    from ctc_unet.data.locate import resolve_dataset

    if data is None:
        return resolve_dataset(dataset, data_dir, challenge=challenge)[0]
    folder = Path(data).expanduser()
    if folder.is_dir():
        if (folder / dataset).is_dir():
            return folder / dataset
        if single:
            return folder
        raise CtcUnetError(f"{folder}: no folder {dataset}/ with challenge sequences")
    root, name = resolve_dataset(str(data), data_dir, challenge=challenge)
    if name is not None and name != dataset and not single:
        raise CtcUnetError(f"--data {data} names one dataset ({name}); with runs of several "
                           "datasets give the folder that holds them")
    return root


def _package_dataset(pkg: Path, dataset: str, run: RunDir, cfg: Config, sequences, *,
                     device: torch.device, progress: bool) -> None:
    """Predict and validate every sequence of one dataset into ``pkg/<dataset>``; its run
    script, weights, config and post-processing into ``pkg/SW``."""
    from ctc_unet.inference.predictor import Predictor
    from ctc_unet.workflow.predict import predict_sequence

    sw = pkg / "SW"
    first = next(iter(sequences.sequences.values()))
    pred = Predictor.from_run(run, device, first.first_shape)
    for seq in sequences.sequences.values():
        res = predict_sequence(pred, seq, pkg / dataset, progress=progress)
        problem = ctcmetrics_problem(res)
        if problem is not None:
            raise CtcUnetError(f"{res.name} of {dataset}: py-ctcmetrics rejects these "
                               f"results ({problem}); nothing was written")
        _executable(sw / f"{dataset}-{seq.name}.sh", SCRIPT.format(dataset=dataset,
                                                                   seq=seq.name))
    model_dir = sw / "models" / dataset
    state = load_checkpoint(run.chosen)
    save_checkpoint({"model": state["model"], "iteration": state.get("iteration")},
                    model_dir / "checkpoint_best.pt")
    dump_config(cfg, model_dir / "config.yaml")
    for chosen in (run.postprocess, run.track_support):
        if chosen.is_file():
            shutil.copy2(chosen, model_dir / chosen.name)


def _zip(pkg: Path, path: Path) -> Path:
    """Zip the folder ``pkg`` (its name the archive's top folder) into ``path``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in sorted(pkg.rglob("*")):
            info = zipfile.ZipInfo.from_file(item, item.relative_to(pkg.parent).as_posix())
            if item.is_file():
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, item.read_bytes())
    return path


SUBMISSION_WHAT = "a submission (SW/ and <DATASET>/XX_RES folders)"


def is_submission_folder(folder: Path) -> bool:
    """A folder an earlier ``submit`` wrote: SW/ beside dataset folders, nothing else."""
    folder = Path(folder)
    return (folder / "SW").is_dir() and holds_only(folder, lambda n: (folder / n).is_dir())


def package_submission(runs: list[RunDir], *, data: str | Path | None, team: str, out: Path,
                       device: torch.device, progress: bool = False,
                       wheel: Path | None = None, data_dir: Path | None = None,
                       challenge: bool = True) -> tuple[Path, Path]:
    """Predict every challenge sequence with each run, validate, add the software, zip.
    ``data``: see ``_challenge_root``.

    Returns the package folder and the zip. Nothing is left under ``out`` on failure.
    """
    if not TEAM_RE.match(team):
        raise CtcUnetError(f"team name {team!r}: use letters, digits, '-' and '_' (max 64)")
    plans = []
    for run in runs:
        cfg = run.load_config()
        if not run.chosen.is_file():
            raise CtcUnetError(f"{run.root}: no checkpoint")
        dataset = cfg.dataset or run.root.name
        root = _challenge_root(data, dataset, len(runs) == 1, data_dir, challenge)
        plans.append((dataset, run, cfg, open_ctc_dataset(root)))
    if len({p[0] for p in plans}) != len(plans):
        raise CtcUnetError("two runs for the same dataset; give one run per dataset")

    out = Path(out)
    inputs = [path for _, run, _, ds in plans
              for path in (*run.inputs(), *(ds.root / name for name in ds.sequences))]
    for final in (out / team, out / f"{team}.zip"):
        check_apart(final, inputs)
    check_replaceable(out / team, is_submission_folder, SUBMISSION_WHAT)
    created = make_parents(out)
    remove_stale_staging(out)
    staging = make_staging_dir(out / team)
    try:
        pkg = staging / team
        sw = pkg / "SW"
        entries = []
        for dataset, run, cfg, sequences in plans:
            _package_dataset(pkg, dataset, run, cfg, sequences, device=device,
                             progress=progress)
            entries.append((dataset, run, cfg, list(sequences.sequences)))
        if wheel is not None:
            (sw / "wheels").mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheel, sw / "wheels" / Path(wheel).name)
        else:
            build_wheel(sw / "wheels")
        (sw / "requirements.txt").write_text(pinned_requirements())
        _executable(sw / "install.sh", INSTALL)
        (sw / "README.md").write_text(_readme(team, entries))
        zip_tmp = _zip(pkg, staging / f"{team}.zip")
        folder = replace_dir(pkg, out / team)
        archive = out / f"{team}.zip"
        os.replace(zip_tmp, archive)
        return folder, archive
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_empty(created)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
