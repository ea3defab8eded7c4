"""Graceful stops: SIGTERM / SIGINT (e.g. SLURM pre-emption, Ctrl-C) set a flag that the loop
checks after each iteration; it then checkpoints and stops."""

from __future__ import annotations

import contextlib
import signal


class StopFlag:
    """Context manager: while active, SIGTERM/SIGINT set ``signal`` to the signal's name
    instead of ending the process; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not in the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
