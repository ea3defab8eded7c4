"""``ctc-unet export``: a trained run as a bioimage.io model package (format 0.5).

The package holds the network as TorchScript and as a state dict (architecture
``ctc_unet.model.unet.UNetProbabilities``: the U-Net followed by a softmax), its input as a
gray image ``(batch, channel, y, x)`` of the valid sizes of the unpadded network (``min + n *
step``), its output ``(batch, channel, y, x)`` of the two class probabilities (background,
cell) and the input's size minus the network's margin on each side, the run's percentile
normalization as preprocessing, test tensors from a real frame, a cover image, and a README that
names the training data (with the Cell Tracking Challenge's terms of use), the recipe and the
run's honest scores.

Consumers do not mirror the borders as ``ctc-unet predict`` does: a tile's output covers its
input minus the margin. For the same probabilities as ``predict``, mirror-pad the frame by the
margin (README of the package).
"""

from __future__ import annotations

import logging
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch
import yaml

from ctc_unet.config import Config, dump_config
from ctc_unet.data.ctc import context_stack, open_ctc_dataset
from ctc_unet.data.isbi import is_isbi_folder, read_isbi2012
from ctc_unet.data.locate import dataset_inputs
from ctc_unet.errors import CtcUnetError
from ctc_unet.files import (
    atomic_write,
    check_apart,
    check_replaceable,
    remove_stale_staging,
    staged_dir,
)
from ctc_unet.inference.tiling import as_batch, mirror_pad, predict_whole
from ctc_unet.model.geometry import margin, next_valid
from ctc_unet.model.unet import UNetProbabilities
from ctc_unet.plots import image_and_probability
from ctc_unet.postprocess.search import RULE_KEYS, describe
from ctc_unet.rundir import RunDir, frame_ranges, load_checkpoint, read_json
from ctc_unet.targets.frames import FrameRef, normalize_image
from ctc_unet.tracking.support import read_support

logger = logging.getLogger(__name__)

FORMAT_VERSION = "0.5.4"
PERCENTILES = (1.0, 99.8)  # ctc_unet.targets.frames.normalize_image
MAX_TEST_SIZE = 512  # px of the test frame's crop: the package stays small
POSTPROCESS_KEYS = (*RULE_KEYS, "threshold", "min_size")  # what postprocess.json chose
TOLERANCE = 1e-4  # TorchScript vs ``predict`` probabilities
PAPER = "Ronneberger O, Fischer P, Brox T. U-Net: Convolutional Networks for Biomedical Image "\
        "Segmentation. MICCAI 2015."
CTC = "Ulman V et al. An objective comparison of cell-tracking algorithms. Nature Methods 14, "\
      "1141-1152 (2017)."
CTC_TERMS = ("Cell Tracking Challenge conditions of use (celltrackingchallenge.net/datasets): "
             "cite Ulman et al. 2017 (doi:10.1038/nmeth.4473) and acknowledge the CTC; "
             "CTC-related use needs no consent; other public scientific use needs permission "
             "from the data providers; commercial use needs explicit permission.")


def export_run(run: RunDir, data: Path, out: Path) -> Path:
    """Write the bioimage.io package of ``run`` to ``out`` (a .zip) and, unzipped, to
    ``package_dir(out)``; each atomically, nothing when anything fails.

    ``data``: the run's dataset folder (one raw frame of it becomes the test tensor).
    Raises CtcUnetError when the run has no checkpoint, the frame cannot be read, the
    TorchScript disagrees with ``predict`` or bioimage.io's validation rejects the package.
    """
    spec = _bioimageio_spec()
    cfg = run.load_config()
    out = Path(out)
    inputs = [*run.inputs(), *dataset_inputs(data)]
    for final in (out, package_dir(out)):
        check_apart(final, inputs)
    check_replaceable(package_dir(out), is_package_folder, PACKAGE_WHAT)
    if out.is_dir():
        raise CtcUnetError(f"{out}: is a folder; the package is a .zip file")
    remove_stale_staging(out.parent)  # what an export killed here before left behind
    ref, raw = test_frame(run, data, cfg.model.context_frames)
    model = _network(run, cfg)
    with staged_dir(package_dir(out), is_package_folder, PACKAGE_WHAT) as pkg:
        diff, prob = _write_weights(model, pkg, raw)
        logger.info("TorchScript vs predict on %s:%d: max abs difference %.1e", ref.sequence,
                    ref.t, diff)
        _write_test_tensors(pkg, model, raw)
        image_and_probability(normalize_image(middle(raw)), prob[1], pkg / "cover.png")
        dump_config(cfg, pkg / "ctc_unet_config.yaml")
        (pkg / "README.md").write_text(package_readme(run, cfg, ref, diff))
        (pkg / "rdf.yaml").write_text(yaml.safe_dump(model_rdf(run, cfg, ref), sort_keys=False))
        _validate(spec, pkg / "rdf.yaml")
        atomic_write(out, lambda tmp: _zip(pkg, tmp))
    return out


