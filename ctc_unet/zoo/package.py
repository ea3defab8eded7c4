"""Reading an exported bioimage.io package back, so that a model travels as one file:
``load_model`` builds the predictor straight from it, and ``predict``, ``evaluate`` and
``submit`` work on a run directory made from it beside the package (``<package>.run/``).

What a package carries (``ctc-unet export``): ``weights.pt`` (the network's state dict, with a
softmax wrapper), ``ctc_unet_config.yaml`` (the run's configuration) and, in ``rdf.yaml``'s
``config.ctc_unet``, the chosen post-processing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import zipfile
from pathlib import Path

import torch
import yaml

from ctc_unet.config import Config, PostprocessConfig, dump_config, from_dict
from ctc_unet.config_io import build
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import staged_dir, write_text_atomic
from ctc_unet.rundir import RunDir, save_checkpoint
from ctc_unet.tracking.support import TrackSupport

logger = logging.getLogger(__name__)

FILES = ("rdf.yaml", "ctc_unet_config.yaml", "weights.pt")
RECORD = "package.json"  # in a run directory made from a package: which package, which bytes


def is_package(path: str | Path) -> bool:
    """A package zip (``*.zip``) or an unzipped package folder (it holds rdf.yaml)."""
    path = Path(path)
    return (path.is_file() and path.suffix == ".zip") or (path / "rdf.yaml").is_file()


def _read(path: Path) -> dict[str, bytes]:
    """The package's files this module needs, as bytes."""
    try:
        if path.is_file():
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                return {n: zf.read(n) for n in FILES if n in names}
        return {n: (path / n).read_bytes() for n in FILES if (path / n).is_file()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise CtcUnetError(f"{path}: not a readable package ({exc})") from None


def read_package(path: str | Path) -> tuple[Config, PostprocessConfig, dict]:
    """The configuration, the chosen post-processing and the checkpoint state (``{"model":
    state dict}``) of a package written by ``ctc-unet export``; CtcUnetError naming the
    package when it is not one."""
    path = Path(path)
    files = _read(path)
    missing = [n for n in FILES if n not in files]
    if missing:
        raise CtcUnetError(f"{path}: not a ctc-unet model package (no {', '.join(missing)}; "
                           "`ctc-unet export` writes them)")
    cfg = from_dict(yaml.safe_load(files["ctc_unet_config.yaml"]) or {},
                    f"{path}:ctc_unet_config.yaml")
    rdf = yaml.safe_load(files["rdf.yaml"]) or {}
    chosen = ((rdf.get("config") or {}).get("ctc_unet") or {}).get("postprocess") or {}
    post = build(PostprocessConfig, {**dataclasses.asdict(cfg.postprocess), **chosen},
                 f"{path}:rdf.yaml:")
    try:
        weights = torch.load(io.BytesIO(files["weights.pt"]), map_location="cpu",
                             weights_only=True)
    except Exception as exc:
        raise CtcUnetError(f"{path}: weights.pt is unreadable ({type(exc).__name__})") from None
    model = {k.removeprefix("unet."): v for k, v in weights.items()}
    return cfg, post, {"model": model, "iteration": None}


def read_track_support(path: str | Path) -> TrackSupport | None:
    """The track support a package carries (rdf.yaml config.ctc_unet.track_support), or
    None; CtcUnetError when it is malformed."""
    rdf = yaml.safe_load(_read(Path(path))["rdf.yaml"]) or {}
    data = ((rdf.get("config") or {}).get("ctc_unet") or {}).get("track_support")
    if data is None:
        return None
    try:
        return TrackSupport.from_dict(data)
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise CtcUnetError(f"{path}: rdf.yaml: config.ctc_unet.track_support: {exc}"
                           ) from None


def package_run(path: str | Path) -> RunDir:
    """A run directory made from the package (``<package>.run/`` beside it: config.yaml,
    checkpoint_best.pt, postprocess.json and package.json naming the package and its
    digest), made again when the package changed. Results and evaluations of ``predict`` and
    ``evaluate`` go there by default."""
    path = Path(path)
    digest = hashlib.sha256(b"".join(_read(path).get(n, b"") for n in FILES)).hexdigest()
    run = RunDir(path.parent / f"{path.name.removesuffix('.zip')}.run")
    if run.root.is_dir() and (run.root / RECORD).is_file():
        try:
            if json.loads((run.root / RECORD).read_text()).get("sha256") == digest:
                return run
        except ValueError:
            pass
    cfg, post, state = read_package(path)
    with staged_dir(run.root, lambda p: (p / RECORD).is_file(), "a run made from a package"
                    ) as stage:
        made = RunDir(stage)
        dump_config(cfg, made.config)
        save_checkpoint(state, made.best)
        write_text_atomic(made.postprocess, json.dumps(dataclasses.asdict(post), indent=1))
        support = read_track_support(path)
        if support is not None:
            write_text_atomic(made.track_support, json.dumps(support.to_dict(), indent=1))
        write_text_atomic(stage / RECORD, json.dumps(
            {"package": str(path.resolve()), "sha256": digest}, indent=1))
    logger.info("%s: a run directory made from the package %s", run.root, path.name)
    return run
