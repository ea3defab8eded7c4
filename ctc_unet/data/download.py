"""Data root resolution and download of CTC archives through pooch.

Downloads go to ``<data_dir>/.archives`` (pooch streams to a temporary file and renames it
only once it is complete and its checksum, where known, matches). Archives are extracted
into a temporary folder beside the target, checked for the expected layout, and renamed into
place, so an interrupted run never leaves a folder that looks complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from ctc_unet.data.ctc import FRAME_RE, SEQUENCE_RE
from ctc_unet.data.registry import CTC_SERVER, DatasetInfo
from ctc_unet.errors import DataError, DownloadError
from ctc_unet.files import make_parents, make_staging_dir, remove_empty, remove_stale_staging

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "CTC_DATA_DIR"
MIRROR_ENV = "CTC_UNET_MIRROR"
CHALLENGE_SUBDIR = "challenge"


def default_data_dir() -> Path:
    """``$CTC_DATA_DIR`` if set, else the user cache folder (e.g. ``~/.cache/ctc-unet/data``)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("ctc-unet")) / "data"


def resolve_data_dir(option: Path | None) -> Path:
    """The data root: the ``--data-dir`` option, else ``$CTC_DATA_DIR``, else the cache;
    DataError when it exists but is not a folder."""
    root = Path(option).expanduser() if option is not None else default_data_dir()
    if root.exists() and not root.is_dir():
        given = "--data-dir" if option is not None else (
            f"${DATA_DIR_ENV}" if os.environ.get(DATA_DIR_ENV) else "the default data root")
        raise DataError(f"{root}: the data root ({given}) is not a folder; point it at the "
                        "folder that holds (or will hold) one folder per dataset")
    return root


def dataset_dir(info: DatasetInfo, data_dir: Path, challenge: bool = False) -> Path:
    """Where a dataset lives under the data root: ``NAME`` or ``challenge/NAME``."""
    root = Path(data_dir) / CHALLENGE_SUBDIR if challenge else Path(data_dir)
    return root / info.name


def layout_problem(root: Path, info: DatasetInfo, challenge: bool) -> str | None:
    """Why ``root`` is not a usable copy of the dataset, or None if it is."""
    if not root.is_dir():
        return "folder not found"
    if info.kind == "isbi2012":
        missing = [f for f in info.files if not (root / f).is_file()]
        return f"missing {', '.join(missing)}" if missing else None
    sequences = [p for p in root.iterdir() if p.is_dir() and SEQUENCE_RE.match(p.name)]
    if not sequences:
        return "no sequence folders (01, 02, ...)"
    for seq in sequences:
        if not any(FRAME_RE.match(f.name) for f in seq.iterdir()):
            return f"sequence {seq.name} holds no tNNN.tif frames"
    if not challenge and not any((root / f"{s.name}_GT").is_dir() for s in sequences):
        return "no ground-truth folders (01_GT, ...)"
    return None


