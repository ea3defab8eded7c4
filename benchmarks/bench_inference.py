"""Benchmark of overlap-tile inference (issue 5) with the paper's 64-channel network.

    python benchmarks/bench_inference.py [--device auto] [--repeats 1] [--no-tta]

For a 512x512 and a 520x696 frame it reports seconds per frame for
- one valid forward pass over a single tile covering the whole (mirror-padded) frame,
- MONAI overlap-tile inference with the automatically chosen tile (largest that fits memory),
- the same with the paper's 572 px tile, and with 8-fold test-time augmentation;
the tiling overhead (time / time of the single-tile forward), and the achieved GFLOP/s of the
single-tile forward against a float32 torch matmul measured in the same run.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from ctc_unet.inference.tiling import (
    choose_tile,
    memory_budget,
    mirror_pad,
    predict_tiled,
    predict_whole,
)
from ctc_unet.inference.tta import predict_tta
from ctc_unet.model.unet import UNet, conv_layers


def forward_flops(model: UNet, shape: tuple[int, int]) -> float:
    """Multiply-adds x 2 of one forward pass over an input of ``shape``."""
    flops = 0.0

    def hook(module, inputs, output):
        nonlocal flops
        k = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, torch.nn.ConvTranspose2d):  # each input pixel feeds k outputs
            flops += 2.0 * module.in_channels * module.out_channels * k * inputs[0][0, 0].numel()
        else:
            flops += 2.0 * module.in_channels * module.out_channels * k * output[0, 0].numel()

    handles = [m.register_forward_hook(hook) for m in conv_layers(model)]
    with torch.inference_mode():
        model(torch.zeros(1, 1, *shape, device=next(model.parameters()).device))
    for h in handles:
        h.remove()
    return flops


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def matmul_gflops(device: torch.device, n: int = 2048) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    t = timed(lambda: a @ b, 3, device)
    return 2 * n**3 / t / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-tta", action="store_true")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    torch.manual_seed(0)
    model = UNet().to(device).eval()
    peak = matmul_gflops(device)
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    print(f"# {name}, torch {torch.__version__}; float32 matmul {peak:.0f} GFLOP/s")
    print("| frame | method | tile | s / frame | overhead | GFLOP/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for shape in ((512, 512), (520, 696)):
        image = np.random.default_rng(0).random(shape).astype(np.float32)
        padded, _ = mirror_pad(image, model.depth)
        single = timed(lambda image=image: predict_whole(model, image, device), args.repeats,
                       device)
        gflops = forward_flops(model, padded.shape) / single / 1e9
        frame = f"{shape[0]}x{shape[1]}"
        print(f"| {frame} | one valid forward, single tile | {padded.shape[0]}x"
              f"{padded.shape[1]} | {single:.2f} | 1.00 | {gflops:.0f} |")
        auto = choose_tile(shape, 64, 4, memory_budget(device))
        runs = [("MONAI overlap-tile, auto tile", auto, 1), ("MONAI overlap-tile", 572, 1)]
        if not args.no_tta:
            runs.append(("MONAI overlap-tile + 8x TTA", auto, 8))
        for label, tile, tta in runs:
            def run(image=image, tile=tile, tta=tta):
                def one(v):
                    return predict_tiled(model, v, tile, device)
                return predict_tta(one, image, tta) if tta > 1 else one(image)

            t = timed(run, args.repeats, device)
            print(f"| {frame} | {label} | {tile} | {t:.2f} | {t / single / tta:.2f}"
                  f"{' (per view)' if tta > 1 else ''} | |")


if __name__ == "__main__":
    main()
