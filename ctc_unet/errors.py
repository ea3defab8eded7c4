"""User-facing errors: the CLI prints their message as one line and exits non-zero."""

from __future__ import annotations


class CtcUnetError(Exception):
    """An error caused by the user's input (data, names, options), not by a bug."""


class ConfigError(CtcUnetError):
    """A configuration file or value that is not valid."""


class DataError(CtcUnetError):
    """A dataset file or folder is missing, unreadable or inconsistent."""


class UnknownDatasetError(CtcUnetError):
    """A dataset name that is not in the registry."""


class DownloadError(CtcUnetError):
    """A download or an archive that failed its checks."""


class OutputError(CtcUnetError):
    """An output location that would overwrite an input or something not written by
    ctc-unet (refused before anything is written)."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT arrived while a command ran (a KeyboardInterrupt, so that no
    ``except Exception`` swallows it); staged outputs are removed on the way out."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal = signal_name
