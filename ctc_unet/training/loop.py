"""Training loop: the paper's weighted loss, batch 1 per process, validation, atomic
checkpoints, exact resume, graceful stop on SIGTERM/SIGINT, AMP and DDP.

A run started with ``torchrun --nproc_per_node N`` trains with DistributedDataParallel (NCCL on
CUDA, gloo on CPU); rank r draws sample ``iteration * N + r``, rank 0 validates and writes.

``train`` runs the named steps of ``Trainer``: ``setup`` (data, model, optimizer, resume),
``step`` (one iteration), ``validate_and_save``, ``checkpoint`` and ``finish``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctc_unet.config import Config, dump_config
from ctc_unet.device import autocast_dtype, describe_hardware
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import remove_stale_staging, write_text_atomic
from ctc_unet.model.unet import UNet
from ctc_unet.rundir import RunDir, Split, load_checkpoint, load_weights, save_checkpoint
from ctc_unet.signals import StopFlag
from ctc_unet.training.averaging import make_average
from ctc_unet.training.diagnostics import (
    dead_fractions,
    is_constant,
    update_ratios,
    weight_snapshot,
)
from ctc_unet.training.distributed import (
    agree_on_weights,
    any_rank_stopped,
    dist_env,
    gather_rng,
    setup_device,
    teardown,
)
from ctc_unet.training.loss import weighted_cross_entropy
from ctc_unet.training.progress import Reporter
from ctc_unet.training.samples import TrainingSamples, sample_loader, stop_workers
from ctc_unet.training.schedule import make_optimizer
from ctc_unet.training.split import choosing_marker_frames, load_frames
from ctc_unet.training.validation import choose_postprocess, validate

logger = logging.getLogger(__name__)


class TrainingCollapsed(CtcUnetError):
    """The network's output stopped depending on its input (see ``Trainer._check_collapse``)."""


@dataclass(frozen=True)
class TrainResult:
    """How a training call ended."""

    iteration: int
    status: str  # "finished" or "interrupted"
    best_score: float | None
    weights_checksum: str
    signal: str | None = None


