"""The run directory: a run describes itself, so ``predict`` and ``submit`` need nothing else.

    config.yaml          resolved configuration
    split.json           training and validation frames
    checkpoint_last.pt   model, optimizer, scheduler, iteration, RNG state (atomic writes)
    checkpoint_best.pt   the best validation score so far
    metrics.jsonl        one JSON record per log / validation event
    train.log            the log
    curves.png           loss and validation curves
    postprocess.json     threshold and minimum size chosen on the validation frames
    track_support.json   which tracks are cells, learned from the TRA markers (tracking)
    refit.json           a refit's parent run and frames (``ctc-unet refit``)
    dataset.json         the dataset's name and the folder it was read from
    status.json          how the last training call ended (finished, interrupted, failed)
    .lock                held by the trainer that uses the run directory
    cache/targets/       weight maps, keyed by content
    refit/               the run's refit on every annotated frame (``ctc-unet refit``, or
                         ``train`` itself: ``train.refit``), a run directory of its own:
                         once finished, the model predict, export and submit use
                         (``pick_model``)
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ctc_unet.config import Config, PostprocessConfig, from_dict
from ctc_unet.config_io import build, read_yaml
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import atomic_write
from ctc_unet.targets.frames import FrameRef

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """Annotated frames that train, that validate (choose the checkpoint and the
    post-processing), and that report (scored by ``evaluate --frames report``, never used
    to choose anything); ``report_sequences``: sequences reported on whole (all their frames,
    every TRA marker)."""

    train: list[FrameRef]
    val: list[FrameRef]
    report: list[FrameRef] = field(default_factory=list)
    report_sequences: list[str] = field(default_factory=list)
    # frames of the choosing region with TRA markers but no mask: their markers join the
    # choice of the post-processing (DET), never training (``split.choose_markers``)
    choose_markers: list[FrameRef] = field(default_factory=list)

    def to_json(self) -> str:
        def rows(refs: list[FrameRef]) -> list[dict]:
            return [{"sequence": r.sequence, "t": r.t, "source": r.source} for r in refs]
        data = {"train": rows(self.train), "val": rows(self.val), "report": rows(self.report),
                "report_sequences": self.report_sequences}
        if self.choose_markers:
            data["choose_markers"] = rows(self.choose_markers)
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Split:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict) -> Split:
        """The split of a parsed split.json."""
        return cls(*([FrameRef(**r) for r in data.get(k, [])]
                     for k in ("train", "val", "report")),
                   report_sequences=[str(s) for s in data.get("report_sequences", [])],
                   choose_markers=[FrameRef(**r) for r in data.get("choose_markers", [])])

    def describe(self) -> str:
        """One line: which frames train, choose and report."""
        def span(refs: list[FrameRef]) -> str:
            by_seq: dict[str, list[int]] = {}
            for r in refs:
                by_seq.setdefault(r.sequence, []).append(r.t)
            return "; ".join(f"{s} {frame_ranges(ts)} ({len(ts)})" for s, ts in by_seq.items())
        whole = (f"; sequence(s) {', '.join(self.report_sequences)} reported whole"
                 if self.report_sequences else "")
        marked = (f" (+ the markers of {span(self.choose_markers)} for DET)"
                  if self.choose_markers else "")
        return (f"train {span(self.train)}; choose {span(self.val)}{marked}; "
                f"report {span(self.report) or 'none'}{whole}")


def frame_runs(frames: list[int]) -> list[list[int]]:
    """Frame numbers in runs of consecutive ones: [0, 1, 2, 5, 7, 8] -> [[0, 1, 2], [5],
    [7, 8]]."""
    runs: list[list[int]] = []
    for t in sorted(set(frames)):
        if runs and t == runs[-1][-1] + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    return runs


def frame_ranges(frames: list[int], digits: int = 0) -> str:
    """Frame numbers as ranges: [0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8' (zero-padded to
    ``digits``)."""
    return ", ".join(f"{r[0]:0{digits}d}-{r[-1]:0{digits}d}" if len(r) > 1
                     else f"{r[0]:0{digits}d}" for r in frame_runs(frames))


@dataclass(frozen=True)
class RunDir:
    """Paths of a run directory."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def split(self) -> Path:
        return self.root / "split.json"

    @property
    def last(self) -> Path:
        return self.root / "checkpoint_last.pt"

    @property
    def best(self) -> Path:
        return self.root / "checkpoint_best.pt"

    @property
    def chosen(self) -> Path:
        """The checkpoint the run chose: the best on its validation frames, else the last."""
        return self.best if self.best.is_file() else self.last

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    @property
    def postprocess(self) -> Path:
        return self.root / "postprocess.json"

    @property
    def track_support(self) -> Path:
        return self.root / "track_support.json"

    @property
    def refit(self) -> Path:
        return self.root / "refit.json"

    @property
    def dataset_record(self) -> Path:
        return self.root / "dataset.json"

    def dataset_folder(self) -> Path | None:
        """The dataset folder the run was trained on (dataset.json), if it is still there:
        what ``evaluate``, ``export`` and ``refit`` read when given no --data."""
        if not self.dataset_record.is_file():
            return None
        folder = read_json(self.dataset_record).get("folder")
        return Path(folder) if folder and Path(folder).is_dir() else None

    def dataset(self, data: str | Path | None) -> str:
        """What to read as the run's data: ``data`` when given, else the folder the run was
        trained on, else the run's dataset name (looked up under the data root)."""
        if data is not None:
            return str(data)
        folder = self.dataset_folder()
        return str(folder) if folder is not None else self.load_config().dataset

    def refit_parent(self) -> RunDir | None:
        """The run whose recipe, checkpoint iteration and post-processing a refit reused
        (refit.json; the folder above by default); None for a run of its own. A refit inside
        a run directory (RUN/refit, or a kept record of both) belongs to that run, wherever
        refit.json says the parent was trained."""
        if not self.refit.is_file():
            return None
        above = self.root.parent
        if (above / "config.yaml").is_file():
            return RunDir(above)
        parent = Path(read_json(self.refit).get("parent", above))
        return RunDir(parent if parent.is_dir() else above)

    @property
    def own_refit(self) -> RunDir:
        """``RUN/refit``: where the run's refit on every annotated frame lives (made by
        ``ctc-unet refit`` or by ``train`` itself, ``train.refit``), whether or not it exists."""
        return RunDir(self.root / "refit")

    def finished_refit(self) -> RunDir | None:
        """``own_refit`` once it is a refit (refit.json) whose training has finished."""
        refit = self.own_refit
        return refit if refit.refit.is_file() and refit.has_finished() else None

    @property
    def name(self) -> str:
        """The run's name: its folder's; a refit inside its run is ``RUN-refit``."""
        parent = self.refit_parent()
        inside = parent is not None and parent.root == self.root.parent
        return f"{parent.root.name}-{self.root.name}" if inside else self.root.name

    def inputs(self) -> list[Path]:
        """The files that make the trained model (config, split, checkpoints, chosen
        post-processing, refit record): what no output of predict, evaluate, export or
        submit may overwrite. Outputs inside the run directory beside them are fine."""
        return [p for p in (self.config, self.split, self.last, self.best, self.postprocess,
                            self.track_support, self.refit, self.dataset_record)
                if p.exists()]

    @property
    def target_cache(self) -> Path:
        return self.root / "cache" / "targets"

    def load_config(self) -> Config:
        """The run's resolved configuration."""
        if not self.config.is_file():
            raise CtcUnetError(f"{self.root}: not a run directory (no config.yaml)")
        data = read_yaml(self.config)
        if "model" not in data:  # the defaults would build another network than the weights'
            what = "is empty" if not data else "has no model section"
            raise CtcUnetError(f"{self.config}: {what}; a run's config.yaml, written by "
                               "train, lists every setting of the run (restore it from a "
                               "copy of the run)")
        return from_dict(data, str(self.config))

    def load_status(self) -> dict[str, Any]:
        """status.json: how the last training call ended (``status``: finished, interrupted
        or failed; ``iteration`` of ``iterations``; ``detail``: the signal or the error);
        {} when no training call has ended yet."""
        if not self.status.is_file():
            return {}
        data = read_json(self.status)
        return data if isinstance(data, dict) else {}

    def has_finished(self) -> bool:
        """Whether the last training call finished (status.json says so)."""
        return self.load_status().get("status") == "finished"

    def load_split(self) -> Split:
        """split.json: the frames that trained, chose and report."""
        data = read_json(self.split)
        try:
            return Split.from_dict(data)
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            raise CtcUnetError(f"{self.split}: not a split written by ctc-unet ({exc})"
                               ) from None

    def load_postprocess(self, default: PostprocessConfig) -> PostprocessConfig:
        """The post-processing chosen at the end of training (postprocess.json: rule,
        threshold, minimum size) over ``default``, else ``default``; values are checked as a
        configuration's are."""
        if not self.postprocess.is_file():
            return default
        data = read_json(self.postprocess)
        if not isinstance(data, dict) or not {"threshold", "min_size"} <= set(data):
            raise CtcUnetError(f"{self.postprocess}: expected an object with threshold and "
                               "min_size")
        names = {f.name for f in dataclasses.fields(PostprocessConfig)}
        chosen = {k: v for k, v in data.items() if k in names}  # not its scores and grid
        return build(PostprocessConfig, {**dataclasses.asdict(default), **chosen},
                             f"{self.postprocess}:")

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl (flushed, so a crash keeps what was written)."""
        with open(self.metrics, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def truncate_metrics(self, iteration: int) -> int:
        """Keep the metrics records up to ``iteration`` (a resumed run logs the later ones
        again, and its own ``env`` record) and drop a torn last line; returns how many records
        were dropped."""
        if not self.metrics.is_file():
            return 0
        lines = self.metrics.read_text().splitlines()
        keep = []
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                keep.append(line)
                continue
            at = record.get("iteration", 0)
            # the env record of a call that resumed from this same checkpoint is written again
            if at < iteration or (at == iteration and record.get("kind") != "env"):
                keep.append(line)
        if len(keep) != len(lines):
            atomic_write(self.metrics, lambda p: p.write_text("".join(f"{x}\n" for x in keep)))
        return len(lines) - len(keep)

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records of metrics.jsonl (a torn last line is skipped)."""
        if not self.metrics.is_file():
            return []
        out = []
        for line in self.metrics.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


