"""The prepared GPU check: everything a lent accelerator should measure, in one call.

    python benchmarks/gpu_check.py [--device cuda] [--out $OUT] [--data DIC-C2DH-HeLa dir]
                                   [--minutes 9]
    python benchmarks/gpu_check.py --device cpu --quick     # CI: the same code, small sizes

Sections (each one timed and recorded; a failing section is recorded and the rest go on):
1. environment: torch, CUDA/cuDNN/NCCL versions, device name, memory, CPU cores, nvidia-smi;
2. inference of the paper's network (64 channels, depth 4): 572 px tiles at batch 1 in fp32,
   TF32, bf16 autocast, channels-last and torch.compile (images/s), and 512x512 frames by
   overlap-tile inference with and without 8x TTA (frames/s);
3. training steps (weighted loss, SGD): batch 1 and 8, fp32 vs bf16 AMP (images/s);
4. a torchrun smoke test on this device (NCCL on CUDA, gloo on the CPU): all-reduce, teardown;
5. a training of the paper's configuration on DIC-HeLa (``ctc-unet train``), stopped by
   SIGTERM at its wall-time share if it runs over (it checkpoints), then its scores on the
   reporting frames (``ctc-unet evaluate --frames report``) with whatever checkpoint exists.

Every step is time-boxed inside ``--minutes``: each section has a share of the budget, a
mode that would not fit is recorded as skipped, subprocesses get timeouts. ``gpu_check.json``
and ``gpu_check.md`` are rewritten (atomically) after every section, so a call cut short
keeps what was measured. Everything kept fits in at most 6 files, all directly under
``--out``: gpu_check.json (the training's config, split, chosen post-processing, status and
scores inside), gpu_check.md, train.log, metrics.jsonl and curves.png of the training, and
gpu_check.log where gpu_check.sh tees the output. ``--quick`` uses a small network, small
tiles and a few iterations on synthetic data.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from timing import sync  # benchmarks/timing.py

from ctc_unet.inference.tiling import predict_tiled
from ctc_unet.inference.tta import predict_tta
from ctc_unet.model.geometry import output_size
from ctc_unet.model.unet import UNet
from ctc_unet.training.loss import weighted_cross_entropy

REPO = Path(__file__).resolve().parents[1]


class OutOfTime(Exception):
    """A step that would not fit in what is left of its section's time."""


def rate(fn, items: int, device: torch.device, seconds: float, min_runs: int = 3,
         deadline: float = float("inf")) -> float:
    """Items per second of ``fn`` (after one warm-up call), median over timed runs; stops
    timing at ``deadline`` (perf_counter) once one run is timed, OutOfTime before that."""
    if time.perf_counter() >= deadline:
        raise OutOfTime
    fn()
    sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        if times and time.perf_counter() >= deadline:
            break
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
        if len(times) >= 200:
            break
    return items / float(np.median(times))