class Trainer:
    """One training call on the dataset folder ``root`` into the run directory ``run``."""

    def __init__(self, root: Path, run: RunDir, cfg: Config, device: str | torch.device,
                 resume: bool, interactive: bool, split: Split | None) -> None:
        self.root, self.run, self.cfg, self.train_cfg = root, run, cfg, cfg.train
        self.given_split = split  # a fresh run's split (a refit's); else the protocol's
        self.rank, self.world, local_rank = dist_env()
        self.device = setup_device(device, self.world, local_rank)
        self.resume, self.interactive = resume, interactive
        self.it, self.start, self.best = 0, 0, None
        self.constant_validations = 0
        self.window: list[float] = []
        self.wait = self.busy = 0.0

    def setup(self) -> None:
        """Split and load the data, build model, optimizer and schedule, restore a checkpoint.
        Writes nothing: a bad input fails here with the run directory as it was."""
        train_cfg, run, device = self.train_cfg, self.run, self.device
        if train_cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
        torch.manual_seed(train_cfg.seed + self.rank)
        state = load_checkpoint(run.last) if self.resume and run.last.is_file() else None
        split = run.load_split() if state and run.split.is_file() else self.given_split
        self.split, train_frames, self.val_frames = load_frames(self.root, self.cfg, split)
        self.samples = TrainingSamples(train_frames, self.cfg, run.target_cache)
        self.model = UNet.from_config(self.cfg.model, train_cfg.head_init).to(device)
        if train_cfg.channels_last:
            self.model.use_channels_last()
        self.optimizer, self.scheduler = make_optimizer(self.model, train_cfg)
        self.average = make_average(self.model, train_cfg.ema_decay)
        self.amp_dtype = autocast_dtype(train_cfg.amp, device)
        self.use_amp = self.amp_dtype is not None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        if state is not None:
            self._restore(state)
        self.net = (torch.nn.parallel.DistributedDataParallel(
            self.model, device_ids=[device.index] if device.type == "cuda" else None)
            if self.world > 1 else self.model)

    def begin(self) -> None:
        """Write config.yaml and split.json (rank 0); on resume, remove staging files of a
        killed call and metrics records past the checkpoint (they are logged again)."""
        run = self.run
        if self.rank != 0:
            return
        run.root.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(run.root, recursive=True, locked=True)
        if self.start:
            dropped = run.truncate_metrics(self.start)
            if dropped:
                logger.info("dropped %d metrics record(s) after iteration %d (logged again "
                            "now)", dropped, self.start)
            logger.info("resuming at iteration %d of %d", self.start, self.train_cfg.iterations)
        dump_config(self.cfg, run.config)
        write_text_atomic(run.split, self.split.to_json())
        run.append_metrics({"kind": "env", "iteration": self.start, "time": time.time(),
                            "precision": str(self.amp_dtype or torch.float32)[6:],
                            **describe_hardware(self.device, self.world)})
        logger.info("split: %s", self.split.describe())
        marked = sum(r.source == "TRA" for r in self.split.train)
        source = self.cfg.targets.source + (f", {marked} of them TRA markers only"
                                             if marked else "")
        logger.info("%d training frames (%s), %d validation frames; device %s, %d process(es), "
                    "%s%s", len(self.split.train), source, len(self.val_frames),
                    self.device, self.world, str(self.amp_dtype or torch.float32)[6:],
                    "" if self.average is None else
                    f"; validation and prediction use the weights' moving average (decay "
                    f"{self.train_cfg.ema_decay})")

    @property
    def predicting(self) -> torch.nn.Module:
        """The weights that validate, are chosen and predict: the average, if one is kept."""
        return self.model if self.average is None else self.average.module

    def _restore(self, state: dict) -> None:
        # "model" holds the weights that predict; with averaging, "trained" the optimizer's
        load_weights(self.model, {"model": state.get("trained", state["model"])},
                     self.run.last, self.cfg)
        if self.average is not None:
            load_weights(self.average.module, state, self.run.last, self.cfg)
            self.average.n_averaged.fill_(int(state.get("averaged", 0)))
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            self.start, self.best = int(state["iteration"]), state.get("best_score")
            rng = state["rng"]
        except (KeyError, ValueError, TypeError) as exc:
            raise CtcUnetError(f"{self.run.last}: cannot resume from it (optimizer, schedule "
                               f"or iteration missing or of another run: {exc})") from None
        self.it = self.start
        torch.set_rng_state(rng[self.rank] if self.rank < len(rng) else rng[0])

    def checkpoint(self, path: Path) -> None:
        """Save model, optimizer, schedule, scaler, iteration and every rank's RNG (rank 0
        writes, atomically)."""
        rng = gather_rng(self.world)
        if self.rank == 0:
            averaged = ({} if self.average is None else
                        {"trained": self.model.state_dict(),
                         "averaged": int(self.average.n_averaged)})
            save_checkpoint({"model": self.predicting.state_dict(), **averaged,
                             "optimizer": self.optimizer.state_dict(),
                             "scheduler": self.scheduler.state_dict(),
                             "scaler": self.scaler.state_dict(), "iteration": self.it,
                             "best_score": self.best, "rng": rng,
                             "config_dataset": self.cfg.dataset}, path)

    def step(self, batch: dict[str, torch.Tensor], diagnose: bool = False) -> float:
        """One optimisation step on ``batch``; returns the loss. With ``diagnose``, dead-ReLU
        fractions and update ratios of this step go to metrics.jsonl (rank 0)."""
        train_cfg, device = self.train_cfg, self.device
        x = batch["image"].to(device, non_blocking=True)
        dead: dict[str, float] = {}
        before = weight_snapshot(self.model) if diagnose else None
        with torch.autocast(device.type, dtype=self.amp_dtype, enabled=self.use_amp), (
                dead_fractions(self.model, dead) if diagnose else contextlib.nullcontext()):
            logits = self.net(x)
        loss = weighted_cross_entropy(logits.float(), batch["target"].to(device),
                                      batch["weight"].to(device), train_cfg.loss_reduction)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if train_cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), train_cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.average is not None:
            self.average.update_parameters(self.model)
        if before is not None and self.rank == 0:
            ratios = update_ratios(self.model, before)
            self.run.append_metrics({"kind": "diag", "iteration": self.it + 1, "dead": dead,
                                     "update_ratio": ratios,
                                     "update_ratio_max": max(ratios.values()),
                                     "logit_std": float(logits.detach().float().std())})
        value = float(loss.detach())
        if not math.isfinite(value):
            raise CtcUnetError(f"loss became {value} at iteration {self.it + 1}; lower "
                               "train.lr or set train.grad_clip")
        return value

    def log_train(self) -> None:
        """Append the mean loss of the last window to metrics.jsonl (rank 0)."""
        if self.rank == 0:
            self.run.append_metrics({"kind": "train", "iteration": self.it,
                                     "loss": float(np.mean(self.window)),
                                     "lr": self.scheduler.get_last_lr()[0],
                                     "data_wait": self.wait / max(self.busy, 1e-9),
                                     "time": time.time()})
        self.window.clear()

    def validate_and_save(self) -> None:
        """Validate (rank 0); save the last and, when improved, the best checkpoint."""
        improved = False
        if self.rank == 0:
            scores = (validate(self.predicting, self.val_frames, self.cfg, self.device)
                      if self.val_frames else {})
            self._check_collapse(scores)
            score = scores.get("val_score")
            improved = score is not None and (self.best is None or score > self.best)
            if improved:
                self.best = score
            self.run.append_metrics({"kind": "val", "iteration": self.it, **scores,
                                     "time": time.time()})
            if scores:
                logger.info("validation at %d: %s%s", self.it, ", ".join(
                    f"{k[4:]} {v:.4f}" for k, v in scores.items()),
                    " (best)" if improved else "")
            from ctc_unet.plots import training_curves

            training_curves(self.run.read_metrics(), self.run.curves)
        if self.world > 1:
            import torch.distributed as dist

            payload = [self.best, improved]
            dist.broadcast_object_list(payload, src=0)
            self.best, improved = payload
        self.checkpoint(self.run.last)
        if improved:
            self.checkpoint(self.run.best)

    def _check_collapse(self, scores: dict[str, float]) -> None:
        """Stop with a clear message when the output has been constant for
        ``collapse_patience`` validations in a row (the best checkpoint stays as it is)."""
        spread = scores.get("val_prob_std")
        if spread is None:
            return
        self.constant_validations = (self.constant_validations + 1
                                     if is_constant(spread, self.train_cfg.collapse_std) else 0)
        if self.constant_validations >= self.train_cfg.collapse_patience:
            self.run.append_metrics({"kind": "val", "iteration": self.it, **scores,
                                     "collapsed": True, "time": time.time()})
            kept = (f"{self.run.best.name} (validation score {self.best:.4f})"
                    if self.run.best.is_file() and self.best is not None else "no checkpoint")
            raise TrainingCollapsed(
                f"training collapsed: the output has been constant (cell-probability spread "
                f"{spread:.1e} < train.collapse_std) for {self.constant_validations} "
                f"validations, up to iteration {self.it}; lower train.lr or add "
                f"train.warmup_iterations / train.grad_clip; kept: {kept}")

    def loop(self) -> str | None:
        """Iterate until done or a stop signal; returns the signal's name, if any."""
        train_cfg = self.train_cfg
        loader = sample_loader(self.samples, range(self.start * self.world + self.rank,
                                                   train_cfg.iterations * self.world, self.world),
                               train_cfg.num_workers)
        reporter = Reporter(train_cfg.iterations, self.start, train_cfg.log_every,
                            self.interactive and self.rank == 0)
        self.net.train()
        batches = None
        try:
            with StopFlag() as stop:
                batches = iter(loader)
                while self.it < train_cfg.iterations:
                    t0 = time.perf_counter()
                    batch = next(batches)
                    t1 = time.perf_counter()
                    nxt = self.it + 1
                    diagnose = (nxt % train_cfg.log_every == 0 or
                                (nxt <= train_cfg.diagnostics_first and nxt % 10 == 0))
                    self.window.append(self.step(batch, diagnose))
                    self.wait += t1 - t0
                    self.busy += time.perf_counter() - t0
                    self.it += 1
                    reporter.update(self.it - 1, float(np.mean(self.window[-train_cfg.log_every:])),
                                    self.scheduler.get_last_lr()[0],
                                    data_frac=self.wait / max(self.busy, 1e-9),
                                    device=self.device)
                    if self.it % train_cfg.log_every == 0 or self.it == train_cfg.iterations:
                        self.log_train()
                    if self.it % train_cfg.val_every == 0 or self.it == train_cfg.iterations:
                        self.validate_and_save()
                    elif self.it % train_cfg.checkpoint_every == 0:
                        self.checkpoint(self.run.last)
                    if any_rank_stopped(stop.signal, self.world, self.device):
                        return stop.signal or "SIGTERM"
        finally:
            reporter.close()
            stop_workers(batches)
        return None

    def _after_training(self) -> None:
        """Curves, and the post-processing search on the choosing frames (a signal here
        interrupts it; postprocess.json is written atomically or not at all)."""
        from ctc_unet.plots import training_curves

        training_curves(self.run.read_metrics(), self.run.curves)
        if self.val_frames and self.val_frames[0].ref.source != "ISBI":
            # the choosing region's marker frames are read only now: they serve the search
            extra = choosing_marker_frames(self.root, self.cfg, self.split)
            choose_postprocess(self.run, self.cfg, self.val_frames, self.device, extra=extra)

    def finish(self, got_signal: str | None, elapsed: float) -> TrainResult:
        """Checkpoint, check the ranks agree, and (rank 0, finished) plot and choose the
        post-processing."""
        status = "interrupted" if got_signal else "finished"
        checksum = agree_on_weights(self.model, self.world)
        if self.world > 1 and self.rank == 0:
            logger.info("all %d ranks hold identical weights (checksum %s)", self.world,
                        checksum)
        self.checkpoint(self.run.last)
        if self.rank == 0 and not got_signal:
            try:
                self._after_training()
            except KeyboardInterrupt as exc:  # the last checkpoint is saved: resume redoes this
                got_signal, status = getattr(exc, "signal", "SIGINT"), "interrupted"
        if got_signal and self.rank == 0:
            logger.warning("received %s: checkpoint saved at iteration %d; rerun with --resume "
                           "to continue", got_signal, self.it)
        if self.rank == 0 and not got_signal:
            logger.info("finished: %d/%d iterations, %d this call in %s (%.2f it/s); best "
                        "validation score %s; run directory %s", self.it, self.train_cfg.iterations,
                        self.it - self.start, time.strftime("%H:%M:%S", time.gmtime(elapsed)),
                        (self.it - self.start) / max(elapsed, 1e-9),
                        "n/a" if self.best is None else f"{self.best:.4f}", self.run.root)
        return TrainResult(self.it, status, self.best, checksum, got_signal)


def train(root: Path, run: RunDir, cfg: Config, device: str | torch.device = "auto", *,
          resume: bool = False, progress: bool = False,
          on_ready: Callable[[], None] | None = None, split: Split | None = None
          ) -> TrainResult:
    """Train on the dataset folder ``root`` into ``run`` on ``device`` (a name, or a device
    resolved by ``ctc_unet.device.resolve_device``); see the module docstring. ``progress``:
    a progress bar (else log lines); ``on_ready`` is called once every input has been
    checked, before anything is written; ``split``: the frames of a fresh run (default:
    ``cfg.split``'s protocol)."""
    try:
        trainer = Trainer(root, run, cfg, device, resume, progress, split)
        trainer.setup()
        if on_ready is not None:
            on_ready()
        trainer.begin()
        t0 = time.perf_counter()
        got_signal = trainer.loop()
        return trainer.finish(got_signal, time.perf_counter() - t0)
    finally:
        teardown()
