"""Signals in every phase of a command.

``interrupt_on_signals`` (installed by the CLI around every command) turns SIGTERM and SIGINT
into an ``Interrupted`` exception, so staged outputs are removed on the way out and the CLI
prints one line. Inside the training loop ``StopFlag`` takes over: the signal only sets a flag
that the loop checks after each iteration; it then checkpoints and stops.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from ctc_unet.errors import Interrupted

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """While active, SIGTERM and SIGINT raise ``Interrupted`` (in the main thread)."""
    old = {}
    for sig in SIGNALS:
        with contextlib.suppress(ValueError):  # not in the main thread
            old[sig] = signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def ignore_signals_in_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: workers leave SIGTERM/SIGINT to the main process (a
    batch system signals every process of a job; a worker that died of it would turn a
    graceful stop into a crash)."""
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


class StopFlag:
    """Context manager: while active, SIGTERM/SIGINT set ``signal`` to the signal's name
    instead of ending the process; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        for sig in SIGNALS:
            with contextlib.suppress(ValueError):  # not in the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise Interrupted("SIGINT")
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
