"""The package's layers run one way: every import of a ctc_unet module, function-level ones
included, goes to a layer at or below the importer's own (README "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ctc_unet"

# Lowest first. A module may import its own layer and the layers below it, never above.
LAYERS = [
    ["errors"],
    ["files", "signals", "device", "plots"],
    ["model"],             # the paper's network and its tile geometry (pure torch)
    ["config_io"],         # safe YAML, typed sections from mappings
    ["config"],            # the configuration (checks tile sizes with model.geometry)
    ["data"],              # datasets, readers, label overlaps, synthetic data
    ["targets"],           # borders, weight maps, annotated training frames
    ["rundir"],            # the run directory, its split and checkpoints: training writes,
                           # everything else reads
    ["evaluation"],        # measures on arrays and files (py-ctcmetrics); no prediction
    ["postprocess"],       # instances from probabilities, the post-processing search
    ["tracking"],          # linking instances; no measures
    ["movie"],             # the tracked frames as an animated GIF (reads track records)
    ["inference"],         # tiled prediction, TTA, and the trained model (Predictor: a run's
                           # network, chosen post-processing and tracking); knows nothing of
                           # training
    ["training"],          # the loop, validation, splits
    ["workflow"],          # train / predict / evaluate / track as jobs on run directories
    ["submission", "zoo"],  # challenge packages; bioimage.io model packages (model zoo)
    ["api", "__init__"],   # the public Python API
    ["cli", "__main__"],   # the command line, thin
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ctc_unet import in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "ctc_unet"):
            if node.module == "ctc_unet":  # from ctc_unet import api, __version__
                found += [(node.lineno, f"ctc_unet.{a.name}") for a in node.names
                          if (PACKAGE / a.name).exists() or (PACKAGE / f"{a.name}.py").exists()]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names
                      if a.name.startswith("ctc_unet.")]
    return found


def test_every_module_belongs_to_a_layer():
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert names - RANK.keys() == set(), "give each package or module a layer"


def test_imports_run_one_way():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        own = _layer(".".join(rel.parts))
        for line, module in _imports(path):
            target = _layer(module)
            if RANK[target] > RANK[own]:
                offenders.append(f"{rel}.py:{line}: {own} imports {module} ({target})")
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_function_level_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from ctc_unet.cli.app import app\n    import ctc_unet.api\n")
    assert _imports(path) == [(2, "ctc_unet.cli.app"), (3, "ctc_unet.api")]


# --------------------------------------------------------------------------- the verbs' faces

# What the command line may import besides typer, rich and itself: the public API, the
# package's version, and the error boundary's own pieces (the error type it turns into one
# line, and the signal handling every command runs inside).
CLI_MAY_IMPORT = {"ctc_unet", "ctc_unet.api", "ctc_unet.errors", "ctc_unet.signals"}


def test_the_cli_imports_nothing_below_the_api():
    offenders = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for line, module in _imports(path):
            if module not in CLI_MAY_IMPORT and not module.startswith("ctc_unet.cli"):
                offenders.append(f"cli/{path.name}:{line}: {module}")
    assert not offenders, "\n".join(offenders)


def _public_functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not (
                    node.name.startswith("_")):
                yield path.relative_to(PACKAGE.parent), node


def test_no_public_function_takes_more_than_four_positional_parameters():
    offenders = []
    for rel, node in _public_functions():
        positional = [a.arg for a in node.args.posonlyargs + node.args.args
                      if a.arg not in ("self", "cls")]
        if len(positional) > 4:
            offenders.append(f"{rel}:{node.lineno} {node.name}({', '.join(positional)})")
    assert not offenders, "\n".join(offenders)


def test_every_command_mirrors_its_api_function():
    """Each command's parameters are its API function's (names, defaults), except what only
    a terminal has (progress bars follow the terminal)."""
    import inspect

    from ctc_unet import api
    from ctc_unet.cli.app import app

    for info in app.registered_commands:
        command = info.callback
        name = info.name or command.__name__
        function = getattr(api, {"env": "environment"}.get(name, name))
        cli = inspect.signature(command).parameters
        lib = {k: p for k, p in inspect.signature(function).parameters.items()
               if k != "progress"}
        assert set(cli) == set(lib), (
            name, list(cli), list(lib))
        for key, p in cli.items():
            default = lib[key].default
            if p.default is not inspect.Parameter.empty and default is not inspect.Parameter.empty:
                assert p.default == default or str(p.default) == str(default), (
                    name, key, p.default, default)
