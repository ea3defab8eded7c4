"""The paper's network and loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ctc_unet.model.unet import UNet, center_crop, conv_layers
from ctc_unet.training.loss import weighted_cross_entropy


@pytest.fixture(scope="module")
def paper_net() -> UNet:
    torch.manual_seed(0)
    return UNet()


def test_572_tile_gives_388_map(paper_net):
    with torch.no_grad():
        out = paper_net.eval()(torch.zeros(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388)


def test_23_conv_layers_and_paper_channels(paper_net):
    layers = conv_layers(paper_net)
    assert len(layers) == 23
    widths = [m.out_channels for m in layers]
    assert max(widths) == 1024 and widths[0] == 64 and widths[-1] == 2
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in layers) == 4
    assert abs(sum(p.numel() for p in paper_net.parameters()) - 31.03e6) < 0.01e6


def test_he_initialisation(paper_net):
    for m in conv_layers(paper_net):
        if isinstance(m, torch.nn.Conv2d) and m.weight.numel() > 20000:
            n = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            assert abs(m.weight.std().item() / math.sqrt(2.0 / n) - 1.0) < 0.03
            assert abs(m.weight.mean().item()) < 0.01 * math.sqrt(2.0 / n) * 10
            assert torch.all(m.bias == 0)
    first = conv_layers(paper_net)[0]  # 9 incoming connections: std sqrt(2/9)
    assert abs(first.weight.std().item() - math.sqrt(2 / 9)) < 0.05


def test_dropout_only_in_training():
    net = UNet(base_channels=4, depth=2, dropout=0.5)
    x = torch.randn(1, 1, 188, 188)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))


def test_invalid_tile_is_a_clear_error():
    from ctc_unet.model.geometry import TileSizeError

    with pytest.raises(TileSizeError):
        UNet(base_channels=4).output_size(570)


def test_center_crop():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    assert torch.equal(center_crop(x, (2, 2))[0, 0], torch.tensor([[14.0, 15.0], [20.0, 21.0]]))


def test_weighted_loss_is_the_papers_energy():
    torch.manual_seed(0)
    logits = torch.randn(1, 2, 5, 7)
    target = torch.randint(0, 2, (1, 5, 7))
    weights = torch.rand(1, 5, 7) * 10
    weights[0, 0] = 0  # ignored row
    log_p = F.log_softmax(logits, dim=1).gather(1, target[:, None])[:, 0]
    expected = -(weights * log_p).sum() / target.numel()
    assert torch.allclose(weighted_cross_entropy(logits, target, weights), expected)
    # ignored pixels do not matter
    logits2 = logits.clone()
    logits2[0, :, 0] = 100.0
    assert torch.allclose(weighted_cross_entropy(logits2, target, weights), expected)
