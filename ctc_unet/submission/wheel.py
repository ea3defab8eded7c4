"""The wheel of ctc-unet that a submission carries (its scripts run it directly).

From a source checkout (editable install, or running from the tree) the wheel is built by the
standard builder, ``pip wheel --no-deps``, exactly as ``pip install .`` would build it. When
ctc-unet was installed from a wheel and no source is at hand, the installed distribution is
packed back into a wheel from its own RECORD (the files pip installed, with the original
metadata), or the user passes a wheel with ``submit --wheel``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ctc_unet.errors import CtcUnetError

logger = logging.getLogger(__name__)

DIST = "ctc-unet"


def source_tree() -> Path | None:
    """The project folder (with pyproject.toml) when ctc_unet runs from a source checkout."""
    import ctc_unet

    root = Path(ctc_unet.__file__).resolve().parent.parent
    project = root / "pyproject.toml"
    if project.is_file() and re.search(r'^name\s*=\s*"ctc-unet"', project.read_text(), re.M):
        return root
    return None


def build_wheel(out_dir: Path) -> Path:
    """A wheel of ctc-unet in ``out_dir`` (see the module docstring); returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = source_tree()
    if root is None:
        return repack_installed(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
               "--quiet", "--wheel-dir", tmp, str(root)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("ctc_unet-*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel written"])[-1]
            raise CtcUnetError(f"{root}: building the wheel failed ({last})")
        target = out_dir / wheels[0].name
        shutil.move(str(wheels[0]), target)
    logger.info("built %s with pip wheel from %s", target.name, root)
    return target


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def repack_installed(out_dir: Path) -> Path:
    """Pack the installed (non-editable) distribution back into a wheel from its RECORD."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError as exc:
        raise CtcUnetError("ctc-unet is neither installed nor run from its source tree; pass "
                           "a wheel with --wheel") from exc
    files = [f for f in dist.files or [] if not f.parts[0].endswith((".data", "..", "bin"))
             and "__pycache__" not in f.parts and f.suffix != ".pyc"]
    if not any(f.parts[0] == "ctc_unet" for f in files):
        raise CtcUnetError("the installed ctc-unet lists no package files (an editable "
                           "install without its source?); pass a wheel with --wheel")
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    name = f"ctc_unet-{dist.version}-py3-none-any.whl"
    out = Path(out_dir) / name
    record = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(files, key=str):
            arc = f.as_posix()
            if arc in (f"{info}/RECORD", f"{info}/INSTALLER", f"{info}/REQUESTED",
                       f"{info}/direct_url.json"):
                continue
            data = Path(dist.locate_file(f)).read_bytes()
            zf.writestr(arc, data)
            record.append(_record_line(arc, data))
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    logger.info("packed the installed ctc-unet %s into %s", dist.version, out.name)
    return out


def pinned_requirements() -> str:
    """``name==version`` for each dependency of ctc-unet as installed here."""
    try:
        requires = importlib.metadata.requires(DIST) or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    lines = []
    for req in requires:
        if "extra ==" in req:
            continue
        name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]
        try:
            version = importlib.metadata.version(name).split("+")[0]  # 2.13.0+cpu -> 2.13.0
        except importlib.metadata.PackageNotFoundError:
            continue
        lines.append(f"{name}=={version}")
    return "\n".join(sorted(lines, key=str.lower)) + "\n"
