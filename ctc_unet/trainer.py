"""Training loop: SGD with momentum 0.99, batch 1 per process, the weighted loss, validation,
atomic checkpoints, exact resume, graceful stop on SIGTERM/SIGINT, AMP and DDP.

A run started with ``torchrun --nproc_per_node N`` trains with DistributedDataParallel (NCCL on
CUDA, gloo on CPU); rank r draws sample ``iteration * N + r``, rank 0 validates and writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ctc_unet.config import Config, TrainConfig, dump_config
from ctc_unet.errors import CtcUnetError
from ctc_unet.inference import predict_whole
from ctc_unet.loss import weighted_cross_entropy
from ctc_unet.metrics import pixel_iou, seg_measure
from ctc_unet.model import UNet
from ctc_unet.postprocess import instances_from_probability
from ctc_unet.rundir import RunDir, load_checkpoint, save_checkpoint, write_text_atomic
from ctc_unet.samples import AnnotatedFrame
from ctc_unet.trainset import Split, TrainingSamples, load_frames, sample_loader

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """How a training call ended."""

    iteration: int
    status: str  # "finished" or "interrupted"
    best_score: float | None
    weights_checksum: str
    signal: str | None = None


def lr_factor(cfg: TrainConfig, it: int) -> float:
    """Learning-rate multiplier at iteration ``it`` (warm-up, then the schedule)."""
    if cfg.warmup_iterations and it < cfg.warmup_iterations:
        return (it + 1) / cfg.warmup_iterations
    frac = min(it / max(cfg.iterations, 1), 1.0)
    if cfg.lr_schedule == "poly":
        return (1.0 - frac) ** cfg.lr_power
    if cfg.lr_schedule == "step":
        return cfg.lr_gamma ** (it // max(cfg.lr_step, 1))
    if cfg.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    return 1.0


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; else the named device, checked to exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise CtcUnetError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CtcUnetError(f"device {name!r} requested but CUDA is not available")
    return device


def weights_checksum(model: torch.nn.Module) -> str:
    """SHA-256 (16 hex digits) of all parameters, to compare copies of a model."""
    h = hashlib.sha256()
    for p in model.state_dict().values():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class _StopFlag:
    """Set by SIGTERM/SIGINT (e.g. SLURM pre-emption); the loop checkpoints and stops."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not in the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def validate(model: torch.nn.Module, frames: list[AnnotatedFrame], cfg: Config,
             device: torch.device) -> dict[str, float]:
    """Validation measures; ``val_score`` is the one that picks the best checkpoint: CTC SEG
    of the instances for CTC data, 1 - pixel error for ISBI 2012."""
    refs, preds, ious, errors = [], [], [], []
    isbi = bool(frames) and frames[0].ref.source == "ISBI"
    for f in frames:
        prob = predict_whole(model, f.image, device)[1]
        valid = None if f.ignore is None else ~f.ignore
        if isbi:
            pred = prob > 0.5
            errors.append(float(np.mean(pred != (f.labels > 0))))
            ious.append(pixel_iou(f.labels, pred))
        else:
            refs.append(f.labels)
            preds.append(instances_from_probability(prob, cfg.postprocess,
                                                    cfg.targets.border_width))
            ious.append(pixel_iou(f.labels, preds[-1], valid))
    out = {"val_pixel_iou": float(np.mean(ious)) if ious else 0.0}
    if isbi:
        out["val_pixel_error"] = float(np.mean(errors))
        out["val_score"] = 1.0 - out["val_pixel_error"]
    else:
        out["val_seg"] = seg_measure(refs, preds)
        out["val_score"] = out["val_seg"]
    return out


def _dist_env() -> tuple[int, int, int]:
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


