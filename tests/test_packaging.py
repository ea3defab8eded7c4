"""Packaging: the wheel built by the standard builder installs into a fresh environment and
works from a folder outside the source tree (configs, profiles and the demo included); the
package's imports run one way (commands import the library, never the reverse, no cycles)."""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ctc_unet"


def _module_imports() -> dict[str, set[str]]:
    """Module-level imports (not those inside functions) between ctc_unet modules."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(REPO).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        deps: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "ctc_unet"):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("ctc_unet"))
        graph[name] = deps
    return {k: {d for d in v if d in graph and d != k} for k, v in graph.items()}


def test_library_never_imports_a_command():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.name}: {m}" for m in mods if m.startswith("ctc_unet.cli")]
    assert not offenders, offenders


def test_no_import_cycles():
    graph = _module_imports()
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack, node, dep]))
            if dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel from `pip wheel --no-deps .` installed; the
    dependencies come from this environment through a .pth line (no network needed)."""
    tmp = tmp_path_factory.mktemp("pkg")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(tmp / "dist"), str(REPO)], check=True,
                   timeout=300)
    wheel = next((tmp / "dist").glob("ctc_unet-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--quiet", "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"], check=True,
                          capture_output=True, text=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_wheel_carries_every_config_and_loads_a_profile(installed, tmp_path):
    code = ("import ctc_unet, ctc_unet.config as c; print(ctc_unet.__file__); "
            "cfg = c.load_config('DIC-C2DH-HeLa', profile='cpu'); "
            "print(cfg.model.base_channels, cfg.train.tile_size, ' '.join(c.profiles()))")
    proc = subprocess.run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    where, values = proc.stdout.strip().splitlines()
    assert Path(where).is_relative_to(installed), where  # the installed copy, not the tree
    assert values.split()[:2] == ["16", "316"] and {"cpu", "demo"} <= set(values.split()[2:])


def test_installed_demo_runs_outside_the_source_tree(installed, tmp_path):
    proc = subprocess.run([str(installed / "bin" / "ctc-unet"), "demo", "--iterations", "200",
                           "--device", "cpu", "--out", "demo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sequence 01: SEG" in proc.stdout and "submission:" in proc.stdout
    wheels = list((tmp_path / "demo" / "submissions" / "ctc-unet-demo" / "SW" / "wheels"
                   ).glob("ctc_unet-*.whl"))
    assert len(wheels) == 1
