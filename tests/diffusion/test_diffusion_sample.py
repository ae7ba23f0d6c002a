import pytest
import torch

from genlens.diffusion import SAMPLERS, sample
from genlens.errors import GenlensError


@pytest.mark.parametrize("sampler", SAMPLERS.available())
@pytest.mark.parametrize("cond", ["class", "text"])
def test_each_sampler_gives_images_in_unit_range(sampler, cond, toy):
    model = toy.denoiser(cond)
    c = torch.tensor([0, 1]) if cond == "class" else toy.text_cond(2)
    out = sample(model, c, sampler=sampler, steps=3, guidance=2.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 1, 28, 28) and out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()


def test_samplers_registry():
    assert set(SAMPLERS.available()) == {"ddpm", "ddim", "dpm++"}
    with pytest.raises(GenlensError, match="choose one of"):
        SAMPLERS.get("euler")


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_same_seed_same_images(sampler, toy):
    model, y = toy.denoiser("class"), torch.tensor([0, 1, 1])

    def run(seed):
        return sample(model, y, sampler=sampler, steps=4, guidance=3.0, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(7), run(7))
    assert not torch.equal(run(7), run(8))


def test_ddim_eta0_is_deterministic_given_x_T(toy):
    """DDIM (eta=0) draws nothing after x_T: an already-advanced generator changes nothing but x_T."""
    from genlens.diffusion.sample import _ddim
    from genlens.diffusion.schedule import NoiseSchedule

    sch = _ddim(NoiseSchedule())
    from diffusers import DDIMScheduler

    assert isinstance(sch, DDIMScheduler)
    model, y = toy.denoiser("class"), torch.tensor([0])
    g = torch.Generator().manual_seed(3)
    a = sample(model, y, sampler="ddim", steps=5, generator=g)
    after_a = g.get_state()
    g2 = torch.Generator().manual_seed(3)
    b = sample(model, y, sampler="ddim", steps=5, generator=g2)
    assert torch.equal(a, b) and torch.equal(after_a, g2.get_state())
    x_t_draw = torch.Generator().manual_seed(3)
    torch.randn(1, 1, 32, 32, generator=x_t_draw)
    assert torch.equal(after_a, x_t_draw.get_state())  # only x_T was drawn


def test_callback_sees_every_step_with_the_noisy_and_predicted_clean_image(toy):
    """info["x0"] is x̂_0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t of that step; the last step's x̂_0 is the sample (DDIM's
    final ᾱ is 1, so x_prev = x̂_0)."""
    seen = []
    model, y = toy.denoiser("class"), torch.tensor([1, 0])
    out = sample(model, y, steps=6, generator=torch.Generator().manual_seed(0), callback=seen.append)
    assert [s["step"] for s in seen] == list(range(1, 7)) and all(s["total"] == 6 for s in seen)
    assert [s["timestep"] for s in seen] == sorted((s["t"] for s in seen), reverse=True)
    assert seen[0]["x_t"].shape == seen[0]["x0"].shape == (2, 1, 28, 28)
    torch.testing.assert_close(seen[-1]["x0"], out, atol=1e-5, rtol=0)
    quiet = sample(model, y, steps=6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(quiet, out)  # watching does not change the draw


def test_pipeline_sample_is_sample_with_its_config(toy):
    from dataclasses import replace

    from genlens.diffusion import DiffusionPipeline, SamplingConfig

    model, y = toy.denoiser("class"), torch.tensor([1, 0, 1])
    pipe = DiffusionPipeline.from_model(model, class_names=toy.class_names, steps=3)
    assert pipe.config == SamplingConfig(steps=3) and pipe.sources["steps"] == "user"
    a = pipe.sample(["Bar", "Blob", "Bar"], 1, generator=torch.Generator().manual_seed(1))
    b = sample(model, y, steps=3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    louder = replace(pipe.config, guidance=5.0)
    c = pipe.sample(y, generator=torch.Generator().manual_seed(1), config=louder)
    torch.testing.assert_close(c, pipe.with_config(guidance=5.0).sample(y, generator=torch.Generator().manual_seed(1)))
    assert not torch.allclose(a, c)
    assert pipe.sample("Bar", 2, generator=torch.Generator().manual_seed(1)).shape == (2, 1, 28, 28)
    with pytest.raises(GenlensError, match="must be at least 1"):
        SamplingConfig(steps=0)
    with pytest.raises(GenlensError, match="eta"):
        SamplingConfig(eta=2.0)
    with pytest.raises(GenlensError, match="sampler"):
        pipe.with_config(sampler="euler")


def test_unconditional_model_samples_n_and_rejects_guidance(toy):
    model = toy.denoiser("none")
    out = sample(model, None, n=3, steps=2, guidance=None, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 1, 28, 28)
    with pytest.raises(GenlensError, match="unconditional"):
        sample(model, None, n=3, steps=2, guidance=3.0)


def test_ddim_matches_song_eq12_with_consistent_clipping(toy):
    """Golden maths: DDIM (Song et al. 2021, eq. 12, eta = 0) with x̂_0 clipped to [-1, 1] and ε̂ re-derived
    from the clipped x̂_0, written out by hand on diffusers' "leading" timesteps (T/n spacing, last step to
    ᾱ = 1). Mixing a clipped x̂_0 with the raw ε̂ (diffusers' default) drifts; this pins the fix."""
    from genlens.diffusion.schedule import NoiseSchedule

    model, y, steps = toy.loud(toy.denoiser("class")), torch.tensor([0, 1]), 5
    ours = sample(model, y, sampler="ddim", steps=steps, guidance=None, generator=torch.Generator().manual_seed(4))
    ab = NoiseSchedule().alphas_cumprod().double()
    x = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(4)).double()
    ts = [t * (1000 // steps) for t in reversed(range(steps))]  # 800, 600, 400, 200, 0
    clipped = 0
    with torch.no_grad():
        for i, t in enumerate(ts):
            eps = model(x.float(), torch.tensor(t), y).double()
            a_t = ab[t]
            a_prev = ab[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, dtype=torch.float64)
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            clipped += int((x0.abs() > 1).any())
            x0 = x0.clamp(-1, 1)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    assert clipped >= 2  # the test exercises the clip
    expected = ((x[..., 2:-2, 2:-2] + 1) / 2).clamp(0, 1).float()
    torch.testing.assert_close(ours, expected, atol=2e-4, rtol=0)


def test_dpm_solver_clips_the_data_prediction_to_the_data_range():
    """DPM-Solver++ (data prediction) must clip x̂_0 to [-1, 1] like DDIM/DDPM: dynamic thresholding with
    sample_max_value 1 is exactly that clip."""
    from genlens.diffusion.sample import _dpmpp
    from genlens.diffusion.schedule import NoiseSchedule

    sch = _dpmpp(NoiseSchedule())
    assert sch.config.algorithm_type == "dpmsolver++" and sch.config.thresholding
    x0 = torch.linspace(-3, 3, 2 * 32 * 32).view(2, 1, 32, 32)
    torch.testing.assert_close(sch._threshold_sample(x0), x0.clamp(-1, 1))
