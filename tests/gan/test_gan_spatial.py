"""Heatmap sampler, rendering, Spatial Encoding Layer, alignment loss."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from genlens.attribution.gradcam import GradCAM, normalize_cam, upsample_cam
from genlens.errors import GenlensError
from genlens.gan import Discriminator, GanConfig, Generator, SpatialEncodingLayer, alignment_loss
from genlens.gan.networks import LayerSelBlock
from genlens.gan.spatial import (
    ALIGN_THRESHOLD,
    HeatmapEncoder,
    frozen,
    render_heatmap,
    sample_heatmaps,
    sample_official_heatmaps,
)


def test_sampler_statistics_and_determinism():
    g = torch.Generator().manual_seed(0)
    h = sample_heatmaps(2000, size=16, generator=g)
    c1 = h.centers[1]
    assert c1.shape == (2000, 1, 2) and c1.abs().max() <= 0.75
    assert (c1.abs() == 0.75).any()  # N(0, 0.33) reaches the clamp sometimes
    assert abs(c1.std().item() - 0.31) < 0.03  # 0.33 shrunk a little by the clamp
    assert h.centers[2].shape == (2000, 2, 2) and h.centers[3].shape == (2000, 4, 2)
    assert (h.centers[2] - c1).abs().max() <= 0.4 + 1e-6
    assert (h.centers[3] - c1).abs().max() <= 0.8 + 1e-6
    s1 = h.sigmas[1]
    assert s1.min() >= 0.5 and s1.max() <= 1.0
    assert h.sigmas[2].max() <= s1.min() and h.sigmas[3].max() <= h.sigmas[2].min()
    for lv in (1, 2, 3):
        assert h.maps[lv].shape == (2000, 1, 16, 16)
    again = sample_heatmaps(2000, size=16, generator=torch.Generator().manual_seed(0))
    for lv in (1, 2, 3):
        assert torch.equal(again.maps[lv], h.maps[lv]) and torch.equal(again.centers[lv], h.centers[lv])


def test_official_sigma_ranges():
    """The official code's sigmas: sigma2 ~ (U + 0.1) / 1.4, sigma3 ~ (U + 0.1) / 2, per centre; centres and
    level 1 are drawn exactly as for the narrow set (same seed, same centres)."""
    h = sample_official_heatmaps(4000, size=16, generator=torch.Generator().manual_seed(0))
    narrow = sample_heatmaps(4000, size=16, generator=torch.Generator().manual_seed(0))
    for lv in (1, 2, 3):
        assert torch.equal(h.centers[lv], narrow.centers[lv])
    for lv, (lo, hi) in {2: (0.1 / 1.4, 1.1 / 1.4), 3: (0.05, 0.55)}.items():
        s = h.sigmas[lv]
        assert s.min() >= lo and s.max() <= hi and s.min() < lo + 0.01 and s.max() > hi - 0.01
        assert abs(s.mean().item() - (lo + hi) / 2) < 0.01


def test_generator_samples_with_its_injected_sampler():
    G = Generator(GanConfig.tiny("eqgan-sa"), heat_sampler=sample_official_heatmaps)
    h = G.sample_heatmaps(500, generator=torch.Generator().manual_seed(0))
    assert h.sigmas[3].max() > 0.25  # beyond the shipped range of level 3
    plain = Generator(GanConfig.tiny("eqgan-sa")).sample_heatmaps(500, generator=torch.Generator().manual_seed(0))
    assert plain.sigmas[3].max() <= 0.25


def test_old_configs_load_only_with_the_shipped_behaviour():
    """Files written while the variants were config fields load when they hold the shipped value."""
    old = dataclasses.asdict(GanConfig.tiny("eqgan-sa")) | {"heat_sigmas": "narrow", "heat_encoder": "mean",
                                                            "heat_features": 32, "sel_placement": "block"}
    assert GanConfig.from_dict(old) == GanConfig.tiny("eqgan-sa")
    with pytest.raises(GenlensError, match="'heat_encoder' = 'conv', an option genlens no longer has"):
        GanConfig.from_dict(old | {"heat_encoder": "conv"}, where="x/config.json")


def test_conv_heat_encoder_sees_each_centre():
    """HeatmapEncoder (the official code's): per-centre channels through two convs per level; the SELs of
    blocks 4, 8, 16 px get one level's features, the 32-px block all three."""
    cfg = GanConfig.tiny("eqgan-sa")
    torch.manual_seed(0)
    G = Generator(cfg, heat_encoder=HeatmapEncoder)
    f = G.heat_encoder.features
    assert [b.sel.shared[0].weight.shape[1] for b in G.blocks] == [f, f, f, 3 * f]
    assert [c.weight.shape[1] for c in G.heat_encoder.conv0] == [1, 2, 4]  # K centres in as K channels
    h = G.sample_heatmaps(3, generator=torch.Generator().manual_seed(1))
    heats = G.block_heats(h)
    assert [tuple(t.shape) for t in heats] == [(3, f, 32, 32)] * 3 + [(3, 3 * f, 32, 32)]
    # swapping two level-3 centres leaves the mean map alone but not the encoded features
    swapped = dataclasses.replace(h, centers={**h.centers, 3: h.centers[3][:, [1, 0, 2, 3]]},
                                  sigmas={**h.sigmas, 3: h.sigmas[3][:, [1, 0, 2, 3]]})
    swapped_maps = render_heatmap(swapped.centers[3], swapped.sigmas[3], 32)
    torch.testing.assert_close(swapped_maps, h.maps[3])
    assert not torch.allclose(G.block_heats(swapped)[2], heats[2])
    torch.testing.assert_close(G.block_heats(swapped)[0], heats[0])
    assert G(torch.randn(3, cfg.z_dim), h).shape == (3, 1, 32, 32)
    plain = Generator(GanConfig.tiny("eqgan-sa"))
    assert not list(plain.heat_encoder.parameters()) and [tuple(t.shape) for t in plain.block_heats(h)][-1] == (3, 3, 32, 32)


def test_layer_placement_puts_a_sel_before_every_conv_and_to_rgb():
    """LayerSelBlock (the official code's SynthesisLayer / ToRGBLayer): a SEL before conv0, conv1 and
    to-RGB of every block (the 4-px block has no conv0), each fed the block's heatmap; GBlock keeps one per
    block, and baseline generators get none either way."""
    torch.manual_seed(0)
    cfg = GanConfig.tiny("eqgan-sa")
    G = Generator(cfg, block=LayerSelBlock)
    sels = [[m is not None for m in (b.sel, b.sel1, b.sel_rgb)] for b in G.blocks]
    assert sels == [[True, False, True]] + [[True, True, True]] * 3
    c = cfg.g_channels
    assert [b.sel_rgb.norm.num_features for b in G.blocks] == list(c)  # to-RGB sees the block's output width
    assert [b.sel1.shared[0].weight.shape[1] for b in G.blocks[1:]] == [1, 1, 3]  # level 2, 3, then all three
    one = Generator(GanConfig.tiny("eqgan-sa"))
    assert all(not hasattr(b, "sel1") and not hasattr(b, "sel_rgb") for b in one.blocks)
    assert all(b.sel is None and b.sel_rgb is None
               for b in Generator(GanConfig.tiny("stylegan2"), block=LayerSelBlock).blocks)
    torch.manual_seed(0)
    one = Generator(cfg)
    extra = sum(p.numel() for p in G.parameters()) - sum(p.numel() for p in one.parameters())
    assert extra == sum(p.numel() for b in G.blocks for m in (b.sel1, b.sel_rgb) if m is not None for p in m.parameters())
    # the to-RGB SEL lets the heatmap reach the output directly: only it differs from zero -> the image moves
    z = torch.randn(2, cfg.z_dim)
    h = G.sample_heatmaps(2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for b in G.blocks:
            for m in (b.sel, b.sel1):
                if m is not None:
                    m.out.weight.zero_()
                    m.out.bias.zero_()
        base = G(z, h, noise_mode="const")
        G.blocks[-1].sel_rgb.out.weight.zero_()
        G.blocks[-1].sel_rgb.out.bias.zero_()
        assert not torch.allclose(G(z, h, noise_mode="const"), base)


def test_render_golden_values():
    centers = torch.tensor([[[0.0, 0.0]]])
    sigmas = torch.tensor([[0.5]])
    m = render_heatmap(centers, sigmas, 5)  # grid -1, -0.5, 0, 0.5, 1
    assert m.shape == (1, 1, 5, 5)
    assert m[0, 0, 2, 2].item() == pytest.approx(1.01)
    # pixel (row 2, col 4) is (x=1, y=0): exp(-1 / 0.5) + 0.01
    assert m[0, 0, 2, 4].item() == pytest.approx(math.exp(-2) + 0.01, rel=1e-6)
    # x is the column: a centre at x = 1 peaks in the last column
    right = render_heatmap(torch.tensor([[[1.0, 0.0]]]), sigmas, 5)
    assert right[0, 0].argmax().item() == 2 * 5 + 4
    two = render_heatmap(torch.tensor([[[0.0, 0.0], [1.0, 0.0]]]), torch.tensor([[0.5, 0.5]]), 5)
    assert torch.allclose(two, (m + right) / 2)


def test_render_rejects_centre_outside():
    with pytest.raises(GenlensError, match=r"centre \(1.5, 0\) is outside"):
        render_heatmap(torch.tensor([[[1.5, 0.0]]]), torch.tensor([[0.5]]), 8)


def test_sel_shape_and_small_residual():
    torch.manual_seed(0)
    sel = SpatialEncodingLayer(8, heat_channels=1, hidden=16)
    x = torch.randn(3, 8, 8, 8)
    heat = torch.rand(3, 1, 32, 32)
    y = sel(x, heat)
    assert y.shape == x.shape
    rel = (y - x).norm() / x.norm()
    assert 0.02 < rel < 0.2  # the 0.1 factor on a unit-variance conv keeps SEL close to identity at init


def test_alignment_loss_reaches_g_not_d():
    torch.manual_seed(0)
    cfg = GanConfig.tiny("eqgan-sa")
    G, D = Generator(cfg), Discriminator(cfg)
    heat = G.sample_heatmaps(4, generator=torch.Generator().manual_seed(1))
    fake = G(torch.randn(4, cfg.z_dim), heat)
    res = alignment_loss(D, fake, heat)
    assert res.loss.ndim == 0 and res.loss.item() > 0
    assert set(res.cams) == {1, 2, 3} and res.cams[1].shape == (4, 32, 32)
    assert res.logits.shape == (4, 1)
    res.loss.backward()
    assert all(p.grad is None for p in D.parameters())
    assert all(p.requires_grad for p in D.parameters())  # restored
    grads = [p.grad for p in G.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum().item() for g in grads) > 0
    assert G.blocks[0].sel.to_sigma_mu.weight.grad is not None  # reaches the SEL convs too


def _alignment_per_level(D, fake, heat, score=lambda out: F.softplus(-out).reshape(-1)):
    """Reference: one Grad-CAM per level through the generic GradCAM class, ranges detached."""
    total = fake.new_zeros(())
    with frozen(D):
        for level in (1, 2, 3):
            res = GradCAM(D, layer=D.cam_layer(level), relu="per_channel").compute(
                fake, target=score, create_graph=True)
            cam = normalize_cam(upsample_cam(res.cam, tuple(fake.shape[-2:])), detach_range=True)
            err = (cam - normalize_cam(heat.maps[level].squeeze(1))).abs()
            mask = err > ALIGN_THRESHOLD
            total = total + (err * mask).sum() / mask.sum().clamp_min(1)
    return total


@pytest.mark.parametrize(("cam_score", "score"), [(None, lambda out: F.softplus(-out).reshape(-1)),
                                                  (lambda logits: logits.sum(), lambda out: out.reshape(-1))])
def test_alignment_loss_one_pass_equals_grad_cam_per_level(cam_score, score):
    """The default (G's loss) and an injected score (D's logit, experiments/gan_align_real.py) both equal
    Grad-CAM computed level by level."""
    torch.manual_seed(0)
    cfg = GanConfig.tiny("eqgan-sa")
    G, D = Generator(cfg), Discriminator(cfg)
    heat = G.sample_heatmaps(4, generator=torch.Generator().manual_seed(2))
    fake = G(torch.randn(4, cfg.z_dim), heat).detach().requires_grad_(True)
    ours = alignment_loss(D, fake, heat, **({} if cam_score is None else {"cam_score": cam_score})).loss
    ref = _alignment_per_level(D, fake, heat, score)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    (g_ours,) = torch.autograd.grad(ours, fake)
    (g_ref,) = torch.autograd.grad(ref, fake)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-4, atol=1e-7)


def test_normalize_cam_detach_range_keeps_values_drops_extreme_gradient():
    cam = torch.tensor([[[0.0, 1.0], [2.0, 4.0]]], requires_grad=True)
    a, b = normalize_cam(cam), normalize_cam(cam, detach_range=True)
    torch.testing.assert_close(a, b)
    (ga,) = torch.autograd.grad(a[0, 0, 1], cam)
    (gb,) = torch.autograd.grad(b[0, 0, 1], cam)
    assert gb[0, 1, 1] == 0 and ga[0, 1, 1] != 0  # the max pixel only moves the value through the range
    torch.testing.assert_close(gb, torch.tensor([[[0.0, 0.25], [0.0, 0.0]]]))
