"""The trained model: a run's network with what it chose (post-processing) and how it tracks,
ready to turn raw frames into probabilities, instances and tracks.

    pred = Predictor.from_run(RunDir("runs/DIC-C2DH-HeLa-cpu"), torch.device("cpu"))
    prob = pred.probabilities(frame)[1]        # (H, W) P(cell)
    labels = pred.instances(prob)              # (H, W) uint16
    masks, records = pred.track(frames)        # tracked labels, res_track.txt records

``ctc_unet.api.Model`` is its public face; ``predict``, ``evaluate``, ``submit`` and the
benchmarks use it directly.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctc_unet.config import Config, PostprocessConfig
from ctc_unet.data.ctc import TrackRecord, context_stack
from ctc_unet.errors import CtcUnetError
from ctc_unet.inference.checks import output_problem
from ctc_unet.inference.tiling import choose_tile, memory_budget, predict_tiled
from ctc_unet.inference.tta import predict_tta
from ctc_unet.model.geometry import output_size
from ctc_unet.model.unet import UNet
from ctc_unet.postprocess.instances import instances_from_probability
from ctc_unet.postprocess.search import describe
from ctc_unet.rundir import RunDir, load_checkpoint, load_weights
from ctc_unet.targets.frames import normalize_image
from ctc_unet.tracking.linking import track_instances
from ctc_unet.tracking.support import TrackSupport, object_probability, read_support

logger = logging.getLogger(__name__)


@dataclass
class Predictor:
    """A trained network with everything needed to predict: the run's configuration, the
    chosen post-processing, the device and the tile size."""

    model: UNet
    cfg: Config
    post: PostprocessConfig
    device: torch.device
    tile: int
    checkpoint: Path | None = None  # where the weights came from, for messages
    support: TrackSupport | None = None  # which tracks are cells (tracking.track_support)

    @classmethod
    def from_run(cls, run: RunDir, device: torch.device,
                 frame_shape: tuple[int, ...] = (512, 512), *, tile: int | None = None,
                 tta: bool | None = None, support: bool = True) -> Predictor:
        """The run's chosen checkpoint (its best, else its last), configuration and chosen
        post-processing, and (``support``, with ``tracking.track_support`` on) its learned
        track support; ``frame_shape`` sizes the automatic tile, ``tile`` and ``tta``
        override the configuration."""
        cfg = run.load_config()
        path = run.chosen
        state = load_checkpoint(path, map_location="cpu")
        ended = None if run.postprocess.is_file() else run.load_status()
        if ended is not None and ended.get("status") != "finished":
            logger.warning("%s: its training has not finished (%s); the post-processing is "
                           "not chosen yet, the configuration's is used", run.root,
                           f"{ended['status']} at iteration {ended.get('iteration')}"
                           if ended.get("status") else "still running, or killed")
        pred = cls.from_parts(cfg, run.load_postprocess(cfg.postprocess), state,
                              device=device, frame_shape=frame_shape, source=path, tile=tile,
                              tta=tta)
        if support and cfg.tracking.track_support:
            pred.support = read_support(run.track_support)
            if pred.support is None:
                logger.warning("%s has no track_support.json (tracking.track_support is on): "
                               "every track is kept", run.root)
        best = state.get("best_score")
        if best is not None and float(best) <= 0.0:
            logger.warning("%s: the run's best validation score is %.4f: this model has not "
                           "learned (its masks will be empty or wrong); see the run's "
                           "train.log and curves.png", run.root, float(best))
        return pred

    @classmethod
    def from_parts(cls, cfg: Config, post: PostprocessConfig, state: dict, *,
                   device: torch.device, frame_shape: tuple[int, ...] = (512, 512),
                   source: Path, tile: int | None = None, tta: bool | None = None
                   ) -> Predictor:
        """A predictor of a configuration, chosen post-processing and checkpoint state
        (``{"model": weights, ...}``) read from ``source`` (a run's checkpoint or an
        exported package)."""
        model = UNet.from_config(cfg.model)
        load_weights(model, state, source, cfg)
        model.to(device).eval()
        if cfg.inference.channels_last and device.type == "cpu":
            model.use_channels_last()
        mc = cfg.model
        auto = cfg.inference.tile_size or choose_tile(tuple(frame_shape[-2:]), mc.base_channels,
                                                      mc.depth, memory_budget(device))
        pred = cls(model, cfg, post, device, auto, source).with_settings(tile=tile, tta=tta)
        logger.info("model from %s (iteration %s), tile %d px, %s, threshold %.2f, min size %d",
                    source.name, state.get("iteration"), pred.tile,
                    describe(dataclasses.asdict(post)), post.threshold, post.min_size)
        return pred

    def check_data(self, dataset: str) -> None:
        """Warn when the dataset a model is about to predict is not the one it was trained
        on (its cells, contrast and scale may differ: the scores will tell)."""
        trained = self.cfg.dataset
        if trained and dataset and trained != dataset:
            logger.warning("this model was trained on %s and now predicts %s: expect lower "
                           "scores unless the two look alike", trained, dataset)

    def with_settings(self, *, tile: int | None = None, tta: bool | None = None,
                      threshold: float | None = None, min_size: int | None = None
                      ) -> Predictor:
        """This predictor with another tile size (checked for the network), TTA setting, or
        post-processing threshold / minimum size (checked as the configuration's are)."""
        pred = self
        if tile is not None:
            output_size(tile, pred.model.depth)
            pred = dataclasses.replace(pred, tile=tile)
        if tta is not None:
            pred = dataclasses.replace(pred, cfg=dataclasses.replace(
                pred.cfg, inference=dataclasses.replace(pred.cfg.inference, tta=tta)))
        if threshold is not None or min_size is not None:
            from ctc_unet.config_io import build

            chosen = dataclasses.asdict(pred.post)
            chosen.update({k: v for k, v in (("threshold", threshold), ("min_size", min_size))
                           if v is not None})
            pred = dataclasses.replace(pred, post=build(PostprocessConfig, chosen, "postprocess:"))
        return pred

    @property
    def context(self) -> int:
        """Frames of temporal context on each side of the frame the network segments."""
        return self.cfg.model.context_frames

    def network_input(self, read: Callable[[int], np.ndarray], times: Sequence[int], t: int
                      ) -> np.ndarray:
        """The raw input for frame ``t`` of the sorted ``times``: ``read(t)``, or with temporal
        context the (2k + 1, H, W) stack of frames t-k .. t+k (ends repeated)."""
        return context_stack(read, times, t, self.context) if self.context else read(t)

    def probabilities(self, image: np.ndarray, where: str = "the image") -> np.ndarray:
        """(K, H, W) class probabilities of a raw (H, W) frame, or of the (2k + 1, H, W) stack
        of ``network_input`` for a network with temporal context (normalized here, frame by
        frame). CtcUnetError naming ``where`` and the checkpoint when they are NaN or
        constant (``ctc_unet.inference.checks``)."""
        channels = 1 if image.ndim == 2 else image.shape[0]
        if channels != self.model.in_channels:
            raise CtcUnetError(
                f"this model reads {self.model.in_channels} frame(s) (model.context_frames "
                f"{self.context}: frames t-{self.context} .. t+{self.context}), got an input of "
                f"shape {image.shape}")
        x = normalize_image(image)
        ic = self.cfg.inference

        def forward(view: np.ndarray) -> np.ndarray:
            return predict_tiled(self.model, view, self.tile, self.device,
                                 sw_batch_size=ic.sw_batch_size)

        prob = predict_tta(forward, x, ic.tta_count) if ic.tta else forward(x)
        problem = output_problem(prob, image)
        if problem is not None:
            source = f" of {self.checkpoint}" if self.checkpoint is not None else ""
            raise CtcUnetError(f"{where}: the network's probabilities{source} are {problem}")
        return prob

    def instances(self, prob_cell: np.ndarray) -> np.ndarray:
        """Instance labels (H, W) uint16 from the cell probability (H, W)."""
        return instances_from_probability(prob_cell, self.post, self.cfg.targets.border_width)

    def segment(self, read: Callable[[int], np.ndarray], times: Sequence[int], t: int,
                where: str = "the image") -> tuple[np.ndarray, np.ndarray]:
        """Frame ``t`` of the sorted ``times`` (``read`` gives raw frames): its cell
        probability (H, W) and instances (H, W)."""
        prob = self.probabilities(self.network_input(read, times, t), where)[1]
        return prob, self.instances(prob)

    def track(self, frames: Sequence[np.ndarray]
              ) -> tuple[list[np.ndarray], list[TrackRecord]]:
        """Segment a time series of raw (H, W) frames and link the instances: tracked label
        images and track records (frame = list index), with the run's tracking settings."""
        times = range(len(frames))
        instances, probs = [], []
        for t in times:
            prob, labels = self.segment(frames.__getitem__, times, t, f"frame {t}")
            instances.append(labels)
            probs.append(object_probability(labels, prob))
        return self.link(instances, probs)

    def link(self, instances: Sequence[np.ndarray], probabilities: Sequence[dict[int, float]]
             ) -> tuple[list[np.ndarray], list[TrackRecord]]:
        """Track the (H, W) instance labels of consecutive frames; ``probabilities``: per
        frame, label -> mean cell probability (``support.object_probability``), which the
        learned track support weighs."""
        return track_instances(instances, self.cfg.tracking, support=self.support,
                               probabilities=probabilities)
