"""Benchmark of overlap-tile inference (issue 5) with the paper's 64-channel network.

    python benchmarks/bench_inference.py [--device auto] [--repeats 1] [--no-tta]
    python benchmarks/bench_inference.py --variants [--tile 572] [--repeats 3]

For a 512x512 and a 520x696 frame it reports seconds per frame for
- one valid forward pass over a single tile covering the whole (mirror-padded) frame,
- MONAI overlap-tile inference with the automatically chosen tile (largest that fits memory),
- the same with the paper's 572 px tile, and with 8-fold test-time augmentation;
the tiling overhead (time / time of the single-tile forward), and the achieved GFLOP/s of the
single-tile forward against a float32 torch matmul measured in the same run.

``--variants`` compares ways of running the same float32 forward pass over one tile, each
against the matmul rate of the same run: eager (NCHW), channels-last, TorchScript frozen and
optimised for inference (oneDNN convolutions with fused ReLU), and torch.compile (inductor),
alone and with channels-last; the outputs are checked to agree with eager.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
from timing import best_seconds, matmul_gflops  # benchmarks/timing.py

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


def _variants(model: UNet, x: torch.Tensor) -> dict[str, object]:
    """Callables running the forward pass of ``model`` on ``x`` in different ways."""
    out: dict[str, object] = {"eager, NCHW": lambda: model(x)}
    cl_model = UNet().eval()
    cl_model.load_state_dict(model.state_dict())
    cl_model = cl_model.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    out["eager, channels-last"] = lambda: cl_model(x_cl)
    with torch.inference_mode():
        traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
    out["TorchScript frozen + optimize_for_inference"] = lambda: traced(x)
    try:
        compiled = torch.compile(model, dynamic=False)
        compiled_cl = torch.compile(cl_model, dynamic=False)
        with torch.inference_mode():
            compiled(x)
            compiled_cl(x_cl)
        out["torch.compile (inductor)"] = lambda: compiled(x)
        out["torch.compile + channels-last"] = lambda: compiled_cl(x_cl)
    except Exception as exc:  # no C++ compiler, or an inductor limitation on this machine
        print(f"# torch.compile unavailable here: {type(exc).__name__}: {str(exc)[:120]}")
    return out


def variants_table(tile: int, repeats: int) -> None:
    """Forward-pass variants over one ``tile`` px tile on the CPU (see the module docstring)."""
    torch.manual_seed(0)
    model = UNet().eval()
    x = torch.randn(1, 1, tile, tile)
    flops = forward_flops(model, (tile, tile))
    device = torch.device("cpu")
    with torch.inference_mode():
        reference = model(x)
    rows = []
    peaks = [matmul_gflops(device)]
    for label, fn in _variants(model, x).items():
        with torch.inference_mode():
            err = float((fn().float() - reference).abs().max())
            t = best_seconds(fn, repeats, device)
        peaks.append(matmul_gflops(device))  # beside each variant: this CPU's speed drifts
        rows.append((label, t, flops / t / 1e9, err))
    peak = float(np.median(peaks))
    print(f"# {platform.machine()} CPU, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; tile {tile}x{tile}, {flops / 1e9:.1f} GFLOP per forward; "
          f"float32 matmul {peak:.0f} GFLOP/s (median of {len(peaks)}, range "
          f"{min(peaks):.0f}-{max(peaks):.0f})")
    print("| variant | s / forward | GFLOP/s | forward / matmul | speed-up | max abs diff |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, t, g, err in rows:
        print(f"| {label} | {t:.3f} | {g:.0f} | {g / peak:.2f} | {rows[0][1] / t:.2f} | "
              f"{err:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-tta", action="store_true")
    parser.add_argument("--variants", action="store_true",
                        help="compare forward-pass variants on the CPU and exit")
    parser.add_argument("--tile", type=int, default=572, help="tile for --variants")
    parser.add_argument("--contiguous", action="store_true",
                        help="CPU: keep the NCHW layout (inference.channels_last: false)")
    args = parser.parse_args()
    if args.variants:
        variants_table(args.tile, max(args.repeats, 3))
        return
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    torch.manual_seed(0)
    model = UNet().to(device).eval()
    if device.type == "cpu" and not args.contiguous:
        model.use_channels_last()  # as the predictor runs it (inference.channels_last)
    peaks = [matmul_gflops(device)]
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    rows, ratios, overheads = [], [], []
    for shape in ((512, 512), (520, 696)):
        image = np.random.default_rng(0).random(shape).astype(np.float32)
        padded, _ = mirror_pad(image, model.depth)
        single = best_seconds(lambda image=image: predict_whole(model, image, device), args.repeats,
                       device)
        gflops = forward_flops(model, padded.shape) / single / 1e9
        peaks.append(matmul_gflops(device))  # beside each measurement: the speed drifts
        frame = f"{shape[0]}x{shape[1]}"
        rows.append((frame, "one valid forward, single tile", f"{padded.shape[0]}x"
                     f"{padded.shape[1]}", single, 1.0, gflops))
        auto = choose_tile(shape, 64, 4, memory_budget(device))
        runs = [("MONAI overlap-tile, auto tile", auto, 1), ("MONAI overlap-tile", 572, 1)]
        if not args.no_tta:
            runs.append(("MONAI overlap-tile + 8x TTA", auto, 8))
        for label, tile, tta in runs:
            def run(image=image, tile=tile, tta=tta):
                def one(v):
                    return predict_tiled(model, v, tile, device)
                return predict_tta(one, image, tta) if tta > 1 else one(image)

            t = best_seconds(run, args.repeats, device)
            rows.append((frame, label, str(tile), t, t / single / tta, None))
            if tile == auto and tta == 1:  # the tile predict uses by default
                overheads.append(t / single)
        ratios.append(gflops)
    peak = float(np.median(peaks))
    layout = "channels-last" if model.channels_last else "NCHW"
    print(f"# {name}, torch {torch.__version__}, {layout}; float32 matmul {peak:.0f} GFLOP/s "
          f"(median of {len(peaks)}, range {min(peaks):.0f}-{max(peaks):.0f})")
    print("| frame | method | tile | s / frame | overhead | GFLOP/s | forward / matmul |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for frame, label, tile, t, over, g in rows:
        extra = f"{g:.0f} | {g / peak:.2f}" if g is not None else " | "
        per_view = " (per view)" if "TTA" in label else ""
        print(f"| {frame} | {label} | {tile} | {t:.2f} | {over:.2f}{per_view} | {extra} |")
    print(f"forward / matmul: {min(ratios) / peak:.2f} (worst frame; goal >= 0.80); tiling "
          f"overhead with the default (auto) tile: {max(overheads):.2f} (worst frame; goal "
          "<= 1.10)")


if __name__ == "__main__":
    main()
