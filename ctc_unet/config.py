"""Typed, frozen configuration parsed from YAML (``configs/defaults.yaml`` and per-dataset files).

A dataset's configuration is ``defaults.yaml`` with ``<DATASET>.yaml`` merged over it (and then
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


@dataclass(frozen=True)
class TargetConfig:
    """Training targets (paper section 3): separation borders and the weight map."""

    source: Literal["GT", "ST", "GT+ST"] = "GT"
    # px of background put between touching cells (0 = none)
    border_width: int = field(default=2, metadata={"range": (0, 64)})
    w0: float = field(default=10.0, metadata={"range": (0.0, 1e4)})
    sigma: float = field(default=5.0, metadata={"gt": 0.0})
    class_balance: bool = True  # w_c = N / (K n_c) over the taught pixels
    ignore_unannotated: bool = True  # weight 0 around tracked cells that have no GT mask
    ignore_margin: int = 5  # px added around an unannotated cell's estimated extent


@dataclass(frozen=True)
class AugmentConfig:
    """Data augmentation (paper section 3.1): elastic deformation, shift, rotation, flips,
    gray-value changes. Probabilities in [0, 1]."""

    elastic_prob: float = 1.0
    elastic_grid: int = field(default=3, metadata={"range": (2, 64)})  # grid points per axis
    # px, std of the grid displacements
    elastic_std: float = field(default=10.0, metadata={"range": (0.0, 1e3)})
    shift: bool = True  # random tile position (else the tile is centred on the frame)
    # probability that a tile is centred on a pixel of an annotated cell (each cell pixel
    # equally likely) rather than anywhere in the frame; 0 = the paper's uniform positions
    cell_sampling: float = field(default=0.0, metadata={"range": (0.0, 1.0)})
    rotate_prob: float = 0.5
    # degrees, uniform in [-range, range]
    rotate_range: float = field(default=180.0, metadata={"range": (0.0, 180.0)})
    rot90_prob: float = 0.5
    flip_prob: float = 0.5
    image_interp: Literal["bicubic", "bilinear"] = "bicubic"
    contrast_prob: float = 0.3
    # intensity scale factor
    contrast_range: tuple[float, float] = field(default=(0.75, 1.25), metadata={"gt": 0.0})
    brightness_prob: float = 0.3
    brightness_range: tuple[float, float] = (-0.1, 0.1)  # shift, in normalized units
    gamma_prob: float = 0.3
    gamma_range: tuple[float, float] = field(default=(0.7, 1.5), metadata={"gt": 0.0})
    noise_prob: float = 0.2
    noise_std: float = 0.03
    # zoom: a tile covers scale x its size in the frame (log-uniform in the range; > 1 shows
    # smaller cells), for sequences whose cells are larger or smaller than the training ones
    scale_prob: float = 0.0
    scale_range: tuple[float, float] = field(default=(0.8, 1.25), metadata={"gt": 0.0})
    # Gaussian blur of the image, sigma in px drawn per axis uniform in the range: focus
    blur_prob: float = 0.0
    blur_range: tuple[float, float] = field(default=(0.5, 1.5), metadata={"gt": 0.0})


@dataclass(frozen=True)
class ModelConfig:
    """The network (paper Fig. 1): depth 4 and 64 base channels give 23 conv layers."""

    in_channels: int = field(default=1, metadata={"range": (1, 1)})  # gray images only
    # 2: background and cell (the paper); 3: the separation borders between touching cells
    # become a class of their own (background / cell / border)
    n_classes: int = field(default=2, metadata={"range": (2, 3)})
    base_channels: int = field(default=64, metadata={"range": (1, 4096)})
    depth: int = field(default=4, metadata={"range": (1, 8)})
    dropout: float = field(default=0.5, metadata={"range": (0.0, 0.99)})
    # temporal context (a step beyond the paper): the k frames before and after each frame
    # are extra input channels, in time order t-k .. t+k; the sequence's ends repeat its
    # first / last frame. 0: one frame, the paper's network
    context_frames: int = field(default=0, metadata={"range": (0, 3)})

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

    train_sequences: tuple[str, ...] = ()  # empty: every annotated sequence not reported on
    report_sequence: str = "auto"  # auto, none, or a sequence name
    holdout_sequence: str = "auto"  # auto, or a sequence name
    choose_fraction: float = field(default=0.14, metadata={"range": (0.01, 0.9)})
    report_fraction: float = field(default=0.26, metadata={"range": (0.01, 0.9)})
    gap_frames: int = field(default=4, metadata={"range": (0, 10**4)})

    def __post_init__(self) -> None:
        if self.choose_fraction + self.report_fraction >= 1.0:
            raise ConfigError(f"choose_fraction + report_fraction "
                              f"({self.choose_fraction} + {self.report_fraction}) must be "
                              "below 1 so that some frames train")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (paper section 3): SGD with high momentum, batch 1, large tiles."""

    tile_size: int = 572
    iterations: int = field(default=20000, metadata={"range": (1, 10**9)})
    optimizer: Literal["sgd", "adam"] = "sgd"  # paper: SGD; Adam as a tuning option
    lr: float = field(default=0.01, metadata={"gt": 0.0})
    momentum: float = field(default=0.99, metadata={"range": (0.0, 0.9999)})  # SGD only
    adam_betas: tuple[float, float] = (0.9, 0.999)  # Adam only
    loss_reduction: Literal["mean", "sum"] = "mean"  # over output pixels; paper's energy: sum
    head_init: Literal["he", "xavier"] = "xavier"  # the 1x1 output convolution's init
    weight_decay: float = 0.0
    lr_schedule: Literal["constant", "poly", "step", "cosine"] = "poly"
    lr_power: float = field(default=0.9, metadata={"gt": 0.0})  # poly
    lr_step: int = field(default=5000, metadata={"range": (1, 10**9)})  # step: every lr_step
    # iterations ...
    lr_gamma: float = field(default=0.1, metadata={"range": (0.0, 1.0)})  # ... times lr_gamma
    warmup_iterations: int = 500
    grad_clip: float = 1.0  # max gradient norm; 0 = off
    seed: int = 0
    log_every: int = field(default=50, metadata={"range": (1, 10**9)})
    val_every: int = field(default=500, metadata={"range": (1, 10**9)})
    checkpoint_every: int = field(default=500, metadata={"range": (1, 10**9)})
    num_workers: int = 2
    # mixed precision of the training step: auto = bf16 where the device computes it natively
    # (CUDA, CPUs with AVX512-BF16 or AMX), else float32; fp16 on CUDA only
    amp: Literal["none", "auto", "bf16", "fp16"] = "none"
    channels_last: bool = False  # NHWC weights and activations in training
    deterministic: bool = False
    diagnostics_first: int = 200  # dead-ReLU / update-ratio records every 10 iterations up
    # to here, then at every log line
    # stop after this many validations with a constant output
    collapse_patience: int = field(default=3, metadata={"range": (1, 10**6)})
    collapse_std: float = 1e-3  # cell-probability spread below which the output is constant

    def __post_init__(self) -> None:
        if not all(0.0 <= b < 1.0 for b in self.adam_betas):
            raise ConfigError(f"adam_betas: each must lie in [0, 1), got "
                              f"{list(self.adam_betas)}")