class _Reporter:
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

    def update(self, it: int, loss: float, lr: float, data_frac: float, device: torch.device
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


def train(root: Path, run: RunDir, cfg: Config, device_name: str = "auto",
          resume: bool = False, interactive: bool = False) -> TrainResult:
    """Train on the dataset folder ``root`` into ``run``; see the module docstring."""
    rank, world, local_rank = _dist_env()
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device_name != "cpu" and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    device = resolve_device(device_name)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    tc = cfg.train
    if tc.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    torch.manual_seed(tc.seed + rank)

    state = load_checkpoint(run.last) if resume and run.last.is_file() else None
    split = Split.from_json(run.split.read_text()) if state and run.split.is_file() else None
    split, train_frames, val_frames = load_frames(root, cfg, split)
    if rank == 0:
        run.root.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, run.config)
        write_text_atomic(run.split, split.to_json())
        logger.info("%d training frames (%s), %d validation frames; device %s, %d process(es)",
                    len(train_frames), cfg.targets.source, len(val_frames), device, world)
    samples = TrainingSamples(train_frames, cfg, run.target_cache)

    model = UNet(cfg.model.in_channels, cfg.model.n_classes, cfg.model.base_channels,
                 cfg.model.depth, cfg.model.dropout).to(device)
    if tc.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    if tc.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr,
                                     betas=(tc.momentum, 0.999), weight_decay=tc.weight_decay)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=tc.momentum,
                                    weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(tc, it))
    use_amp = tc.amp != "none" and device.type == "cuda"
    amp_dtype = torch.bfloat16 if tc.amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and tc.amp == "fp16")
    start, best = 0, None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start, best = int(state["iteration"]), state.get("best_score")
        torch.set_rng_state(state["rng"][rank] if rank < len(state["rng"]) else state["rng"][0])
        if rank == 0:
            logger.info("resuming at iteration %d of %d", start, tc.iterations)
    net = (torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)
        if world > 1 else model)

    def checkpoint(it: int, path: Path, best: float | None) -> None:
        rng = [torch.get_rng_state()]
        if world > 1:
            gathered: list = [None] * world
            dist.all_gather_object(gathered, rng[0])
            rng = gathered
        if rank == 0:
            save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                             "iteration": it, "best_score": best, "rng": rng,
                             "config_dataset": cfg.dataset}, path)

    loader = sample_loader(samples, range(start * world + rank, tc.iterations * world, world),
                           tc.num_workers)
    reporter = _Reporter(tc.iterations, start, tc.log_every, interactive and rank == 0)
    window: list[float] = []
    wait = busy = 0.0
    it = start
    status = "finished"
    got_signal: str | None = None
    t_start = time.perf_counter()
    net.train()
    try:
        with _StopFlag() as stop:
            batches = iter(loader)
            while it < tc.iterations:
                t0 = time.perf_counter()
                batch = next(batches)
                t1 = time.perf_counter()
                x = batch["image"].to(device, non_blocking=True)
                if tc.channels_last and device.type == "cuda":
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    logits = net(x)
                loss = weighted_cross_entropy(logits, batch["target"].to(device),
                                              batch["weight"].to(device))
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if tc.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise CtcUnetError(f"loss became {value} at iteration {it + 1}; lower "
                                       "train.lr or set train.grad_clip")
                window.append(value)
                wait += t1 - t0
                busy += time.perf_counter() - t0
                it += 1
                reporter.update(it - 1, float(np.mean(window[-tc.log_every:])),
                                scheduler.get_last_lr()[0], wait / max(busy, 1e-9), device)
                if rank == 0 and (it % tc.log_every == 0 or it == tc.iterations):
                    run.append_metrics({"kind": "train", "iteration": it,
                                        "loss": float(np.mean(window)),
                                        "lr": scheduler.get_last_lr()[0],
                                        "data_wait": wait / max(busy, 1e-9),
                                        "time": time.time()})
                    window.clear()
                if it % tc.val_every == 0 or it == tc.iterations:
                    best = _validate_and_save(model, val_frames, cfg, device, run, it, best,
                                              checkpoint, rank, world)
                elif it % tc.checkpoint_every == 0:
                    checkpoint(it, run.last, best)
                if _should_stop(stop.signal, world, device):
                    status = "interrupted"
                    got_signal = stop.signal or "SIGTERM"
                    checkpoint(it, run.last, best)
                    if rank == 0:
                        logger.warning("received %s: checkpoint saved at iteration %d; rerun "
                                       "with --resume to continue", stop.signal or "a signal",
                                       it)
                    break
    finally:
        reporter.close()
    checksum = weights_checksum(model)
    if world > 1:
        sums: list = [None] * world
        dist.all_gather_object(sums, checksum)
        if len(set(sums)) != 1:
            raise CtcUnetError(f"ranks disagree on the weights: {sums}")
        if rank == 0:
            logger.info("all %d ranks hold identical weights (checksum %s)", world, checksum)
    if status == "finished":
        checkpoint(it, run.last, best)
    if rank == 0 and status == "finished":
        from ctc_unet.plots import training_curves

        training_curves(run.read_metrics(), run.curves)
        if val_frames and val_frames[0].ref.source != "ISBI":
            _choose_postprocess(run, cfg, val_frames, device)
        elapsed = time.perf_counter() - t_start
        logger.info("finished: %d/%d iterations, %d this call in %s (%.2f it/s); best "
                    "validation score %s; run directory %s", it, tc.iterations, it - start,
                    time.strftime("%H:%M:%S", time.gmtime(elapsed)),
                    (it - start) / max(elapsed, 1e-9),
                    "n/a" if best is None else f"{best:.4f}", run.root)
    return TrainResult(it, status, best, checksum, got_signal)