def environment(device: torch.device) -> dict:
    env = {"python": platform.python_version(), "torch": torch.__version__,
           "cpu_cores": os.cpu_count(), "device": str(device),
           "machine": platform.machine()}
    if shutil.which("nvidia-smi"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            env["nvidia_smi"] = subprocess.run(["nvidia-smi"], capture_output=True, text=True,
                                               timeout=20).stdout[-3000:]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(name=props.name, capability=f"{props.major}.{props.minor}",
                   memory_gib=round(props.total_memory / 2**30, 1),
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                   nccl=".".join(map(str, torch.cuda.nccl.version())))
    return env


def _net(quick: bool, device: torch.device) -> tuple[UNet, int]:
    torch.manual_seed(0)
    if quick:
        return UNet(1, 2, 8, 3).to(device), 172
    return UNet().to(device), 572


SKIPPED = "skipped: not enough time left in the budget"
COMPILE_S = 60.0  # what torch.compile of the network may take; skipped with less time left


def inference(device: torch.device, quick: bool, seconds: float,
              deadline: float = float("inf")) -> list[dict]:
    """Images/s of one forward pass over a tile in several modes; frames/s of 512x512."""
    model, tile = _net(quick, device)
    model.eval()
    x = torch.randn(1, 1, tile, tile, device=device)
    rows = []

    def mode(name: str, fn) -> None:
        try:
            with torch.inference_mode():
                rows.append({"mode": name, "tile": tile, "images_per_s": rate(
                    fn, 1, device, seconds, deadline=deadline)})
        except OutOfTime:
            rows.append({"mode": name, "tile": tile, "error": SKIPPED})
        except Exception as exc:  # a mode this device or build lacks
            rows.append({"mode": name, "tile": tile, "error": f"{type(exc).__name__}: {exc}"[:300]})

    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    mode("fp32", lambda: model(x))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        mode("tf32", lambda: model(x))
    with torch.autocast(device.type, dtype=torch.bfloat16):
        mode("bf16 autocast", lambda: model(x))
    cl = model.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    mode("channels-last", lambda: cl(x_cl))
    with torch.autocast(device.type, dtype=torch.bfloat16):
        mode("bf16 + channels-last", lambda: cl(x_cl))
    model = model.to(memory_format=torch.contiguous_format)
    if deadline - time.perf_counter() < (COMPILE_S / 4 if quick else COMPILE_S):
        rows.append({"mode": "torch.compile", "tile": tile, "error": SKIPPED})
    else:
        try:
            compiled = torch.compile(model)
            mode("torch.compile", lambda: compiled(x))
        except Exception as exc:
            rows.append({"mode": "torch.compile", "error": f"{type(exc).__name__}: {exc}"[:300]})
    frame = np.random.default_rng(0).random((512, 512) if not quick else (200, 200),
                                            dtype=np.float32)
    for tta in (1, 8):
        def run(tta=tta):
            def one(view):
                return predict_tiled(model, view, tile, device)
            return predict_tta(one, frame, tta) if tta > 1 else one(frame)
        name = f"{frame.shape[0]}x{frame.shape[1]} frame, overlap-tile" + (
            f" + {tta}x TTA" if tta > 1 else "")
        try:
            rows.append({"mode": name, "tile": tile,
                         "frames_per_s": rate(run, 1, device, seconds, deadline=deadline)})
        except OutOfTime:
            rows.append({"mode": name, "tile": tile, "error": SKIPPED})
        except Exception as exc:
            rows.append({"mode": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return rows


def training(device: torch.device, quick: bool, seconds: float,
             deadline: float = float("inf")) -> list[dict]:
    """Images/s of a training step (forward, weighted loss, backward, SGD step)."""
    rows = []
    for batch in (1, 8):
        for amp in ("fp32", "bf16"):
            model, tile = _net(quick, device)
            model.train()
            out = output_size(tile, model.depth)
            opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.99)
            x = torch.randn(batch, 1, tile, tile, device=device)
            target = torch.randint(0, 2, (batch, out, out), device=device)
            weight = torch.ones(batch, out, out, device=device)

            def step(model=model, opt=opt, x=x, target=target, weight=weight, amp=amp):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16"):
                    logits = model(x)
                loss = weighted_cross_entropy(logits.float(), target, weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            try:
                rows.append({"batch": batch, "precision": amp, "tile": tile,
                             "images_per_s": rate(step, batch, device, seconds,
                                                  deadline=deadline)})
            except OutOfTime:
                rows.append({"batch": batch, "precision": amp, "error": SKIPPED})
            except Exception as exc:
                rows.append({"batch": batch, "precision": amp,
                             "error": f"{type(exc).__name__}: {exc}"[:300]})
            del model, opt
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def ddp_smoke(device: torch.device, deadline: float = float("inf")) -> dict:
    """One rank under torchrun: join the group, all-reduce, leave (killed at ``deadline``)."""
    t0 = time.perf_counter()
    timeout = max(1.0, min(180.0, deadline - t0))
    try:
        proc = subprocess.run([sys.executable, "-m", "torch.distributed.run",
                               "--nproc_per_node", "1", "--master_port",
                               str(29400 + os.getpid() % 500), __file__, "--ddp-rank",
                               "--device", device.type],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"returncode": None, "seconds": round(time.perf_counter() - t0, 1),
                "output": f"timed out after {timeout:.0f} s (its share of the budget)"}
    return {"returncode": proc.returncode, "seconds": round(time.perf_counter() - t0, 1),
            "output": (proc.stdout + proc.stderr)[-600:]}


def _ddp_rank(device_type: str) -> None:
    import torch.distributed as dist

    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend)
    device = torch.device("cuda", 0) if device_type == "cuda" else torch.device("cpu")
    x = torch.ones(4, device=device)
    dist.all_reduce(x)
    print(f"{backend} all_reduce ok: {x.tolist()}")
    dist.destroy_process_group()


def _cli(args: list[str], timeout: float) -> tuple[int | None, str]:
    """``ctc-unet ARGS`` with a wall-time limit: exit code (None if killed) and stderr's end.
    At the limit it gets SIGTERM (train checkpoints and stops), then SIGKILL 60 s later."""
    proc = subprocess.Popen([sys.executable, "-m", "ctc_unet", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=max(1.0, timeout))
        return proc.returncode, err[-1500:]
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        return None, (err or "")[-1500:]


KEPT = ("train.log", "metrics.jsonl", "curves.png")  # copied next to gpu_check.json
EVALUATE_S = 60.0  # kept back from the training for the evaluation (quick: a quarter)


def train_and_score(device: torch.device, quick: bool, data: Path | None, out: Path,
                    deadline: float, images_per_s: float | None) -> dict:
    """``ctc-unet train`` of the paper's configuration until its share of the budget is
    spent (an iteration count estimated from ``images_per_s``; SIGTERM at the share's end if
    it runs over), then ``ctc-unet evaluate --frames report`` on whatever checkpoint exists.
    The run's log, metrics and curves are copied to ``out``; its config, split, chosen
    post-processing, status and scores go into the returned record."""
    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if quick or data is None:
            from ctc_unet.data.synthetic import write_synthetic_dataset

            data = write_synthetic_dataset(tmp / "Synthetic-C2DH", n_frames=20, size=128)
        overrides = {"train": {"val_every": 10**6, "checkpoint_every": 500, "log_every": 50,
                               "num_workers": 8 if device.type == "cuda" else 0}}
        if device.type == "cuda":
            overrides["train"].update(amp="bf16", channels_last=True)
        if quick:
            overrides["model"] = {"base_channels": 8, "depth": 3}
            overrides["train"].update(tile_size=172, log_every=10, checkpoint_every=10)
        evaluate_s = EVALUATE_S / 4 if quick else EVALUATE_S
        train_s = deadline - time.perf_counter() - evaluate_s
        iterations = 20 if quick else max(200, int(0.6 * train_s * (images_per_s or 5)))
        cfg = tmp / "gpu-check.yaml"
        cfg.write_text(yaml.safe_dump(overrides))
        run = tmp / "run"
        t0 = time.perf_counter()
        code, err = _cli(["train", str(data), "--config", str(cfg), "--iterations",
                          str(iterations), "--run-dir", str(run), "--device", device.type],
                         train_s)
        result = {"data": Path(data).name, "iterations": iterations,
                  "train_minutes": round((time.perf_counter() - t0) / 60, 2),
                  "train_returncode": code, "stopped_at_deadline": code is None}
        if code not in (0, None):
            result["error"] = err
        result.update(_run_record(run))
        left = deadline - time.perf_counter()
        if (run / "checkpoint_last.pt").is_file() and left > 5:
            code, err = _cli(["evaluate", str(run), "--data", str(data), "--frames", "report",
                              "--device", device.type, "--out", str(tmp / "evaluation")], left)
            result["evaluate_returncode"] = code
            report = tmp / "evaluation" / "evaluation.json"
            if report.is_file():
                result["report"] = json.loads(report.read_text())
            elif code != 0:
                result["evaluate_error"] = err
        else:
            result["evaluate_returncode"] = None
            result["evaluate_error"] = ("no checkpoint to evaluate" if left > 5 else
                                        "no time left in the budget to evaluate")
        for name in KEPT:
            if (run / name).is_file():
                shutil.copy2(run / name, out / name)
    return result


def _run_record(run: Path) -> dict:
    """What the training's run directory says of itself, small enough for the JSON."""
    record: dict = {}
    for key, name in (("status", "status.json"), ("split", "split.json"),
                      ("postprocess", "postprocess.json")):
        with contextlib.suppress(OSError, ValueError):
            record[key] = json.loads((run / name).read_text())
    if isinstance(record.get("postprocess"), dict):
        record["postprocess"].pop("grid", None)  # the whole search: hundreds of rows
    with contextlib.suppress(OSError):
        record["config"] = (run / "config.yaml").read_text()
    return record


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = [f"# GPU check: {env.get('name', env['device'])}", "",
             f"torch {env['torch']}, CUDA {env.get('cuda', '-')}, cuDNN {env.get('cudnn', '-')}, "
             f"NCCL {env.get('nccl', '-')}, {env['cpu_cores']} CPU cores"
             + (" (quick: small network and tiles)" if report["quick"] else ""), "",
             "| inference | tile | images/s | frames/s |", "| --- | ---: | ---: | ---: |"]
    for r in report.get("inference", []):
        images = f"{r['images_per_s']:.1f}" if "images_per_s" in r else ""
        frames = f"{r['frames_per_s']:.2f}" if "frames_per_s" in r else ""
        lines.append(f"| {r['mode']} | {r.get('tile', '')} | {images} | {frames} |"
                     if "error" not in r else f"| {r['mode']} | | {r['error'][:60]} | |")
    lines += ["", "| training | batch | images/s |", "| --- | ---: | ---: |"]
    for r in report.get("training", []):
        lines.append(f"| {r['precision']} | {r['batch']} | {r.get('images_per_s', 0):.1f} |"
                     if "error" not in r else f"| {r['precision']} | {r['batch']} | "
                     f"{r['error'][:60]} |")
    ddp = report.get("ddp", {})
    lines += ["", f"torchrun smoke test: exit {ddp.get('returncode')} in {ddp.get('seconds')} s"
              if ddp.get("returncode") is not None else
              f"torchrun smoke test: {ddp.get('output', 'not run')}"]
    tr = report.get("train_and_score", {})
    if tr:
        stopped = tr.get("stopped_at_deadline")
        at = (tr.get("status") or {}).get("iteration")
        lines += ["", f"Training: {tr.get('iterations')} iterations on {tr.get('data')} in "
                  f"{tr.get('train_minutes')} min (exit {tr.get('train_returncode')}"
                  + (f"; stopped by SIGTERM at its time share, iteration {at}" if stopped
                     else "") + ")."]
        for row in tr.get("report", []):
            scores = ", ".join(f"{k} {row[k]:.3f}" for k in ("SEG", "SEG_ST", "DET", "TRA")
                               if isinstance(row.get(k), float))
            lines.append(f"- reporting frames, sequence {row['sequence']} ({row['block']}): "
                         f"{scores}")
    for name, err in report.get("errors", {}).items():
        lines.append(f"- section {name} failed: {err.splitlines()[-1][:200]}")
    if not report.get("finished"):
        lines.append(f"- cut short: sections done so far: {', '.join(report['seconds'])}")
    return "\n".join(lines) + "\n"


def save(report: dict, out: Path) -> None:
    """gpu_check.json and gpu_check.md, each replaced atomically."""
    from ctc_unet.files import write_text_atomic

    write_text_atomic(out / "gpu_check.json", json.dumps(report, indent=1))
    write_text_atomic(out / "gpu_check.md", markdown(report))


# each section's share of the time left when it starts; the training gets the rest
SHARES = {"environment": 0.05, "inference": 0.15, "training": 0.12, "ddp": 0.1}
RESERVE_S = 5.0  # kept back for the last writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check_out")))
    parser.add_argument("--data", type=Path, default=None,
                        help="DIC-C2DH-HeLa folder (default: $CTC_DATA_DIR/DIC-C2DH-HeLa or "
                        "../shared/data/DIC-C2DH-HeLa)")
    parser.add_argument("--minutes", type=float, default=9.0, help="the whole check's budget")
    parser.add_argument("--ddp-rank", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ddp_rank:
        _ddp_rank(args.device)
        return
    start = time.perf_counter()
    end = start + args.minutes * 60 - RESERVE_S
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    data = args.data or next((p for p in (
        Path(os.environ.get("CTC_DATA_DIR", "/nonexistent")) / "DIC-C2DH-HeLa",
        REPO.parent / "shared" / "data" / "DIC-C2DH-HeLa", REPO / "data" / "DIC-C2DH-HeLa")
        if p.is_dir()), None)
    seconds = 0.3 if args.quick else 3.0
    report: dict = {"quick": args.quick, "minutes": args.minutes, "finished": False,
                    "errors": {}, "seconds": {}}
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    sections = [("environment", lambda d: environment(device)),
                ("inference", lambda d: inference(device, args.quick, seconds, d)),
                ("training", lambda d: training(device, args.quick, seconds, d)),
                ("ddp", lambda d: ddp_smoke(device, d)),
                ("train_and_score", lambda d: train_and_score(
                    device, args.quick, data, out, d, max(
                        (r.get("images_per_s", 0) for r in report.get("training", [])
                         if r.get("batch") == 1), default=None)))]
    for name, fn in sections:
        t0 = time.perf_counter()
        deadline = t0 + SHARES.get(name, 1.0) * max(end - t0, 0.0)
        try:
            report[name] = fn(deadline)
        except Exception:
            report["errors"][name] = traceback.format_exc()[-2000:]
        report["seconds"][name] = round(time.perf_counter() - t0, 1)
        save(report, out)
        print(f"{name}: {report['seconds'][name]} s", flush=True)
    report["finished"] = True
    report["seconds"]["total"] = round(time.perf_counter() - start, 1)
    save(report, out)
    print(markdown(report))


if __name__ == "__main__":
    main()
