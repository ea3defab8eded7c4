"""A run directory's own log, ``train.log``: written by every training, from the command line
or the Python API, whatever logging the caller configured."""

from __future__ import annotations

import contextlib
import logging
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


@contextlib.contextmanager
def run_log(path: Path) -> Iterator[None]:
    """While the block runs, the ``ctc_unet`` loggers' records of level INFO and above also
    go to ``path`` as plain lines (appended: a resumed run continues its log). The logger's
    level is lowered to INFO for the block if needed and restored after; handlers of the
    caller's logging keep their own levels."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    package = logging.getLogger("ctc_unet")
    level = package.level
    if package.getEffectiveLevel() > logging.INFO:
        package.setLevel(logging.INFO)
    package.addHandler(handler)
    try:
        yield
    finally:
        package.removeHandler(handler)
        handler.close()
        package.setLevel(level)


def invocation(dataset: str) -> str:
    """How this run was started, for train.log (results tables quote and re-run it): the
    command line when the ``ctc-unet`` program (or ``python -m ctc_unet``) runs, else the
    Python call."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if program in ("ctc-unet", "__main__.py"):
        return shlex.join(["ctc-unet", *sys.argv[1:]])
    return f"python: a training on {dataset!r} from {program or 'an interpreter'}"
