"""Finding a dataset folder from what a user types: a path, or a dataset name or alias looked
up under the data root (and downloaded when asked)."""

from __future__ import annotations

import logging
from pathlib import Path

from ctc_unet.data.download import (
    DATA_DIR_ENV,
    dataset_dir,
    download_dataset,
    is_present,
    resolve_data_dir,
)
from ctc_unet.data.registry import resolve
from ctc_unet.errors import DataError, UnknownDatasetError

logger = logging.getLogger(__name__)


def resolve_dataset(name: str, data_dir: Path | None, *, download: bool = False,
                    challenge: bool = False, progress: bool = False
                    ) -> tuple[Path, str | None]:
    """The dataset folder for NAME and the registry name that selects its config.

    NAME is a folder (used as given) or a dataset name or alias, looked up under the data
    root (its challenge copy with ``challenge``) and, with ``download``, fetched when missing.
    """
    candidate = given_folder(name)
    if candidate is not None:
        return candidate, config_name(candidate)
    try:
        info = resolve(name)
    except UnknownDatasetError as exc:
        if download:
            raise
        raise UnknownDatasetError(f"{name}: no such folder here, and {exc}") from None
    root = resolve_data_dir(data_dir)
    if download and not is_present(info, root, challenge):
        logger.info("%s not found under %s; downloading it", info.name, root)
        download_dataset(info, root, challenge=challenge, progress=progress)
    folder = dataset_dir(info, root, challenge)
    if not folder.exists():
        what = f"the challenge copy of {info.name}" if challenge else info.name
        flag = " --challenge" if challenge else ""
        raise DataError(f"{folder}: {what} is not in the data root {root} "
                        f"({_root_source(data_dir)}); get it with `ctc-unet download "
                        f"{info.name}{flag}`, or point --data-dir or ${DATA_DIR_ENV} at the "
                        "folder that holds it")
    return folder, info.name


def _root_source(data_dir: Path | None) -> str:
    import os

    if data_dir is not None:
        return "--data-dir"
    return f"${DATA_DIR_ENV}" if os.environ.get(DATA_DIR_ENV) else "the default"


def dataset_name(name: str) -> str:
    """The name that selects NAME's configuration and default run directory, found without
    touching the data: the registry name of a dataset name, alias or folder, else the folder's
    own name. An unknown name that is not a path raises ``UnknownDatasetError``."""
    candidate = given_folder(name)
    if candidate is not None:
        return config_name(candidate) or candidate.name
    return resolve(name).name


def given_folder(name: str) -> Path | None:
    """NAME as a folder when it names one (it exists or is written as a path), else None."""
    candidate = Path(name).expanduser()
    return candidate if candidate.exists() or "/" in name or "\\" in name else None


def config_name(root: Path) -> str | None:
    """The registry name of a dataset folder (selects configs/<name>.yaml), if it has one."""
    try:
        return resolve(Path(root).name).name
    except UnknownDatasetError:
        return None


def dataset_inputs(root: Path) -> list[Path]:
    """What a command reads from the dataset folder ``root``, for ``files.check_apart``: the
    ISBI 2012 stacks, or each sequence's frames, GT and ST folders (outputs beside them, like
    the challenge's XX_RES, are fine)."""
    from ctc_unet.data.ctc import SEQUENCE_RE
    from ctc_unet.data.isbi import TEST_VOLUME, TRAIN_LABELS, TRAIN_VOLUME, is_isbi_folder

    root = Path(root)
    if is_isbi_folder(root):
        return [root / f for f in (TRAIN_VOLUME, TRAIN_LABELS, TEST_VOLUME)]
    if not root.is_dir():
        return [root]
    names = [p.name for p in root.iterdir() if SEQUENCE_RE.match(p.name)]
    return [root / f"{n}{part}" for n in names for part in ("", "_GT", "_ST")]
