"""Temporal context (``model.context_frames``): frames t-k .. t+k as input channels, in
training, validation, prediction, the API and the ISBI slices, and what it refuses."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import tifffile
import torch
import yaml
from conftest import TINY_OVERRIDES, train_through_api, write_isbi

import ctc_unet
from ctc_unet.config import ConfigError, load_config
from ctc_unet.data.ctc import context_times, open_ctc_dataset
from ctc_unet.inference.tiling import predict_tiled, predict_whole
from ctc_unet.inference.tta import predict_tta
from ctc_unet.model.unet import UNet
from ctc_unet.targets.frames import FrameRef, load_frame, normalize_image
from ctc_unet.training.split import load_frames
from ctc_unet.zoo.bioimageio import package_dir, padded_input

CONTEXT = copy.deepcopy(TINY_OVERRIDES)
CONTEXT["model"]["context_frames"] = 1


def test_context_times_repeat_the_ends_and_skip_missing_frames():
    ts = [0, 1, 2, 4, 5]
    assert context_times(ts, 2, 1) == [1, 2, 4]  # 3 is missing: the next frame stands in
    assert context_times(ts, 0, 1) == [0, 0, 1]
    assert context_times(ts, 5, 2) == [2, 4, 5, 5, 5]
    assert context_times(ts, 4, 0) == [4]
    assert context_times(range(3), 1, 1) == [0, 1, 2]  # ISBI slices
    with pytest.raises(ValueError, match="frame 3"):
        context_times(ts, 3, 1)


def test_the_network_reads_2k_plus_1_channels_and_context_stays_out_of_the_held_out_block():
    cfg = load_config(None, overrides={"model": {"context_frames": 2}})
    assert cfg.model.input_channels == 5
    assert load_config(None).model.input_channels == 1
    with pytest.raises(ConfigError, match=r"model.context_frames.*split.gap_frames is 1"):
        load_config(None, overrides={"model": {"context_frames": 2},
                                     "split": {"gap_frames": 1}})
    with pytest.raises(ConfigError, match="context_frames"):
        load_config(None, overrides={"model": {"context_frames": 4}})


def test_a_frame_carries_its_neighbours_in_time_order(synthetic_root):
    ds = open_ctc_dataset(synthetic_root)
    cfg = load_config(None).targets
    seq = ds.sequences["01"]
    ref = FrameRef("01", 0, "ST")
    frame = load_frame(ds, ref, cfg, context=1)
    assert frame.network_input.shape == (3, *frame.image.shape)
    assert np.array_equal(frame.context[1], frame.image)
    assert np.array_equal(frame.context[0], frame.image)  # the first frame repeated
    assert np.allclose(frame.context[2], normalize_image(seq.read_frame(1)))
    plain = load_frame(ds, ref, cfg)
    assert plain.context is None and plain.network_input is plain.image


def test_isbi_slices_take_their_neighbours_as_context(tmp_path):
    cfg = load_config(None, overrides={"model": {"context_frames": 1},
                                       "split": {"gap_frames": 1}})
    root = write_isbi(tmp_path / "ISBI2012", n=12)
    _, train, val = load_frames(root, cfg)
    volume = tifffile.imread(root / "train-volume.tif")
    for f in train + val:
        z = f.ref.t
        assert f.network_input.shape == (3, 32, 32)
        assert np.allclose(f.context[0], normalize_image(volume[max(z - 1, 0)]))
        assert np.allclose(f.context[2], normalize_image(volume[min(z + 1, 11)]))


def test_tiled_equals_whole_and_tta_maps_back_for_a_stack_of_frames():
    torch.manual_seed(0)
    net = UNet(in_channels=3, base_channels=4, depth=4).eval()
    stack = np.random.default_rng(0).random((3, 300, 300)).astype(np.float32)
    whole = predict_whole(net, stack)
    assert whole.shape == (2, 300, 300)
    assert np.abs(predict_tiled(net, stack, 252) - whole).max() < 1e-5

    def fake(view: np.ndarray) -> np.ndarray:  # returns its middle channel
        return np.stack([view[1], 1 - view[1]])

    assert np.allclose(predict_tta(fake, stack, 8)[0], stack[1], atol=1e-6)


@pytest.fixture(scope="module")
def context_run(synthetic_root, tmp_path_factory):
    return train_through_api(synthetic_root, tmp_path_factory.mktemp("context"), CONTEXT)


def test_a_context_model_segments_a_frame_from_its_neighbours(context_run, synthetic_root,
                                                              tmp_path):
    model = ctc_unet.load_model(context_run, device="cpu", frame_shape=(256, 256))
    assert model.context_frames == 1 and model.predictor.model.in_channels == 3
    frames = [tifffile.imread(synthetic_root / "02" / f"t{t:03d}.tif") for t in range(10)]
    prob = model.predict_probabilities(np.stack(frames[3:6]))
    assert prob.shape == (256, 256)
    # the neighbours are read: another next frame changes frame 4's probabilities
    other = model.predict_probabilities(np.stack([frames[3], frames[4], frames[0]]))
    assert np.abs(other - prob).max() > 1e-4
    with pytest.raises(ctc_unet.CtcUnetError, match=r"reads 3 frames .* \(3, H, W\)"):
        model.predict_probabilities(frames[4])
    # track() and predict give frame 4 the objects of the stack of frames 3, 4, 5
    masks, _ = model.track(frames)
    labels = model.predict_instances(np.stack(frames[3:6]))
    assert np.array_equal(masks[4] > 0, labels > 0)
    (res,) = ctc_unet.predict(context_run, synthetic_root, sequences=["02"], out=tmp_path,
                              device="cpu")
    assert np.array_equal(tifffile.imread(res / "mask004.tif") > 0, labels > 0)
    first = model.predict_instances(np.stack([frames[0], frames[0], frames[1]]))
    assert np.array_equal(tifffile.imread(res / "mask000.tif") > 0, first > 0)


def test_an_exported_context_model_reads_the_frames_as_channels_and_reproduces_predict(
        context_run, synthetic_root, tmp_path):
    pytest.importorskip("bioimageio.spec")
    package = ctc_unet.export(context_run, data=synthetic_root, out=tmp_path / "m.zip")
    pkg = package_dir(package)
    rdf = yaml.safe_load((pkg / "rdf.yaml").read_text())
    channel = next(a for a in rdf["inputs"][0]["axes"] if a["type"] == "channel")
    assert channel["channel_names"] == ["t_minus_1", "t", "t_plus_1"]
    assert np.load(pkg / "test_input.npy").shape[:2] == (1, 3)
    # the TorchScript on the stack of a choosing frame and its neighbours gives predict's output
    ref = context_run.load_split().val[0]
    raw = np.stack([tifffile.imread(synthetic_root / ref.sequence / f"t{t:03d}.tif")
                    for t in (ref.t - 1, ref.t, ref.t + 1)])
    expected = ctc_unet.load_model(context_run, device="cpu", frame_shape=(256, 256), tta=False
                                   ).predict_probabilities(raw)
    scripted = torch.jit.load(str(pkg / "weights_torchscript.pt"))
    with torch.inference_mode():
        prob = scripted(torch.from_numpy(padded_input(normalize_image(raw), 3)))
    assert np.abs(prob[0, 1, :256, :256].numpy() - expected).max() <= 1e-4
    core = pytest.importorskip("bioimageio.core")
    summary = core.test_description(package)
    assert summary.status == "passed", summary.format()
