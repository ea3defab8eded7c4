"""Logging configuration; only the CLI calls this.

At a terminal, log records go through rich; in a batch job (stderr not a TTY) they are plain
timestamped lines with no escape codes. A log file, when given, always gets plain lines.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_OWNED = "_ctc_unet_handler"


class _StderrHandler(logging.StreamHandler):
    """A stream handler that always writes to the current ``sys.stderr`` (which test runners
    and some batch wrappers replace after logging was set up)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def is_interactive() -> bool:
    """True when stderr is a terminal (progress bars and rich output are wanted)."""
    return sys.stderr.isatty()


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Configure the root logger for a CLI run (idempotent)."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 0 else logging.INFO
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, _OWNED, False)]:
        root.removeHandler(h)
    handler: logging.Handler
    if is_interactive():
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(stderr=True), show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    setattr(handler, _OWNED, True)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("pooch", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # Broken TIFFs are reported by our readers as one clear error; skip tifffile's own warnings.
    logging.getLogger("tifffile").setLevel(logging.ERROR)


def add_log_file(path: Path) -> logging.Handler:
    """Also write plain log lines to ``path`` (e.g. ``<run_dir>/train.log``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    setattr(handler, _OWNED, True)
    logging.getLogger().addHandler(handler)
    return handler
