"""Training progress: a rich progress bar at a terminal, plain log lines in a batch job."""

from __future__ import annotations

import logging
import time

import torch

logger = logging.getLogger(__name__)


class Reporter:
    """A rich progress bar at a terminal; plain log lines every ``log_every`` otherwise."""

    def __init__(self, total: int, start: int, every: int, interactive: bool) -> None:
        self.total, self.every, self.start_it = total, every, start
        self.t0 = time.perf_counter()
        self.progress = None
        if interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                     TextColumn("ETA"), TimeRemainingColumn())
            self.task = self.progress.add_task("train", total=total, completed=start, info="")
            self.progress.start()

    def update(self, it: int, loss: float, lr: float, *, data_frac: float, device: torch.device
               ) -> None:
        done = it + 1 - self.start_it
        rate = done / max(time.perf_counter() - self.t0, 1e-9)
        info = f"loss {loss:.4f}  {rate:.2f} it/s"
        if self.progress is not None:
            self.progress.update(self.task, completed=it + 1, info=info)
        elif (it + 1) % self.every == 0 or it + 1 == self.total:
            eta = (self.total - it - 1) / max(rate, 1e-9)
            mem = (f" gpu_mem {torch.cuda.max_memory_allocated(device) / 2**30:.1f}GiB"
                   if device.type == "cuda" else "")
            logger.info("it %d/%d loss %.4f lr %.3g %.2f it/s data %.0f%% ETA %s%s", it + 1,
                        self.total, loss, lr, rate, 100 * data_frac,
                        time.strftime("%H:%M:%S", time.gmtime(eta)), mem)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
