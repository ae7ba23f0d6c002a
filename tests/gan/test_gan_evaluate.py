"""genlens.gan.evaluate / di / discriminator on tiny generators: FID/KID plumbing, coverage maths, the
editing score on a generator whose output is its heatmap, render timing, DI from a checkpoint."""
from __future__ import annotations

import json
import math

import pytest
import torch

from genlens.errors import GenlensError
from genlens.gan import GanConfig, Generator, save_generator, train_gan
from genlens.gan.data import pad_to_32
from genlens.gan.di import di_from_checkpoint, load_training_checkpoint
from genlens.gan.discriminator import discriminator_cams, load_discriminator, save_discriminator
from genlens.gan.evaluate import (
    coverage_from_predictions,
    editing_correlation,
    fid_kid,
    generate,
    reference,
    render_ms,
    to_fmnist01,
)
from genlens.gan.networks import Discriminator
from genlens.gan.spatial import sample_heatmaps
from genlens.metrics.extractors import HandleExtractor
from genlens.models.handle import ModelHandle


@pytest.fixture(scope="module")
def tiny_g():
    torch.manual_seed(0)
    return Generator(GanConfig.tiny("eqgan-sa")).eval()


class _Flat(torch.nn.Module):
    """A 'classifier' with timm's forward_features/forward_head: features = 8x8 average pool."""

    def forward_features(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)  # (B, 16)

    def forward_head(self, f, pre_logits=False):
        return f if pre_logits else f[:, :10]

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


@pytest.fixture(scope="module")
def extractor():
    handle = ModelHandle(model=_Flat(), name="flat", arch="flat", mean=(0.0,), std=(1.0,), input_size=(1, 28, 28),
                         class_names=tuple(str(i) for i in range(10)))
    return HandleExtractor(handle, name="flat")


def test_pad_and_crop_round_trip():
    u8 = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    x32 = pad_to_32(u8)
    assert x32.shape == (3, 1, 32, 32) and float(x32[..., 0, :].max()) == -1.0
    assert torch.allclose(to_fmnist01(x32), u8.float() / 255, atol=1e-6)
    with pytest.raises(GenlensError, match="must be \\(N, C, 32, 32\\)"):
        to_fmnist01(torch.zeros(2, 1, 28, 28))


def test_generate_is_seeded_and_batch_order_free_of_device(tiny_g):
    a, b = generate(tiny_g, 6, seed=3, batch=4), generate(tiny_g, 6, seed=3, batch=4)
    assert a.shape == (6, 1, 32, 32) and torch.equal(a, b)
    assert not torch.equal(a, generate(tiny_g, 6, seed=4, batch=4))
    assert a.min() >= -1 and a.max() <= 1


def test_fid_kid_names_extractor_and_counts(tiny_g, extractor):
    real = torch.rand(40, 1, 28, 28)
    ref = reference(real, extractor=extractor)
    out = fid_kid(tiny_g, 30, ref, extractor=extractor, seed=0, kid_subsets=5, kid_subset_size=20)
    assert out["fid"].extractor == "flat" and out["fid"].n_real == 40 and out["fid"].n_fake == 30
    assert out["fid"].value > 0 and math.isfinite(out["kid"].value)
    # same result from raw images as from the precomputed reference
    again = fid_kid(tiny_g, 30, real, extractor=extractor, seed=0, kid=False)
    assert again["fid"].value == pytest.approx(out["fid"].value)
    with pytest.raises(GenlensError, match="at least 2"):
        fid_kid(tiny_g, 1, ref, extractor=extractor)


def test_coverage_golden_values():
    names = ["a", "b", "c", "d"]
    even = coverage_from_predictions(torch.tensor([0, 1, 2, 3] * 5), names)
    assert even.min_fraction == 0.25 and even.kl_to_uniform == pytest.approx(0) and even.tv_to_uniform == 0
    skew = coverage_from_predictions(torch.tensor([0, 0, 0, 1]), names)
    assert skew.fractions == {"a": 0.75, "b": 0.25, "c": 0.0, "d": 0.0} and skew.min_class == "c"
    assert skew.kl_to_uniform == pytest.approx(0.75 * math.log(3) + 0.25 * math.log(1))
    assert skew.tv_to_uniform == pytest.approx(0.5 * (0.5 + 0 + 0.25 + 0.25))