def export_package(run: RunDir, *, data: str | Path | None, out: Path | None,
                   data_dir: Path | None) -> Path:
    """``export_run`` with what a user types: ``data`` a dataset folder or name (default: the
    folder the run was trained on, else its dataset under the data root), ``out`` default
    ``RUN/export/<run>.bioimageio.zip``."""
    from ctc_unet.data.locate import resolve_dataset

    root, _ = resolve_dataset(run.dataset(data), data_dir)
    if not root.is_dir():
        raise CtcUnetError(f"{root}: dataset folder not found (give --data)")
    out = out or run.root / "export" / f"{run.name}.bioimageio.zip"
    if out.suffix != ".zip":
        raise CtcUnetError(f"{out}: the package is a .zip file")
    return export_run(run, root, out)


PACKAGE_WHAT = "a bioimage.io package (rdf.yaml)"


def is_package_folder(folder: Path) -> bool:
    """An unzipped package an earlier export wrote (it holds rdf.yaml)."""
    return (Path(folder) / "rdf.yaml").is_file()


def package_dir(out: Path) -> Path:
    """The unzipped package beside the zip ``out`` (``x.zip`` -> ``x/``)."""
    return out.parent / out.name.removesuffix(".zip")


def _bioimageio_spec() -> Any:
    try:
        import bioimageio.spec as spec
    except ImportError:
        raise CtcUnetError("ctc-unet export needs bioimageio.spec: pip install "
                           "'ctc-unet[export]'") from None
    return spec


def _network(run: RunDir, cfg: Config) -> UNetProbabilities:
    path = run.chosen
    if not path.is_file():
        raise CtcUnetError(f"{run.root}: no checkpoint to export (train first)")
    mc = cfg.model
    model = UNetProbabilities(mc.input_channels, mc.n_classes, mc.base_channels, mc.depth)
    model.unet.load_state_dict(load_checkpoint(path)["model"])
    return model.eval()


