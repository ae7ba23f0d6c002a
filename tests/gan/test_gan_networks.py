"""Shapes, config validation, losses."""
from __future__ import annotations

import pytest
import torch

from genlens.errors import GenlensError
from genlens.gan import ARCHS, Discriminator, GanConfig, Generator, d_loss, disequilibrium, g_loss, r1_penalty


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes(arch):
    torch.manual_seed(0)
    cfg = GanConfig.tiny(arch)
    G, D = Generator(cfg), Discriminator(cfg)
    x = G(torch.randn(3, cfg.z_dim), generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 1, 32, 32) and x.abs().max() <= 1
    assert D(x).shape == (3, 1)
    assert (G.blocks[0].sel is not None) == (arch != "stylegan2")
    assert D.cam_layer(1) is D.b8 and D.cam_layer(3) is D.b32
    # the same generator seed gives the same image
    a = G(torch.ones(1, cfg.z_dim), generator=torch.Generator().manual_seed(5))
    b = G(torch.ones(1, cfg.z_dim), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_cam_layer_resolutions():
    cfg = GanConfig.tiny()
    D = Discriminator(cfg)
    x = torch.randn(2, 1, 32, 32)
    x = D.fromrgb(x)
    sizes = []
    for name in D.BLOCKS:
        x = getattr(D, name)(x)
        sizes.append(x.shape[-1])
    assert sizes == [16, 8, 4]
    with pytest.raises(GenlensError, match="unknown heatmap level 4"):
        D.cam_layer(4)


def test_bad_config():
    with pytest.raises(GenlensError, match="unknown GAN arch 'biggan'"):
        GanConfig(arch="biggan")
    with pytest.raises(GenlensError, match="g_channels"):
        GanConfig(g_channels=(8, 8))


def test_losses_and_di():
    r, f = torch.tensor([[2.0], [0.0]]), torch.tensor([[-1.0], [1.0]])
    sp = torch.nn.functional.softplus
    assert d_loss(r, f).item() == pytest.approx((sp(f).mean() + sp(-r).mean()).item())
    assert g_loss(f).item() == pytest.approx(sp(-f).mean().item())
    assert disequilibrium(r, f) == pytest.approx(1.0)


def test_r1_matches_hand_computation():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 1)
    D = lambda x: torch.tanh(lin(x.flatten(1)))  # noqa: E731
    x = torch.randn(3, 1, 2, 2)
    pen, _ = r1_penalty(D, x, gamma=10.0)
    # d tanh(w.x + b)/dx = (1 - tanh^2) w
    t = torch.tanh(lin(x.flatten(1)))  # (3, 1)
    grad = (1 - t.pow(2)) * lin.weight  # (3, 4)
    expected = 0.5 * 10.0 * grad.pow(2).sum(1).mean()
    assert pen.item() == pytest.approx(expected.item(), rel=1e-5)
    pen.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("demodulate,kernel", [(True, 3), (False, 1)])
def test_modulated_conv_matches_per_sample_kernels(demodulate, kernel):
    """The batched (style-scaled input) path equals StyleGAN2 eq. 1-3 written out with one kernel per sample."""
    from genlens.gan.networks import ModulatedConv2d

    torch.manual_seed(0)
    m = ModulatedConv2d(6, 5, 8, kernel=kernel, demodulate=demodulate)
    torch.nn.init.normal_(m.affine.weight)  # styles that differ per sample and channel
    torch.nn.init.normal_(m.bias)
    x, w = torch.randn(3, 6, 7, 7), torch.randn(3, 8)
    styles = m.affine(w)
    ref = []
    for i in range(3):
        k = m.weight * m.gain * styles[i][None, :, None, None]  # eq. 1
        if demodulate:
            k = k / torch.sqrt(k.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8)  # eq. 2-3
        y = torch.nn.functional.conv2d(x[i:i + 1], k, padding=kernel // 2)
        ref.append(y + m.bias[None, :, None, None] if demodulate else y)
    torch.testing.assert_close(m(x, w), torch.cat(ref), rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_equalised_layers_scale_at_run_time():
    """ProGAN sec. 4.1: stored weights N(0, 1) (/ lr_mul), applied as weight * lr_mul / sqrt(fan_in)."""
    from genlens.gan.layers import EqualConv2d, EqualLinear

    torch.manual_seed(0)
    fc = EqualLinear(256, 64, bias_init=1.0, lr_mul=0.01)
    assert abs(float(fc.weight.std()) - 100.0) < 5.0 and torch.allclose(fc.bias * fc.bias_gain, torch.ones(64))
    w, b = fc.effective()
    assert abs(float(w.std()) - 1 / 16) < 0.005
    x = torch.randn(5, 256)
    torch.testing.assert_close(fc(x), torch.nn.functional.linear(x, w, b))
    conv = EqualConv2d(16, 8, 3)
    assert conv.padding == 1 and abs(float(conv.effective()[0].std()) - 1 / 12) < 0.01
    # unit-variance layers: D's logits and the mapping's w stay O(1) at init, whatever the widths
    G, D = Generator(GanConfig(arch="stylegan2")), Discriminator(GanConfig(arch="stylegan2"))
    logits = D(torch.rand(16, 1, 32, 32) * 2 - 1)
    assert 0.01 < float(logits.std()) < 10 and 0.1 < float(G.mapping(torch.randn(64, 128)).std()) < 10