class _HeatmapIsImage(torch.nn.Module):
    """A stand-in 'generator' whose image is its level-1 heatmap: a perfect editor (moves exactly with d)."""

    def __init__(self):
        super().__init__()
        self.config = GanConfig.tiny("eqgan-sa")
        self.const = torch.nn.Parameter(torch.zeros(1))

    def sample_heatmaps(self, batch, *, generator=None, device=None):
        return sample_heatmaps(batch, size=32, generator=generator, device=device or "cpu")

    def forward(self, z, heat, **kw):
        return heat.maps[1] * 2 - 1


def test_editing_correlation_perfect_and_untrained(tiny_g):
    perfect = editing_correlation(_HeatmapIsImage(), latents_n=12, directions=3, seed=0)
    assert perfect["correlation"] > 0.85 and perfect["slope"] > 0.5 and perfect["n"] == 12 * 9
    assert perfect["correlation_abs_com"] < perfect["correlation"]  # the literal reading is confounded by c
    assert set(perfect["per_magnitude"]) == {"0.2", "0.4", "0.6"}
    untrained = editing_correlation(tiny_g, latents_n=4, directions=2, seed=0)
    assert -1 <= untrained["correlation"] <= 1 and untrained["mean_abs_change"] >= 0
    with pytest.raises(GenlensError, match="no heatmap input"):
        editing_correlation(Generator(GanConfig.tiny("stylegan2")))


def test_render_ms_restores_threads(tiny_g):
    before = torch.get_num_threads()
    r = render_ms(tiny_g, threads=1, repeats=3, warmup=1)
    assert r["median_ms"] > 0 and r["threads"] == 1 and r["repeats"] == 3 and r["arch"] == "eqgan-sa"
    assert torch.get_num_threads() == before
    assert render_ms(Generator(GanConfig.tiny("stylegan2")), threads=1, repeats=2, warmup=0)["median_ms"] > 0


def test_di_from_checkpoint(images, tiny_train, tmp_path):
    run_dir = tmp_path / "run"
    run = train_gan(model_config=GanConfig.tiny("stylegan2"), config=tiny_train(2), data=images, run_dir=run_dir)
    G, D, G_ema = load_training_checkpoint(run_dir)
    for mine, theirs in ((G, run.pair.G), (D, run.pair.D), (G_ema, run.G_ema)):
        for a, b in zip(mine.parameters(), theirs.parameters(), strict=True):
            assert torch.equal(a, b)
    res = di_from_checkpoint(run_dir, images, n=8, seed=1)
    assert res["step"] == 2 and res["n"] == 8 and math.isfinite(res["di"])
    assert di_from_checkpoint(run_dir, images, n=8, seed=1)["di"] == res["di"]  # own seeded fakes
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GenlensError, match="no checkpoint"):
        di_from_checkpoint(empty, images)
    with pytest.raises(GenlensError, match="held-out images must be"):
        di_from_checkpoint(run_dir, images[:, :, :28, :28])


def test_discriminator_next_to_generator(tmp_path):
    torch.manual_seed(1)
    cfg = GanConfig.tiny("eqgan-sa")
    folder = save_generator(tmp_path / "g", Generator(cfg), command="test", metrics={})
    D = Discriminator(cfg)
    save_discriminator(folder, D)
    D2 = load_discriminator(folder)  # stored in float16 (half the bytes), loaded back as float32
    assert json.loads((folder / "manifest.json").read_text())["discriminator_dtype"] == "float16"
    assert all(b.dtype == a.dtype and torch.equal(a.half().to(a.dtype) if a.is_floating_point() else a, b)
               for a, b in zip(D.state_dict().values(), D2.state_dict().values(), strict=True))
    cams = discriminator_cams(D2, torch.rand(3, 1, 32, 32) * 2 - 1)
    assert set(cams) == {1, 2, 3} and cams[1].shape == (3, 32, 32)
    assert cams[3].min() >= 0 and cams[3].max() <= 1
    lay_cfg = GanConfig.tiny("layout", class_names=tuple("abc"), max_items=2)
    D_lay = Discriminator(lay_cfg)
    with pytest.raises(GenlensError, match="layout channels"):
        discriminator_cams(D_lay, torch.rand(2, 1, 32, 32) * 2 - 1)
    cams = discriminator_cams(D_lay, torch.rand(2, 1, 32, 32) * 2 - 1, layout=torch.rand(1, 3, 32, 32))
    assert cams[1].shape == (2, 32, 32) and cams[2].max() <= 1
    (folder / "discriminator.safetensors").write_bytes(b"broken")
    with pytest.raises(GenlensError, match="sha256"):
        load_discriminator(folder)
    with pytest.raises(GenlensError, match="has no discriminator"):
        load_discriminator(save_generator(tmp_path / "g2", Generator(cfg), command="t", metrics={}))