def test_frame(run: RunDir, data: Path, context: int = 0) -> tuple[FrameRef, np.ndarray]:
    """The first choosing frame of the run (else its first training frame), raw, centre-cropped
    to at most MAX_TEST_SIZE px: (frame, (H, W) array of the file's type; with ``context``
    > 0 the (2k + 1, H, W) stack of frames t-k .. t+k)."""
    split = run.load_split()
    ref = (split.val or split.train)[0]
    try:
        if is_isbi_folder(data):
            volume = read_isbi2012(data).train_volume
            read, times = volume.__getitem__, range(len(volume))
        else:
            seq = open_ctc_dataset(data).sequence(ref.sequence)
            read, times = seq.read_frame, sorted(seq.frames)
        image = context_stack(lambda s: np.squeeze(read(s)), times, ref.t, context)
    except (OSError, KeyError, IndexError, ValueError) as exc:
        raise CtcUnetError(f"{data}: cannot read frame {ref.t} of sequence {ref.sequence} "
                           f"for the test tensor ({exc})") from None
    image = image if context else image[0]
    h, w = image.shape[-2:]
    top, left = max(0, (h - MAX_TEST_SIZE) // 2), max(0, (w - MAX_TEST_SIZE) // 2)
    return ref, image[..., top:top + MAX_TEST_SIZE, left:left + MAX_TEST_SIZE]


def middle(image: np.ndarray) -> np.ndarray:
    """The frame itself: (H, W) as given, or the middle plane of a (2k + 1, H, W) stack."""
    return image if image.ndim == 2 else image[image.shape[0] // 2]


def padded_input(raw: np.ndarray, depth: int) -> np.ndarray:
    """The raw frame (or (C, H, W) stack of frames) mirror-padded as ``predict`` pads it:
    (1, C, H', W') float32 of valid sizes (the network's output then covers the frame)."""
    return as_batch(mirror_pad(raw.astype(np.float32), depth)[0]).numpy()


def scale_range(x: np.ndarray) -> np.ndarray:
    """bioimage.io's ``scale_range`` preprocessing over (y, x) as the package declares it:
    (B, C, H, W), each channel (frame) by its own percentiles."""
    lo, hi = np.percentile(x, PERCENTILES, axis=(-2, -1), keepdims=True)
    return ((x - lo) / (hi - lo + 1e-6)).astype(np.float32)


def _write_weights(model: UNetProbabilities, pkg: Path, raw: np.ndarray
                   ) -> tuple[float, np.ndarray]:
    """State dict and TorchScript; returns max |TorchScript - predict| on the test frame and
    predict's (K, H, W) probabilities there."""
    torch.save(model.state_dict(), pkg / "weights.pt")
    with warnings.catch_warnings():  # TorchScript is deprecated in torch, but it is the
        warnings.simplefilter("ignore", DeprecationWarning)  # weights format consumers run
        torch.jit.script(model).save(str(pkg / "weights_torchscript.pt"))
        loaded = torch.jit.load(str(pkg / "weights_torchscript.pt"))
    image = normalize_image(raw)
    unet = model.unet
    expected = predict_whole(unet, image)
    with torch.inference_mode():
        got = loaded(torch.from_numpy(padded_input(image, unet.depth)))[0].numpy()
    got = got[:, :image.shape[-2], :image.shape[-1]]
    diff = float(np.abs(got - expected).max())
    if diff > TOLERANCE:
        raise CtcUnetError(f"the exported TorchScript differs from predict by {diff:.1e} "
                           f"(> {TOLERANCE:g}) on the test frame")
    return diff, expected


def _write_test_tensors(pkg: Path, model: UNetProbabilities, raw: np.ndarray) -> None:
    x = padded_input(raw, model.unet.depth)
    with torch.inference_mode():
        y = model(torch.from_numpy(scale_range(x))).numpy()
    np.save(pkg / "test_input.npy", x)
    np.save(pkg / "test_output.npy", y)
    tifffile.imwrite(pkg / "sample_input.tif", x, photometric="minisblack")
    tifffile.imwrite(pkg / "sample_output.tif", y, photometric="minisblack")


def channel_names(context: int) -> list[str]:
    """The input's channels: ``raw``, or the frames ``t_minus_k`` .. ``t`` .. ``t_plus_k``."""
    if not context:
        return ["raw"]
    return [f"t_minus_{-d}" if d < 0 else f"t_plus_{d}" if d > 0 else "t"
            for d in range(-context, context + 1)]


def _axes(depth: int, output: bool, context: int = 0) -> list[dict]:
    space = []
    for axis in ("y", "x"):
        size: dict = ({"tensor_id": "raw", "axis_id": axis, "offset": -2 * margin(depth)}
                      if output else {"min": next_valid(1, depth), "step": 2**depth})
        space.append({"type": "space", "id": axis, "size": size})
    channel = ({"type": "channel", "channel_names": ["background", "cell"]} if output
               else {"type": "channel", "channel_names": channel_names(context)})
    return [{"type": "batch"}, channel, *space]


def model_rdf(run: RunDir, cfg: Config, ref: FrameRef) -> dict:
    """The package's rdf.yaml as a mapping (bioimage.io model description 0.5)."""
    mc = cfg.model
    name = f"U-Net {cfg.dataset} {run.name}".replace("_", "-")
    low, high = PERCENTILES
    return {
        "type": "model", "format_version": FORMAT_VERSION, "name": name[:128],
        "description": f"The U-Net of Ronneberger et al. (2015), {mc.base_channels} base "
                       f"channels, depth {mc.depth}, trained with ctc-unet on {cfg.dataset}: "
                       "per-pixel probabilities of background and cell.",
        "authors": [{"name": "ctc-unet developers"}],
        "cite": [{"text": PAPER, "doi": "10.1007/978-3-319-24574-4_28"},
                 {"text": CTC, "doi": "10.1038/nmeth.4473"}],
        "license": "MIT",
        "documentation": "README.md",
        "covers": ["cover.png"],
        "tags": ["unet", "2d", "segmentation", "cell-tracking-challenge", "instance-segmentation",
                 "pytorch", cfg.dataset.lower()],
        "inputs": [{
            "id": "raw", "description": _input_description(mc.context_frames),
            "axes": _axes(mc.depth, output=False, context=mc.context_frames),
            "test_tensor": {"source": "test_input.npy"},
            "sample_tensor": {"source": "sample_input.tif"},
            "data": {"type": "float32"},
            "preprocessing": [{"id": "scale_range", "kwargs": {
                "axes": ["y", "x"], "min_percentile": low, "max_percentile": high}}],
        }],
        "outputs": [{
            "id": "probabilities", "description": "softmax over background and cell; the "
            f"input's size minus {margin(mc.depth)} px on each side",
            "axes": _axes(mc.depth, output=True),
            "test_tensor": {"source": "test_output.npy"},
            "sample_tensor": {"source": "sample_output.tif"},
            "data": {"type": "float32", "range": [0.0, 1.0]},
        }],
        "weights": {
            "pytorch_state_dict": {
                "source": "weights.pt", "pytorch_version": torch.__version__.split("+")[0],
                "architecture": {
                    "callable": "UNetProbabilities", "import_from": "ctc_unet.model.unet",
                    "kwargs": {"in_channels": mc.input_channels, "n_classes": mc.n_classes,
                               "base_channels": mc.base_channels, "depth": mc.depth}},
            },
            "torchscript": {"source": "weights_torchscript.pt", "parent": "pytorch_state_dict",
                            "pytorch_version": torch.__version__.split("+")[0]},
        },
        "attachments": [{"source": "ctc_unet_config.yaml"}],
        "config": {"ctc_unet": {"run": run.name, "dataset": cfg.dataset,
                                "test_frame": f"{ref.sequence}:{ref.t}",
                                "postprocess": _postprocess(run),
                                **_track_support(run)}},
    }


def _input_description(context: int) -> str:
    """At most 128 characters (bioimage.io)."""
    if context:
        return (f"frames t-{context}..t+{context} of a time-lapse as channels (ends repeated) "
                "for frame t; mirror-pad by the margin to cover t")
    return "a gray-value frame; mirror-pad it by the margin for outputs that cover it"


def _postprocess(run: RunDir) -> dict:
    if not run.postprocess.is_file():
        return {}
    chosen = read_json(run.postprocess)
    return {k: chosen[k] for k in POSTPROCESS_KEYS if k in chosen}


def _track_support(run: RunDir) -> dict:
    """{"track_support": the learned model} where the run has one, else {}."""
    support = read_support(run.track_support)
    return {"track_support": support.to_dict()} if support is not None else {}


def _instances_rule(run: RunDir, cfg: Config) -> str:
    post = {**{k: getattr(cfg.postprocess, k) for k in POSTPROCESS_KEYS}, **_postprocess(run)}
    return (f"{describe(post)} inside P(cell) > {post['threshold']:g}, objects of at least "
            f"{post['min_size']} px (`ctc-unet predict` applies it)")


def _frames(refs: list[FrameRef]) -> str:
    by_seq: dict[str, list[int]] = {}
    for r in refs:
        by_seq.setdefault(r.sequence, []).append(r.t)
    return "; ".join(f"sequence {s}: {len(ts)} frames ({frame_ranges(ts)})"
                     for s, ts in by_seq.items()) or "none"


SCORE_KEYS = ("SEG", "SEG_ST", "DET", "TRA", "rand_error", "info_error")


def _scores(run: RunDir) -> list[str]:
    lines = []
    for path in sorted((run.root / "evaluation").glob("*/evaluation.json")):
        for row in read_json(path):
            measures = ", ".join(f"{k} {row[k]:.3f}" for k in SCORE_KEYS
                                 if isinstance(row.get(k), float))
            lines.append(f"- {path.parent.name}, sequence {row.get('sequence')} "
                         f"(frames: {row.get('block') or row.get('seg_frames')}): {measures}")
    return lines or ["- not evaluated (run `ctc-unet evaluate RUN --frames report`)"]


def package_readme(run: RunDir, cfg: Config, ref: FrameRef, diff: float) -> str:
    """The package's documentation: data and its terms, recipe, scores, how to use it."""
    split, parent = run.load_split(), run.refit_parent()
    mc, tc = cfg.model, cfg.train
    m = margin(mc.depth)
    chose = (f"as run `{parent.root.name}` chose them (this model is its refit on more frames: "
             f"{_frames(parent.load_split().val)})" if parent else _frames(split.val))
    scored = ("The checkpoint iteration and the post-processing were chosen by run "
              f"`{parent.root.name}`; this model refits its recipe on more frames, and the "
              "scores below are that run's on its reporting frames (which chose nothing)"
              if parent else "The checkpoint and the post-processing were chosen on the "
              "choosing frames above; the scores below are on the reporting frames, which "
              "chose nothing")
    terms = ("ISBI 2012 EM segmentation challenge data (cite Cardona et al. 2010 and "
             "Arganda-Carreras et al. 2015)." if ref.source == "ISBI" else CTC_TERMS)
    return "\n".join([
        f"# U-Net for {cfg.dataset} (ctc-unet run `{run.name}`)", "",
        f"The U-Net of Ronneberger, Fischer and Brox (MICCAI 2015) with {mc.base_channels} base "
        f"channels and depth {mc.depth} (unpadded 3x3 convolutions), trained with ctc-unet.",
        "Output: per-pixel probabilities of background and cell (softmax).", "",
        "## Training data", "",
        f"Dataset {cfg.dataset}; annotations {cfg.targets.source}.",
        f"- trained on: {_frames(split.train)}",
        f"- chose the checkpoint and post-processing: {chose}",
        f"- reported on (never trained on or chosen with): {_frames(split.report)}"
        + "".join(f"; sequence {s} whole" for s in split.report_sequences), "",
        terms, "",
        "## Recipe", "",
        f"{tc.iterations} iterations, {tc.optimizer} (lr {tc.lr:g}, {tc.lr_schedule}), "
        f"{tc.tile_size} px tiles, batch 1, weighted cross-entropy with separation borders "
        f"(w0 {cfg.targets.w0:g}, sigma {cfg.targets.sigma:g}), elastic deformations. "
        "The full configuration is attached (ctc_unet_config.yaml).", "",
        "## Validation", "",
        f"{scored} (`ctc-unet evaluate RUN --frames report`; the CTC's measures by "
        "py-ctcmetrics).", "",
        *_scores(parent or run), "",
        "## Use", "",
        f"Inputs: {_use_input(mc.context_frames)}, each normalized by its 1st and 99.8th "
        f"percentiles (the package's preprocessing), of sizes {next_valid(1, mc.depth)} + n x "
        f"{2**mc.depth} px. "
        f"The output is {m} px smaller on each side: mirror-pad a frame by {m} px (numpy "
        "`mode='reflect'`) to cover it, as `ctc-unet predict` does (overlap-tile strategy, "
        f"paper Fig. 2). Instances, as the run chose them on its choosing frames: "
        f"{_instances_rule(run, cfg)}.",
        f"The TorchScript weights reproduce `ctc-unet predict` on frame {ref.t} of sequence "
        f"{ref.sequence} to {diff:.1e} (max abs difference).", "",
        "## Cite", "", f"- {PAPER}", f"- {CTC}", "",
    ])


def _use_input(context: int) -> str:
    if not context:
        return "gray frames"
    return (f"for frame t of a time-lapse, the {2 * context + 1} frames t-{context} .. "
            f"t+{context} stacked as channels (temporal context; at the sequence's ends its "
            "first / last frame repeated), as `ctc-unet predict` stacks them")


def _validate(spec: Any, rdf: Path) -> None:
    """bioimage.io's format validation of the written package (the model test is
    ``bioimageio test``, which needs bioimageio.core)."""
    descr = spec.load_description(rdf, perform_io_checks=True)
    status = getattr(getattr(descr, "validation_summary", None), "status", "failed")
    if status not in ("valid-format", "passed"):
        summary = getattr(descr, "validation_summary", None)
        details = summary.format() if summary is not None else str(descr)
        failed = [" ".join(cell.strip() for cell in line.split("|") if cell.strip())
                  for line in details.splitlines() if "❌" in line and "`" in line]
        raise CtcUnetError("bioimage.io rejected the package: "
                           + ("; ".join(failed) or details.strip().splitlines()[0]))


def _zip(pkg: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(pkg.iterdir()):
            zf.write(path, path.name)

