"""The prepared GPU check (issue 26): everything a lent accelerator should measure, in one call.

    python benchmarks/gpu_check.py [--device cuda] [--out $OUT] [--data DIC-C2DH-HeLa dir]
                                   [--minutes 9]
    python benchmarks/gpu_check.py --device cpu --quick     # CI: the same code, small sizes

Sections (each one timed and recorded; a failing section is recorded and the rest go on):
1. environment: torch, CUDA/cuDNN/NCCL versions, device name, memory, CPU cores;
2. inference of the paper's network (64 channels, depth 4): 572 px tiles at batch 1 in fp32,
   TF32, bf16 autocast, channels-last and torch.compile (images/s), and 512x512 frames by
   overlap-tile inference with and without 8x TTA (frames/s);
3. training steps (weighted loss, SGD): batch 1 and 8, fp32 vs bf16 AMP (images/s);
4. a torchrun smoke test on this device (NCCL on CUDA, gloo on the CPU): all-reduce, teardown;
5. a time-boxed training of the paper's configuration on DIC-HeLa (``ctc-unet train``) and
   its scores on the reporting frames (``ctc-unet evaluate --frames report``).

Writes ``gpu_check.json`` and ``gpu_check.md`` (and the training's log, metrics and
evaluation, no weights) under ``--out`` (default ``$OUT``, else ``gpu_check_out``).
``--quick`` uses a small network, small tiles and a few iterations on synthetic data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from ctc_unet.inference.tiling import predict_tiled
from ctc_unet.inference.tta import predict_tta
from ctc_unet.model.geometry import output_size
from ctc_unet.model.unet import UNet
from ctc_unet.training.loss import weighted_cross_entropy

REPO = Path(__file__).resolve().parents[1]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn, items: int, device: torch.device, seconds: float, min_runs: int = 3) -> float:
    """Items per second of ``fn`` (after one warm-up call), median over timed runs."""
    fn()
    _sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
        if len(times) >= 200:
            break
    return items / float(np.median(times))


def environment(device: torch.device) -> dict:
    env = {"python": platform.python_version(), "torch": torch.__version__,
           "cpu_cores": os.cpu_count(), "device": str(device),
           "machine": platform.machine()}
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


def inference(device: torch.device, quick: bool, seconds: float) -> list[dict]:
    """Images/s of one forward pass over a tile in several modes; frames/s of 512x512."""
    model, tile = _net(quick, device)
    model.eval()
    x = torch.randn(1, 1, tile, tile, device=device)
    rows = []

    def mode(name: str, fn) -> None:
        try:
            with torch.inference_mode():
                rows.append({"mode": name, "tile": tile, "images_per_s": rate(fn, 1, device,
                                                                               seconds)})
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
                         "frames_per_s": rate(run, 1, device, seconds)})
        except Exception as exc:
            rows.append({"mode": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return rows


def training(device: torch.device, quick: bool, seconds: float) -> list[dict]:
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
                             "images_per_s": rate(step, batch, device, seconds)})
            except Exception as exc:
                rows.append({"batch": batch, "precision": amp,
                             "error": f"{type(exc).__name__}: {exc}"[:300]})
            del model, opt
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def ddp_smoke(device: torch.device) -> dict:
    """One rank under torchrun: join the group, all-reduce, leave."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                           "1", "--master_port", str(29400 + os.getpid() % 500), __file__,
                           "--ddp-rank", "--device", device.type],
                          capture_output=True, text=True, timeout=180)
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


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ctc_unet", *args], capture_output=True,
                          text=True, cwd=REPO)