def _should_stop(signal_name: str | None, world: int, device: torch.device) -> bool:
    if world == 1:
        return signal_name is not None
    flag = torch.tensor([1.0 if signal_name else 0.0],
                        device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(flag)
    return bool(flag.item() > 0)


def _validate_and_save(model, val_frames, cfg, device, run, it, best, checkpoint, rank, world):
    """Validate (rank 0), save last and, when improved, best checkpoints; returns best."""
    improved = False
    if rank == 0:
        scores = validate(model, val_frames, cfg, device) if val_frames else {}
        score = scores.get("val_score")
        improved = score is not None and (best is None or score > best)
        if improved:
            best = score
        run.append_metrics({"kind": "val", "iteration": it, **scores, "time": time.time()})
        if scores:
            logger.info("validation at %d: %s%s", it, ", ".join(
                f"{k[4:]} {v:.4f}" for k, v in scores.items()), " (best)" if improved else "")
        from ctc_unet.plots import training_curves

        training_curves(run.read_metrics(), run.curves)
    if world > 1:
        payload = [best, improved]
        dist.broadcast_object_list(payload, src=0)
        best, improved = payload
    checkpoint(it, run.last, best)
    if improved:
        checkpoint(it, run.best, best)
    return best


def _choose_postprocess(run: RunDir, cfg: Config, frames: list[AnnotatedFrame],
                        device: torch.device) -> None:
    """Search threshold and minimum size on the validation frames with the best weights;
    save the choice as postprocess.json (used by predict)."""
    import json

    from ctc_unet.predict import search_postprocess

    mc = cfg.model
    model = UNet(mc.in_channels, mc.n_classes, mc.base_channels, mc.depth, mc.dropout)
    model.load_state_dict(load_checkpoint(run.best if run.best.is_file() else run.last)["model"])
    model.to(device)
    probs = [predict_whole(model, f.image, device)[1] for f in frames]
    result = search_postprocess(probs, [f.labels for f in frames], cfg)
    write_text_atomic(run.postprocess, json.dumps(result, indent=1))
    logger.info("post-processing chosen on %d validation frames: threshold %.2f, min size %d "
                "(SEG %.4f)", len(frames), result["threshold"], result["min_size"], result["seg"])