MODELS = ("auto", "refit", "protocol")


def check_model(which: str) -> None:
    """A one-line error unless ``which`` names one of a run's models (``MODELS``)."""
    if which not in MODELS:
        raise CtcUnetError(f"model {which!r}: expected one of {', '.join(MODELS)}")


def pick_model(run: RunDir, which: str = "auto") -> RunDir:
    """Which model of a run to use (``which``): ``refit``, the run's refit on every annotated
    frame (``RUN/refit``, ``RunDir.own_refit``); ``protocol``, the model the run's
    protocol trained, chose with and reported on; ``auto``, the refit where it has finished,
    else the run's own. Given a refit itself, ``protocol`` is its parent run."""
    check_model(which)
    parent = run.refit_parent()
    if parent is not None:
        return parent if which == "protocol" else run
    if which == "protocol":
        return run
    refit = run.finished_refit()
    if refit is not None:
        logger.info("%s: using its refit on every annotated frame, %s (--model protocol: the "
                    "model the run chose with and reported on)", run.root, refit.root)
        return refit
    refit = run.own_refit
    state = "has not finished (`ctc-unet refit RUN --resume` goes on)" if refit.root.is_dir() \
        else "does not exist (`ctc-unet refit RUN` trains it)"
    if which == "refit":
        raise CtcUnetError(f"{run.root}: its refit {refit.root} {state}")
    if refit.root.is_dir():
        logger.warning("%s: its refit %s %s; using the run's own model", run.root, refit.root,
                       state)
    return run


