"""``env``: versions, devices, threads, the data root and what it holds, and the relevant
environment variables: what to paste into a bug report."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("ctc-unet", "torch", "monai", "numpy", "scipy", "scikit-image",
            "tifffile", "py-ctcmetrics", "typer", "rich", "pooch", "PyYAML", "matplotlib")
ENV_VARS = ("CTC_DATA_DIR", "CTC_UNET_MIRROR", "CTC_UNET_PYTHON", "XDG_CACHE_HOME",
            "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID",
            "WORLD_SIZE", "RANK", "LOCAL_RANK")


def environment_report(data_dir: Path | None = None) -> list[tuple[str, str]]:
    """(key, value) lines: versions, device, threads, data root and datasets present."""
    import torch

    from ctc_unet.data.download import is_present, resolve_data_dir
    from ctc_unet.data.registry import DATASETS

    rows = [("python", sys.version.split()[0]), ("platform", platform.platform())]
    for name in PACKAGES:
        try:
            rows.append((name, version(name)))
        except PackageNotFoundError:
            rows.append((name, "not installed"))
    rows.append(("torch threads", str(torch.get_num_threads())))
    rows.append(("cpu cores", str(os.cpu_count())))
    if torch.cuda.is_available():
        rows.append(("cuda", f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"))
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            rows.append((f"gpu {i}", f"{props.name}, {props.total_memory / 2**30:.1f} GiB, "
                         f"capability {props.major}.{props.minor}"))
        rows.append(("bf16", str(torch.cuda.is_bf16_supported())))
    else:
        rows.append(("cuda", f"not available (torch built with CUDA {torch.version.cuda})"))
    root = resolve_data_dir(data_dir)
    rows.append(("data root", str(root)))
    present = [d.name for d in DATASETS if is_present(d, root)]
    challenge = [d.name for d in DATASETS if d.kind == "ctc" and is_present(d, root, True)]
    rows.append(("datasets present", ", ".join(present) or "none"))
    rows.append(("challenge sets present", ", ".join(challenge) or "none"))
    for var in ENV_VARS:
        if var in os.environ:
            rows.append((f"${var}", os.environ[var]))
    return rows