@dataclass(frozen=True)
class PostprocessConfig:
    """Instances from the cell probability (paper: borders keep touching cells apart)."""

    threshold: float = field(default=0.5, metadata={"range": (0.0, 1.0)})
    min_size: int = 30  # px; smaller components are dropped
    fill_holes: bool = True
    restore_borders: bool = True  # give separation-border pixels back to adjacent cells
    method: Literal["components", "watershed"] = "components"  # watershed: seeded, so that a
    # gap in a predicted border does not merge two cells
    seeds: Literal["probability", "distance"] = "probability"  # watershed seeds: confident
    # interiors (probability > seed_threshold), or maxima of the distance to the background
    seed_threshold: float = field(default=0.8, metadata={"range": (0.0, 1.0)})
    seed_distance: float = field(default=3.0, metadata={"range": (0.0, 1e3)})  # px: a distance
    # maximum must rise this much above its saddle to seed its own cell (h-maxima)


@dataclass(frozen=True)
class InferenceConfig:
    """Overlap-tile prediction (paper Fig. 2)."""

    tile_size: int = 0  # 0: the largest valid tile that fits the device memory
    tta: bool = False  # average over flips / 90-degree rotations
    tta_count: int = field(default=8, metadata={"range": (1, 8)})  # of the square's 8
    # symmetries (paper, EM: 7 rotated versions)
    sw_batch_size: int = field(default=1, metadata={"range": (1, 1024)})
    channels_last: bool = True  # on the CPU: NHWC weights and activations (1.15x measured);
    # CUDA keeps the default layout until it is measured there


@dataclass(frozen=True)
class TrackingConfig:
    """Linking instances into tracks (``ctc_unet.tracking.linking``; ``method: overlap`` is
    the older greedy tracker, kept for comparison)."""

    method: Literal["global", "overlap"] = "global"
    min_overlap: float = field(default=0.1, metadata={"range": (0.0, 1.0)})  # overlap method:
    # fraction of an object's area that must overlap its predecessor
    min_iou: float = field(default=0.1, metadata={"range": (0.0, 1.0)})  # a link's least IoU
    link_lookback: bool = True  # a link also weighs the track's object of the frame before
    # (a track keeps its identity when its object splits into halves for one frame)
    max_gap: int = 1  # frames an object may be missed and its track go on (0 = no gaps)
    max_gap_distance: float = 30.0  # px between centroids across a gap
    division_rule: Literal["evidence", "cutoffs"] = "evidence"  # evidence: the cues of
    # ctc_unet.tracking.divisions weighed together; cutoffs: the four division_* limits below
    division_evidence: float = field(default=0.5, metadata={"range": (0.0, 1.0)})  # least
    # product of the cues' plausibilities for a division (evidence rule)
    division_size_ratio: float = field(default=0.5, metadata={"range": (0.0, 1.0)})  # the
    # smaller daughter's area over the larger's, at least
    division_area: tuple[float, float] = (0.5, 2.0)  # daughters' total area / mother's area
    division_min_mother: int = 3  # frames the mother was seen before dividing
    division_min_daughter: int = 3  # frames each daughter lasts
    fragment_area: float = 1.2  # a short start next to a cell is a fragment of it, merged,
    # when both together are at most this times the cell's previous area and the cell takes
    # it back in the next frame (0 = never merge)
    min_track_frames: int = 1  # shorter tracks without relatives inside the sequence are
    # dropped (1 = keep all: DET charges a miss 10x a false positive)


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


def config_dir() -> Traversable:
    """The shipped YAML files (``configs/`` of the source tree, packaged as ctc_unet/configs;
    read through importlib.resources so that a zipped wheel works too)."""
    return importlib.resources.files("ctc_unet") / "configs"


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
    """``defaults.yaml``, then ``<dataset>.yaml`` if shipped, then the profile (e.g. ``cpu``),
    then ``extra``, then ``overrides`` (a nested mapping), validated at each step so errors
    name their file."""
    folder = config_dir()
    layers: list[tuple[str, dict[str, Any]]] = [(str(folder / "defaults.yaml"),
                                                 read_yaml(folder / "defaults.yaml"))]
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