def read_json(path: Path) -> Any:
    """A JSON file's content; CtcUnetError naming the file when it is missing or not JSON."""
    if not path.is_file():
        raise CtcUnetError(f"{path}: file not found")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CtcUnetError(f"{path}: not valid JSON ({exc})") from None


class RunLock:
    """An exclusive lock on a run directory, so two trainers never write into the same one
    (also across hosts sharing a filesystem: a POSIX record lock, which NFS honours). The OS
    releases it when the process ends, so a crashed job leaves no stale lock; a holder that
    ends normally also removes the ``.lock`` file."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl
        import socket

        self.run.root.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.run.lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = (os.pread(fd, 200, 0).decode(errors="replace").strip()
                          or "another process")
                os.close(fd)
                raise CtcUnetError(f"{self.run.root} is in use by {holder}; wait for it to "
                                   "finish or choose another --run-dir") from None
            try:  # the holder before may have removed the file between open and lock
                same = os.stat(self.run.lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):  # removed while held: nobody else holds it
                os.unlink(self.run.lock)
            os.close(self._fd)  # releases the lock
            self._fd = None


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file beside ``path``, then rename: never half-written.
    torch's writer reports a failed write (a full disk, a quota) as RuntimeError; it becomes
    the OSError it is, naming ``path``, so that it ends as one line like any full disk."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        try:
            torch.save(state, tmp)
        except RuntimeError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            free = shutil.disk_usage(path.parent).free
            code = errno.ENOSPC if free < (1 << 26) else errno.EIO
            raise OSError(code, f"the checkpoint could not be written ({first}; "
                          f"{free / 2**20:.0f} MiB free there: is the disk full or over "
                          "quota?)", str(path)) from None

    atomic_write(path, write)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (tensors and plain containers only);
    CtcUnetError when it is unreadable or not a ctc-unet checkpoint (no model weights)."""
    if not path.is_file():
        raise CtcUnetError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CtcUnetError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {first})"
                           ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CtcUnetError(f"{path}: not a ctc-unet checkpoint (no 'model' weights)")
    broken = [k for k, v in state["model"].items()
              if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise CtcUnetError(
            f"{path}: {len(broken)} weight tensor(s) hold NaN or infinite values (first: "
            f"{broken[0]}); the training diverged before this checkpoint was saved. Train "
            "again (a lower train.lr, or train.grad_clip) or use an earlier checkpoint")
    return state


def load_weights(model: torch.nn.Module, state: dict[str, Any], path: Path, cfg: Config) -> None:
    """Put a checkpoint's weights into ``model``; CtcUnetError, naming the file and the run's
    network, when they belong to another architecture."""
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        mc = cfg.model
        raise CtcUnetError(
            f"{path}: weights do not fit the run's network (base_channels {mc.base_channels}, "
            f"depth {mc.depth}, {mc.n_classes} classes): {first.rstrip(':')}") from None