def train_and_score(device: torch.device, quick: bool, data: Path | None, out: Path,
                    seconds: float, images_per_s: float | None) -> dict:
    """``ctc-unet train`` of the paper's configuration for about ``seconds``, then
    ``ctc-unet evaluate --frames report``; the run's log, metrics and scores are kept."""
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
            overrides["train"].update(tile_size=172, log_every=10)
        iterations = 20 if quick else max(200, int(0.6 * seconds * (images_per_s or 5)))
        cfg = tmp / "gpu-check.yaml"
        import yaml

        cfg.write_text(yaml.safe_dump(overrides))
        run = tmp / "run"
        t0 = time.perf_counter()
        trained = _cli("train", str(data), "--config", str(cfg), "--iterations", str(iterations),
                       "--run-dir", str(run), "--device", device.type)
        minutes = (time.perf_counter() - t0) / 60
        result = {"data": Path(data).name, "iterations": iterations,
                  "train_minutes": round(minutes, 2), "train_returncode": trained.returncode}
        if trained.returncode == 0:
            scored = _cli("evaluate", str(run), "--data", str(data), "--frames", "report",
                          "--device", device.type, "--out", str(run / "evaluation-report"))
            result["evaluate_returncode"] = scored.returncode
            report = run / "evaluation-report" / "evaluation.json"
            if report.is_file():
                result["report"] = json.loads(report.read_text())
        else:
            result["error"] = trained.stderr[-1500:]
        keep = out / "training"
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("train.log", "metrics.jsonl", "split.json", "config.yaml",
                     "postprocess.json", "curves.png", "status.json"):
            if (run / name).is_file():
                shutil.copy2(run / name, keep / name)
        if (run / "evaluation-report").is_dir():
            shutil.copytree(run / "evaluation-report", keep / "evaluation-report",
                            dirs_exist_ok=True)
    return result


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
    lines += ["", f"torchrun smoke test: exit {ddp.get('returncode')} in {ddp.get('seconds')} s"]
    tr = report.get("train_and_score", {})
    if tr:
        lines += ["", f"Training: {tr.get('iterations')} iterations on {tr.get('data')} in "
                  f"{tr.get('train_minutes')} min (exit {tr.get('train_returncode')})."]
        for row in tr.get("report", []):
            scores = ", ".join(f"{k} {row[k]:.3f}" for k in ("SEG", "SEG_ST", "DET", "TRA")
                               if isinstance(row.get(k), float))
            lines.append(f"- reporting frames, sequence {row['sequence']} ({row['block']}): "
                         f"{scores}")
    for name, err in report.get("errors", {}).items():
        lines.append(f"- section {name} failed: {err.splitlines()[-1][:200]}")
    return "\n".join(lines) + "\n"


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
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    data = args.data or next((p for p in (
        Path(os.environ.get("CTC_DATA_DIR", "/nonexistent")) / "DIC-C2DH-HeLa",
        REPO.parent / "shared" / "data" / "DIC-C2DH-HeLa", REPO / "data" / "DIC-C2DH-HeLa")
        if p.is_dir()), None)
    budget = args.minutes * 60
    seconds = 0.3 if args.quick else 3.0
    report: dict = {"quick": args.quick, "errors": {}, "seconds": {}}
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sections = [("environment", lambda: environment(device)),
                ("inference", lambda: inference(device, args.quick, seconds)),
                ("training", lambda: training(device, args.quick, seconds)),
                ("ddp", lambda: ddp_smoke(device))]
    for name, fn in sections:
        t0 = time.perf_counter()
        try:
            report[name] = fn()
        except Exception:
            report["errors"][name] = traceback.format_exc()[-2000:]
        report["seconds"][name] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {report['seconds'][name]} s", flush=True)
    left = budget - (time.perf_counter() - start) - 90  # evaluation and writing
    best = max((r.get("images_per_s", 0) for r in report.get("training", [])
                if r.get("batch") == 1), default=None)
    t0 = time.perf_counter()
    try:
        report["train_and_score"] = train_and_score(device, args.quick, data, out,
                                                    max(left, 30), best)
    except Exception:
        report["errors"]["train_and_score"] = traceback.format_exc()[-2000:]
    report["seconds"]["train_and_score"] = round(time.perf_counter() - t0, 1)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    (out / "gpu_check.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
