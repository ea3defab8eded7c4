"""Reading configuration files: YAML without surprises (size, aliases, nesting), and typed,
frozen sections built from mappings (type conversion, unknown keys refused with a suggestion,
ranges from each field's metadata), every error naming ``FILE: section.key``."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml

from ctc_unet.errors import ConfigError


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert it (lists -> tuples,
    mappings -> dataclasses)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return build(tp, value, where)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where}: must be one of {', '.join(map(str, choices))}; "
                              f"got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            if arg is type(None) and value is None:
                return None
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is tuple and len(typing.get_args(tp)) == 2 and typing.get_args(tp)[1] is ...:
        item = typing.get_args(tp)[0]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if item is str:  # YAML reads 01 as 1: keep sequence names as written
            value = [f"{v:02d}" if isinstance(v, int) and not isinstance(v, bool) else v
                     for v in value]
        return tuple(_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args,
                                                                                      strict=True)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {_type_name(tp)}")  # pragma: no cover


def _child(where: str, key: str) -> str:
    """``FILE: section.key``: the file once, then the dotted key."""
    return f"{where} {key}" if where.endswith(":") else f"{where}.{key}"


def build(cls: type, data: dict[str, Any], where: str) -> Any:
    """A frozen dataclass (a config or one section of it) from a mapping, with the checks of a
    config file; ``where`` names the source in errors (``FILE:`` or ``FILE: section``)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        import difflib

        key = unknown[0]
        close = difflib.get_close_matches(str(key), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(names)})"
        raise ConfigError(f"{where.rstrip(':')}: unknown key {key!r}{hint}")
    kwargs = {k: _convert(v, hints[k], _child(where, k)) for k, v in data.items()}
    try:
        obj = cls(**kwargs)
    except ConfigError as exc:  # a section's own check (__post_init__) of its values
        raise ConfigError(_child(where, str(exc))) from None
    _check_ranges(obj, where)
    return obj


def _numbers(v: Any) -> list[float]:
    if isinstance(v, bool):
        return []
    if isinstance(v, int | float):
        return [v]
    if isinstance(v, tuple) and all(isinstance(x, int | float) and not isinstance(x, bool)
                                    for x in v):
        return list(v)
    return []


def _check_ranges(obj: Any, where: str) -> None:
    """Every number finite; probabilities in [0, 1]; ``range`` (inclusive) and ``gt``
    (exclusive lower bound) from the field metadata; no negatives unless the field is a
    ``*_range``; a pair ``(low, high)`` in order."""
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        name = _child(where, f.name)
        values = _numbers(v)
        if any(not math.isfinite(x) for x in values):
            raise ConfigError(f"{name}: must be a finite number, got {v}")
        if (f.name.endswith("_prob") or f.name.endswith("_fraction")) and not 0.0 <= v <= 1.0:
            raise ConfigError(f"{name}: a probability must lie in [0, 1], got {v}")
        bounds = f.metadata.get("range")
        if bounds and not all(bounds[0] <= x <= bounds[1] for x in values):
            raise ConfigError(f"{name}: must lie in [{bounds[0]}, {bounds[1]}], got {v}")
        low = f.metadata.get("gt")
        if low is not None and not all(x > low for x in values):
            raise ConfigError(f"{name}: must be greater than {low}, got {v}")
        if any(x < 0 for x in values) and not f.name.endswith("_range"):
            raise ConfigError(f"{name}: must not be negative, got {v}")
        if isinstance(v, tuple) and len(values) == 2 == len(v) and values[0] > values[1] and (
                f.name.endswith(("_range", "_area"))):
            raise ConfigError(f"{name}: expected [low, high] with low <= high, got {list(v)}")


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``over`` wins; nested mappings are merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


MAX_YAML_BYTES = 1 << 20  # a configuration is a few KB; anything larger is a wrong file
MAX_YAML_DEPTH = 20  # a configuration nests 3 deep; PyYAML's composer recurses per level


class _PlainLoader(yaml.SafeLoader):
    """yaml.SafeLoader without anchors and aliases (a configuration never needs them, and they
    allow self-referencing structures and exponential expansion, "billion laughs") and with
    at most ``MAX_YAML_DEPTH`` levels of nesting (deeper input ends PyYAML's recursion in a
    RecursionError)."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise ConfigError(f"line {mark.line + 1}: YAML aliases (*name) are not allowed in "
                              "a configuration")
        if self.depth >= MAX_YAML_DEPTH:
            mark = self.peek_event().start_mark
            raise ConfigError(f"line {mark.line + 1}: nested more than {MAX_YAML_DEPTH} levels "
                              "deep; a configuration has sections of plain values")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # PyYAML keeps the last of two equal keys; a configuration that sets a value twice
        # would silently lose the first one.
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int | float | bool):
                continue  # an unhashable key: PyYAML's own check reports it
            if key in seen:
                raise ConfigError(f"line {line}: key '{key}' is given twice (first on line "
                                  f"{seen[key]})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path | Traversable) -> dict[str, Any]:
    """A YAML mapping from ``path``; ConfigError when missing, too large, not text, malformed,
    using aliases, setting a key twice, or not a mapping."""
    path = Path(path) if isinstance(path, str) else path
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    raw = path.read_bytes()
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: {len(raw)} bytes is too large for a configuration file "
                          f"(limit {MAX_YAML_BYTES})")
    try:
        text = raw.decode("utf-8")
        if "\x00" in text:
            raise UnicodeDecodeError("utf-8", raw, text.index("\x00"), text.index("\x00") + 1,
                                     "NUL byte")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a YAML configuration is UTF-8 text)"
                          ) from None
    try:
        data = yaml.load(text, Loader=_PlainLoader) or {}
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML ({first})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data
