"""User-facing errors: the CLI prints their message as one line and exits non-zero."""

from __future__ import annotations


class CtcUnetError(Exception):
    """An error caused by the user's input (data, names, options), not by a bug."""


class DataError(CtcUnetError):
    """A dataset file or folder is missing, unreadable or inconsistent."""


class UnknownDatasetError(CtcUnetError):
    """A dataset name that is not in the registry."""


class DownloadError(CtcUnetError):
    """A download or an archive that failed its checks."""
