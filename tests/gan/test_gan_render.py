"""The fixed-latent renderer (styles baked once) renders exactly what the generator does."""
import pytest
import torch

from genlens.errors import GenlensError
from genlens.gan import FixedLatentRenderer, GanConfig, Generator
from genlens.gan.edit import latents
from genlens.gan.evaluate import render_ms, with_level1
from genlens.gan.networks import GBlock, LayerSelBlock
from genlens.gan.spatial import HeatmapEncoder, MeanHeatmaps


def _generator(arch: str, heat_encoder=MeanHeatmaps, block=GBlock) -> Generator:
    torch.manual_seed(0)
    G = Generator(GanConfig.tiny(arch), heat_encoder=heat_encoder, block=block).eval()
    with torch.no_grad():  # non-trivial styles, noise strengths and SEL weights
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return G


@pytest.mark.parametrize(("arch", "heat_encoder", "block"),
                         [("eqgan-sa", MeanHeatmaps, GBlock), ("eqgan-sa", HeatmapEncoder, GBlock),
                          ("eqgan-sa", MeanHeatmaps, LayerSelBlock), ("eqgan-sa", HeatmapEncoder, LayerSelBlock),
                          ("stylegan2", MeanHeatmaps, LayerSelBlock)])
def test_matches_synthesize_for_a_batch_of_heatmaps(arch, heat_encoder, block):
    G = _generator(arch, heat_encoder, block)
    z, heat = latents(G, 1, seed=3)
    w = G.mapping(z)
    if heat is not None:  # one latent, three level-1 centres in one pass
        heat = with_level1(heat, torch.tensor([[0.0, 0.0]]), size=32)
        heats = with_level1(type(heat)({k: v.expand(3, -1, -1, -1) for k, v in heat.maps.items()},
                                       {k: v.expand(3, -1, -1) for k, v in heat.centers.items()},
                                       {k: v.expand(3, -1) for k, v in heat.sigmas.items()}),
                            torch.tensor([[-0.5, 0.2], [0.0, 0.0], [0.6, -0.4]]), size=32)
    else:
        heats = None
    with torch.no_grad():
        ours = FixedLatentRenderer(G, w)(heats)
        ref = G.synthesize(w.expand(3 if heats is not None else 1, -1), heats, noise_mode="const")
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)
    assert heats is None or not torch.allclose(ours[0], ours[2])  # moving the heatmap changes the image


def test_random_noise_is_drawn_once_in_synthesize_order():
    G = _generator("eqgan-sa")
    z, heat = latents(G, 1, seed=1)
    w = G.mapping(z)
    with torch.no_grad():
        ours = FixedLatentRenderer(G, w, noise_mode="random", generator=torch.Generator().manual_seed(9))
        ref = G.synthesize(w, heat, noise_mode="random", generator=torch.Generator().manual_seed(9))
        torch.testing.assert_close(ours(heat), ref, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(ours(heat), ours(heat))  # the same noise every render


def test_bad_inputs():
    G = _generator("eqgan-sa")
    w = G.mapping(torch.randn(2, G.config.z_dim))
    with pytest.raises(GenlensError, match=r"one w of shape \(1, w_dim\)"):
        FixedLatentRenderer(G, w)
    with pytest.raises(GenlensError, match="noise_mode"):
        FixedLatentRenderer(G, w[:1], noise_mode="fresh")
    with pytest.raises(GenlensError, match="needs heatmaps"):
        FixedLatentRenderer(G, w[:1])(None)


def test_render_ms_reports_a_positive_median():
    out = render_ms(_generator("eqgan-sa"), threads=1, repeats=3, warmup=1)
    assert out["median_ms"] > 0 and out["min_ms"] <= out["median_ms"] <= out["p90_ms"]