def is_present(info: DatasetInfo, data_dir: Path, challenge: bool = False) -> bool:
    """True if the dataset is in the data root with the expected layout."""
    return layout_problem(dataset_dir(info, data_dir, challenge), info, challenge) is None


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a zip into ``target``, rejecting members that would land outside it
    (absolute paths, ``..``, symbolic links)."""
    target = Path(target).resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DownloadError(f"{archive}: corrupt member {bad!r} in the archive")
            for member in zf.infolist():
                name = PurePosixPath(member.filename.replace("\\", "/"))
                mode = member.external_attr >> 16
                drive = bool(name.parts) and ":" in name.parts[0]  # "C:/..." from Windows
                if name.is_absolute() or ".." in name.parts or drive:
                    raise DownloadError(f"{archive}: member {member.filename!r} would be "
                                        "extracted outside the target folder")
                if stat.S_ISLNK(mode):
                    raise DownloadError(f"{archive}: member {member.filename!r} is a symbolic "
                                        "link; refusing to extract")
                dest = (target / Path(*name.parts)).resolve() if name.parts else target
                if dest != target and target not in dest.parents:
                    raise DownloadError(f"{archive}: member {member.filename!r} would be "
                                        "extracted outside the target folder")
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive}: not a valid zip archive ({exc})") from exc


class _RichBar:
    """The progress-bar interface pooch's HTTPDownloader drives (total, update, reset, close),
    drawn with rich."""

    def __init__(self, description: str) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                  DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        self._task = self._progress.add_task(description, total=None)
        self._progress.start()
        self.n = 0

    @property
    def total(self) -> float | None:
        return self._progress.tasks[0].total

    @total.setter
    def total(self, value: float | None) -> None:
        self._progress.update(self._task, total=value)

    def update(self, n: int) -> None:
        self.n += n
        self._progress.update(self._task, advance=n)

    def reset(self) -> None:
        self.n = 0
        self._progress.reset(self._task)

    def close(self) -> None:
        self._progress.stop()


def _fetch(url: str, known_sha256: str, archive_dir: Path, fname: str, progress: bool) -> Path:
    import pooch
    import requests

    known = f"sha256:{known_sha256}" if known_sha256 else None
    if known is None:
        logger.warning("no checksum recorded for %s: the archive is checked for its layout only",
                       fname)
    # pooch's logger is a stand-alone Logger bound to the stderr of import time; this module
    # logs the same events itself.
    pooch.get_logger().disabled = True
    bar = _RichBar(fname) if progress else None
    downloader = pooch.HTTPDownloader(progressbar=bar or False)
    try:
        path = Path(pooch.retrieve(url, known_hash=known, fname=fname, path=archive_dir,
                                   downloader=downloader))
    except ValueError as exc:  # pooch: checksum mismatch (the temporary file is deleted)
        raise DownloadError(f"{url}: checksum mismatch ({exc})") from exc
    except requests.RequestException as exc:
        raise DownloadError(f"{url}: {_why(exc)}") from exc
    finally:
        if bar is not None:
            bar.close()
    if known is None:
        logger.info("sha256 of %s: %s (record it in the registry to pin this archive)", fname,
                    pooch.file_hash(str(path)))
    return path


def _why(exc: Exception) -> str:
    """A failed request in a few words, with what a user can do about it."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"the server answered HTTP {exc.response.status_code}; try again later"
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return ("the server cannot be reached (no network here?); download on a machine with "
                f"internet, or give a mirror (--mirror, ${MIRROR_ENV})")
    first = (str(exc).splitlines() or [""])[0][:120]
    return f"download failed ({type(exc).__name__}: {first})"


def download_dataset(
    info: DatasetInfo,
    data_dir: Path,
    *, challenge: bool = False,
    base_url: str | None = None,
    progress: bool = False,
    keep_archive: bool = False,
) -> Path:
    """Download and extract a CTC training (or challenge) dataset; return its folder.

    Does nothing if the dataset is already present. ``base_url`` defaults to
    ``$CTC_UNET_MIRROR`` or the official CTC data server.
    """
    data_dir = Path(data_dir)
    final = dataset_dir(info, data_dir, challenge)
    if layout_problem(final, info, challenge) is None:
        logger.info("%s already present at %s", info.name, final)
        return final
    if final.exists():
        raise DownloadError(f"{final}: exists but is not a complete copy of {info.name} "
                            f"({layout_problem(final, info, challenge)}); move it away first")
    base = base_url or os.environ.get(MIRROR_ENV) or CTC_SERVER
    url = info.challenge_url(base) if challenge else info.train_url(base)
    if url is None:
        raise DownloadError(
            f"{info.name} has no public download; place {', '.join(info.files)} in {final}"
        )
    archive_dir = data_dir / ".archives"
    created = make_parents(archive_dir)
    fname = f"{info.name}{'-challenge' if challenge else ''}.zip"
    digest = info.challenge_sha256 if challenge else info.train_sha256
    logger.info("downloading %s", url)
    try:
        archive = _fetch(url, digest, archive_dir, fname, progress)
    except BaseException:
        remove_empty(created)  # no empty .archives/ (or data root) left by a failed fetch
        raise

    remove_stale_staging(final.parent)
    staging = make_staging_dir(final)
    try:
        try:
            safe_extract(archive, staging)
        except DownloadError:
            archive.unlink(missing_ok=True)  # a bad archive must be fetched again next time
            raise
        extracted = staging / info.name
        problem = layout_problem(extracted, info, challenge)
        if problem is not None:
            archive.unlink(missing_ok=True)
            raise DownloadError(f"{url}: archive does not hold the expected layout "
                                f"{info.name}/ ({problem}); deleted it")
        os.replace(extracted, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not keep_archive:
        archive.unlink(missing_ok=True)
    logger.info("%s ready at %s", info.name, final)
    return final
