"""Typed, frozen configuration parsed from YAML (``configs/defaults.yaml`` and per-dataset files).

``configs/defaults.yaml`` is the one source of the default values: every field below takes its
default from it (``_d``), and the classes add types, ranges and checks. A dataset's
configuration is those defaults with ``<DATASET>.yaml`` merged over them (then the profile, then
any ``--config FILE``). Unknown keys and wrong types are rejected with a message that names the
file and the key.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml

from ctc_unet.config_io import build, merge, read_yaml
from ctc_unet.errors import ConfigError


def config_dir() -> Traversable:
    """The shipped YAML files (``configs/`` of the source tree, packaged as ctc_unet/configs;
    read through importlib.resources so that a zipped wheel works too)."""
    return importlib.resources.files("ctc_unet") / "configs"


DEFAULTS_FILE = config_dir() / "defaults.yaml"
_DEFAULTS = read_yaml(DEFAULTS_FILE)


def _d(section: str, key: str) -> Any:
    """The default of ``section.key`` from ``configs/defaults.yaml`` (lists as tuples)."""
    try:
        value = _DEFAULTS[section][key]
    except (KeyError, TypeError):
        raise ConfigError(f"{DEFAULTS_FILE}: {section}.{key}: missing (the shipped defaults "
                          "list every key; reinstall ctc-unet)") from None
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class TargetConfig:
    """Training targets (paper section 3): separation borders and the weight map."""

    source: Literal["GT", "ST", "GT+ST"] = _d("targets", "source")
    border_width: int = field(default=_d("targets", "border_width"), metadata={"range": (0, 64)})
    w0: float = field(default=_d("targets", "w0"), metadata={"range": (0.0, 1e4)})
    sigma: float = field(default=_d("targets", "sigma"), metadata={"gt": 0.0})
    class_balance: bool = _d("targets", "class_balance")
    ignore_unannotated: bool = _d("targets", "ignore_unannotated")
    ignore_margin: int = _d("targets", "ignore_margin")
    markers: bool = _d("targets", "markers")


@dataclass(frozen=True)
class AugmentConfig:
    """Data augmentation (paper section 3.1): elastic deformation, shift, rotation, flips,
    gray-value changes. Probabilities in [0, 1]."""

    elastic_prob: float = _d("augment", "elastic_prob")
    elastic_grid: int = field(default=_d("augment", "elastic_grid"), metadata={"range": (2, 64)})
    elastic_std: float = field(default=_d("augment", "elastic_std"), metadata={"range": (0.0, 1e3)})
    shift: bool = _d("augment", "shift")
    cell_sampling: float = field(default=_d("augment", "cell_sampling"),
                                 metadata={"range": (0.0, 1.0)})
    rotate_prob: float = _d("augment", "rotate_prob")
    rotate_range: float = field(default=_d("augment", "rotate_range"),
                                metadata={"range": (0.0, 180.0)})
    rot90_prob: float = _d("augment", "rot90_prob")
    flip_prob: float = _d("augment", "flip_prob")
    image_interp: Literal["bicubic", "bilinear"] = _d("augment", "image_interp")
    contrast_prob: float = _d("augment", "contrast_prob")
    contrast_range: tuple[float, float] = field(default=_d("augment", "contrast_range"),
                                                metadata={"gt": 0.0})
    brightness_prob: float = _d("augment", "brightness_prob")
    brightness_range: tuple[float, float] = _d("augment", "brightness_range")
    gamma_prob: float = _d("augment", "gamma_prob")
    gamma_range: tuple[float, float] = field(default=_d("augment", "gamma_range"),
                                             metadata={"gt": 0.0})
    noise_prob: float = _d("augment", "noise_prob")
    noise_std: float = _d("augment", "noise_std")
    scale_prob: float = _d("augment", "scale_prob")
    scale_range: tuple[float, float] = field(default=_d("augment", "scale_range"),
                                             metadata={"gt": 0.0})
    blur_prob: float = _d("augment", "blur_prob")
    blur_range: tuple[float, float] = field(default=_d("augment", "blur_range"),
                                            metadata={"gt": 0.0})


@dataclass(frozen=True)
class ModelConfig:
    """The network (paper Fig. 1): depth 4 and 64 base channels give 23 conv layers."""

    in_channels: int = field(default=_d("model", "in_channels"), metadata={"range": (1, 1)})
    n_classes: int = field(default=_d("model", "n_classes"), metadata={"range": (2, 3)})
    base_channels: int = field(default=_d("model", "base_channels"), metadata={"range": (1, 4096)})
    depth: int = field(default=_d("model", "depth"), metadata={"range": (1, 8)})
    dropout: float = field(default=_d("model", "dropout"), metadata={"range": (0.0, 0.99)})
    context_frames: int = field(default=_d("model", "context_frames"), metadata={"range": (0, 3)})

    @property
    def input_channels(self) -> int:
        """Channels of the network's input: in_channels per frame, 2k + 1 frames."""
        return self.in_channels * (2 * self.context_frames + 1)


@dataclass(frozen=True)
class SplitConfig:
    """Which annotated frames train, which choose (checkpoint, post-processing) and which
    report, in terms relative to each dataset (no frame numbers).

    Where two or more sequences are annotated, ``report_sequence`` (``auto``: the last of
    them) is reported on whole and nothing of it trains or chooses: what the challenge's test
    sequences do to a model. The last ``choose_fraction`` of the annotated frames of
    ``holdout_sequence`` (``auto``: the last training sequence) choose; with no sequence to
    report on, the ``report_fraction`` of annotated frames before them report. The
    ``gap_frames`` frames before the held-out block are left out (neighbouring frames are
    near-copies). A held-out frame is annotated by its GT, else its ST; neither trains.
    """

    train_sequences: tuple[str, ...] = _d("split", "train_sequences")
    report_sequence: str = _d("split", "report_sequence")
    holdout_sequence: str = _d("split", "holdout_sequence")
    choose_fraction: float = field(default=_d("split", "choose_fraction"),
                                   metadata={"range": (0.01, 0.9)})
    report_fraction: float = field(default=_d("split", "report_fraction"),
                                   metadata={"range": (0.01, 0.9)})
    gap_frames: int = field(default=_d("split", "gap_frames"), metadata={"range": (0, 10**4)})
    choose_markers: bool = _d("split", "choose_markers")

    def __post_init__(self) -> None:
        if self.choose_fraction + self.report_fraction >= 1.0:
            raise ConfigError(f"choose_fraction + report_fraction "
                              f"({self.choose_fraction} + {self.report_fraction}) must be "
                              "below 1 so that some frames train")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (paper section 3): SGD with high momentum, batch 1, large tiles."""

    tile_size: int = _d("train", "tile_size")
    iterations: int = field(default=_d("train", "iterations"), metadata={"range": (1, 10**9)})
    optimizer: Literal["sgd", "adam"] = _d("train", "optimizer")
    lr: float = field(default=_d("train", "lr"), metadata={"gt": 0.0})
    momentum: float = field(default=_d("train", "momentum"), metadata={"range": (0.0, 0.9999)})
    adam_betas: tuple[float, float] = _d("train", "adam_betas")
    loss_reduction: Literal["mean", "sum"] = _d("train", "loss_reduction")
    head_init: Literal["he", "xavier"] = _d("train", "head_init")
    weight_decay: float = _d("train", "weight_decay")
    lr_schedule: Literal["constant", "poly", "step", "cosine"] = _d("train", "lr_schedule")
    lr_power: float = field(default=_d("train", "lr_power"), metadata={"gt": 0.0})
    lr_step: int = field(default=_d("train", "lr_step"), metadata={"range": (1, 10**9)})
    lr_gamma: float = field(default=_d("train", "lr_gamma"), metadata={"range": (0.0, 1.0)})
    warmup_iterations: int = _d("train", "warmup_iterations")
    grad_clip: float = _d("train", "grad_clip")
    ema_decay: float = field(default=_d("train", "ema_decay"), metadata={"range": (0.0, 0.9999)})
    refit: Literal["auto", "always", "never"] = _d("train", "refit")
    seed: int = _d("train", "seed")
    log_every: int = field(default=_d("train", "log_every"), metadata={"range": (1, 10**9)})
    val_every: int = field(default=_d("train", "val_every"), metadata={"range": (1, 10**9)})
    checkpoint_every: int = field(default=_d("train", "checkpoint_every"),
                                  metadata={"range": (1, 10**9)})
    num_workers: int = _d("train", "num_workers")
    amp: Literal["none", "auto", "bf16", "fp16"] = _d("train", "amp")
    channels_last: bool = _d("train", "channels_last")
    deterministic: bool = _d("train", "deterministic")
    diagnostics_first: int = _d("train", "diagnostics_first")
    collapse_patience: int = field(default=_d("train", "collapse_patience"),
                                   metadata={"range": (1, 10**6)})
    collapse_std: float = _d("train", "collapse_std")

    def __post_init__(self) -> None:
        if not all(0.0 <= b < 1.0 for b in self.adam_betas):
            raise ConfigError(f"adam_betas: each must lie in [0, 1), got "
                              f"{list(self.adam_betas)}")


@dataclass(frozen=True)
class PostprocessConfig:
    """Instances from the cell probability (paper: borders keep touching cells apart)."""

    threshold: float = field(default=_d("postprocess", "threshold"), metadata={"range": (0.0, 1.0)})
    min_size: int = _d("postprocess", "min_size")
    fill_holes: bool = _d("postprocess", "fill_holes")
    restore_borders: bool = _d("postprocess", "restore_borders")
    method: Literal["components", "watershed"] = _d("postprocess", "method")
    seeds: Literal["probability", "distance"] = _d("postprocess", "seeds")
    seed_threshold: float = field(default=_d("postprocess", "seed_threshold"),
                                  metadata={"range": (0.0, 1.0)})
    seed_distance: float = field(default=_d("postprocess", "seed_distance"),
                                 metadata={"range": (0.0, 1e3)})


@dataclass(frozen=True)
class InferenceConfig:
    """Overlap-tile prediction (paper Fig. 2)."""

    tile_size: int = _d("inference", "tile_size")
    tta: bool = _d("inference", "tta")
    tta_count: int = field(default=_d("inference", "tta_count"), metadata={"range": (1, 8)})
    sw_batch_size: int = field(default=_d("inference", "sw_batch_size"),
                               metadata={"range": (1, 1024)})
    channels_last: bool = _d("inference", "channels_last")


@dataclass(frozen=True)
class TrackingConfig:
    """Linking instances into tracks (``ctc_unet.tracking.linking``; ``method: overlap`` is
    the greedy tracker of the authors' release: each object continues the track it overlaps
    most)."""

    method: Literal["global", "overlap"] = _d("tracking", "method")
    min_overlap: float = field(default=_d("tracking", "min_overlap"),
                               metadata={"range": (0.0, 1.0)})
    min_iou: float = field(default=_d("tracking", "min_iou"), metadata={"range": (0.0, 1.0)})
    link_lookback: bool = _d("tracking", "link_lookback")
    link_cover: float = field(default=_d("tracking", "link_cover"),
                              metadata={"range": (0.0, 1.0)})
    max_gap: int = _d("tracking", "max_gap")
    max_gap_distance: float = _d("tracking", "max_gap_distance")
    division_rule: Literal["evidence", "cutoffs"] = _d("tracking", "division_rule")
    division_evidence: float = field(default=_d("tracking", "division_evidence"),
                                     metadata={"range": (0.0, 1.0)})
    division_size_ratio: float = field(default=_d("tracking", "division_size_ratio"),
                                       metadata={"range": (0.0, 1.0)})
    division_area: tuple[float, float] = _d("tracking", "division_area")
    division_min_mother: int = _d("tracking", "division_min_mother")
    division_min_daughter: int = _d("tracking", "division_min_daughter")
    fragment_area: float = _d("tracking", "fragment_area")
    fragment_goes_on: bool = _d("tracking", "fragment_goes_on")
    min_track_frames: int = _d("tracking", "min_track_frames")
    track_support: bool = _d("tracking", "track_support")


@dataclass(frozen=True)
class Config:
    """Everything that describes a run; sections grow with the pipeline."""

    dataset: str = ""
    profile: str = ""
    targets: TargetConfig = field(default_factory=TargetConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def _check_context(cfg: Config, where: str) -> None:
    """Neighbouring frames fed as input must not reach into the held-out block."""
    k = cfg.model.context_frames
    if k > cfg.split.gap_frames:
        raise ConfigError(f"{where}: model.context_frames: {k} frames of context need at "
                          f"least as many gap frames before the held-out block "
                          f"(split.gap_frames is {cfg.split.gap_frames}), else a training "
                          "frame's input shows held-out frames")


def _check_tiles(cfg: Config, where: str) -> None:
    """Tile sizes that the unpadded network of ``model.depth`` can take (0 = automatic)."""
    from ctc_unet.model.geometry import TileSizeError, output_size

    for section, value in (("train", cfg.train.tile_size),
                           ("inference", cfg.inference.tile_size)):
        if section == "inference" and value == 0:
            continue
        try:
            output_size(value, cfg.model.depth)
        except TileSizeError as exc:
            raise ConfigError(f"{where}: {section}.tile_size: {exc}") from None


def from_dict(data: dict[str, Any], where: str = "config") -> Config:
    """Build a validated Config from a plain mapping (tile sizes checked against the depth)."""
    cfg = build(Config, data, f"{where}:")
    _check_tiles(cfg, where)
    _check_context(cfg, where)
    return cfg


def profiles() -> list[str]:
    """Names of the shipped profiles (``configs/profiles/<name>.yaml``)."""
    return sorted(p.name[:-5] for p in (config_dir() / "profiles").iterdir()
                  if p.name.endswith(".yaml"))


def load_config(dataset: str | None = None, extra: Path | None = None,
                overrides: dict[str, Any] | None = None, profile: str | None = None) -> Config:
    """The defaults (``defaults.yaml``), then ``<dataset>.yaml`` if shipped, then the profile
    (e.g. ``cpu``), then ``extra``, then ``overrides`` (a nested mapping), validated at each
    step so errors name their file."""
    folder = config_dir()
    layers: list[tuple[str, dict[str, Any]]] = []
    if dataset:
        own = folder / f"{dataset}.yaml"
        if own.is_file():
            layers.append((str(own), read_yaml(own)))
        layers.append(("dataset", {"dataset": dataset}))
    if profile:
        path = folder / "profiles" / f"{profile}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown profile {profile!r} (known: {', '.join(profiles())})")
        layers.append((str(path), read_yaml(path)))
        layers.append(("profile", {"profile": profile}))
    if extra is not None:
        layers.append((str(extra), read_yaml(extra)))
    if overrides:
        layers.append(("overrides", overrides))
    merged: dict[str, Any] = {}
    for where, layer in layers:
        build(Config, layer, f"{where}:")  # each layer alone must use known keys and types
        merged = merge(merged, layer)
    return from_dict(merged, "config")


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain mapping of a config (tuples as lists), suitable for YAML."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(cfg))


def dump_config(cfg: Config, path: Path) -> Path:
    """Write the resolved config as YAML (atomically)."""
    from ctc_unet.files import atomic_write

    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    atomic_write(Path(path), lambda p: p.write_text(text))
    return Path(path)
