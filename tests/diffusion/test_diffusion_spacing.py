"""Timestep spacing: which training timesteps a few-step sampler visits (genlens.diffusion.spacing), DDIM on a
custom sequence (genlens.diffusion.ddim), and the per-model recommendation the CLI uses."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from genlens.diffusion import sample
from genlens.diffusion.config import SamplingConfig
from genlens.diffusion.ddim import SpacedDDIMScheduler
from genlens.diffusion.io import load_diffusion, read_sampling
from genlens.diffusion.schedule import NoiseSchedule
from genlens.diffusion.spacing import TimestepSpacing, set_spaced_timesteps, spaced_timesteps
from genlens.errors import GenlensError


def test_spacings_golden_and_against_diffusers():
    assert spaced_timesteps("leading", 20, 1000) == list(range(950, -1, -50))
    assert spaced_timesteps("power:1", 5, 1000) == [999, 749, 500, 250, 0]
    # τ_i = round(999 (i/4)^2): 0, 62.4, 249.75, 561.9, 999
    assert spaced_timesteps("quadratic", 5, 1000) == [999, 562, 250, 62, 0]
    assert spaced_timesteps("power:1.5", 3, 1000) == [999, 353, 0]  # 999 · 0.5^1.5 = 353.2
    assert spaced_timesteps("power:3", 1000, 1000) == list(range(999, -1, -1))  # S = T: every timestep
    for kind in ("leading", "trailing"):  # diffusers' own sequences are the oracle
        ref = DDIMScheduler(**NoiseSchedule().scheduler_config(), timestep_spacing=kind)
        ref.set_timesteps(20)
        assert spaced_timesteps(kind, 20, 1000) == ref.timesteps.tolist()


@pytest.mark.parametrize("text, message", [("cubic", "unknown"), ("power:abc", "a number after"),
                                           ("power:0", "out of range"), ("power:nan", "out of range")])
def test_bad_spacing_is_one_line_error(text, message):
    with pytest.raises(GenlensError, match=message) as e:
        TimestepSpacing.parse(text)
    assert "\n" not in str(e.value)


def test_spacing_that_repeats_timesteps_says_how_many_steps_fit():
    with pytest.raises(GenlensError, match=r"at most \d+ steps") as e:
        spaced_timesteps("power:4", 200, 1000)
    most = int(str(e.value).split("at most ")[1].split()[0])
    assert len(spaced_timesteps("power:4", most, 1000)) == most
    with pytest.raises(GenlensError):
        spaced_timesteps("power:4", most + 1, 1000)
    with pytest.raises(GenlensError, match="1..1000"):
        spaced_timesteps("leading", 0, 1000)


def test_parse_round_trip():
    assert str(TimestepSpacing.parse("quadratic")) == "power:2"
    assert str(TimestepSpacing.parse(" Power:1.50 ")) == "power:1.5"
    assert TimestepSpacing.parse(None).is_default and TimestepSpacing.parse("").is_default
    assert str(TimestepSpacing.parse("trailing")) == "trailing"


def test_custom_sequence_ddim_matches_song_eq12(toy):
    """Golden maths: DDIM (eq. 12, η = 0, clipped x̂_0 and the ε̂ re-derived from it) between consecutive
    entries of a quadratic sequence, written out by hand."""
    model, y, steps = toy.loud(toy.denoiser("class")), torch.tensor([0, 1]), 5
    ours = sample(model, y, sampler="ddim", steps=steps, guidance=None, timestep_spacing="quadratic",
                  generator=torch.Generator().manual_seed(4))
    ab = NoiseSchedule().alphas_cumprod().double()
    x = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(4)).double()
    ts = [999, 562, 250, 62, 0]
    with torch.no_grad():
        for i, t in enumerate(ts):
            eps = model(x.float(), torch.tensor(t), y).double()
            a_t = ab[t]
            a_prev = ab[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, dtype=torch.float64)
            x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1, 1)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    expected = ((x[..., 2:-2, 2:-2] + 1) / 2).clamp(0, 1).float()
    torch.testing.assert_close(ours, expected, atol=2e-4, rtol=0)


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_custom_sequence_step_equals_diffusers_on_its_own_sequence(toy, eta):
    """On diffusers' trailing sequence (even stride, so its own step is right) the custom-sequence step gives
    the same x_prev, with and without the stochastic term (eq. 16, same noise)."""
    cfg = NoiseSchedule().scheduler_config()
    ref = DDIMScheduler(**cfg, timestep_spacing="trailing")
    ref.set_timesteps(10)
    ours = SpacedDDIMScheduler(**cfg)
    ours.set_timesteps(timesteps=ref.timesteps.tolist())
    model, y = toy.denoiser("class"), torch.tensor([0, 1])
    x_ref = x_ours = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for t in ref.timesteps:
            noise = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(int(t)))
            kw = dict(eta=eta, use_clipped_model_output=True, variance_noise=noise if eta else None)
            x_ref = ref.step(model(x_ref, t, y), t, x_ref, **kw).prev_sample
            x_ours = ours.step(model(x_ours, t, y), t, x_ours, **kw).prev_sample
    torch.testing.assert_close(x_ours, x_ref, atol=1e-5, rtol=1e-5)


def test_leading_spacing_is_diffusers_unchanged(toy):
    """The default path never touches the custom step: the scheduler is diffusers' own after set_timesteps."""
    sch = SpacedDDIMScheduler(**NoiseSchedule().scheduler_config())
    assert isinstance(sch, DDIMScheduler)
    assert set_spaced_timesteps(sch, 20, None) == list(range(950, -1, -50)) and sch._previous is None
    model, y = toy.denoiser("class"), torch.tensor([1])
    a = sample(model, y, steps=4, generator=torch.Generator().manual_seed(2))
    b = sample(model, y, steps=4, timestep_spacing="leading", generator=torch.Generator().manual_seed(2))
    c = sample(model, y, steps=4, timestep_spacing="power:1.5", generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("sampler", ["dpm++", "ddpm"])
def test_other_samplers_visit_the_spaced_timesteps(toy, sampler):
    from genlens.diffusion.sample import SAMPLERS

    sch = SAMPLERS.create(sampler, schedule=NoiseSchedule())
    assert set_spaced_timesteps(sch, 6, "power:1.5") == spaced_timesteps("power:1.5", 6, 1000)
    seen = []
    out = sample(toy.denoiser("class"), torch.tensor([0, 1]), sampler=sampler, steps=6, timestep_spacing="power:1.5",
                 generator=torch.Generator().manual_seed(0), callback=seen.append)
    assert [s["t"] for s in seen] == spaced_timesteps("power:1.5", 6, 1000)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_sampling_configs_carry_a_spacing():
    assert SamplingConfig(timestep_spacing="Quadratic").timestep_spacing == "power:2"
    assert SamplingConfig().timestep_spacing == "leading"
    assert read_sampling({"timestep_spacing": "power:1.5"}, where="x")[0] == {"timestep_spacing": "power:1.5"}
    for bad in ({"timestep_spacing": 1.5}, {"timestep_spacing": "cubic"}):
        with pytest.raises(GenlensError) as e:
            read_sampling(bad, where="config.json sampling")
        assert "\n" not in str(e.value)


def test_cli_records_sets_and_refuses_spacings(run, model_folder, sample_bar, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_folder("class"), folder)
    plain, img_plain = sample_bar(folder, "plain")
    assert (plain["timestep_spacing"], plain["sources"]["timestep_spacing"]) == ("leading", "default")
    flag, img_flag = sample_bar(folder, "flag", "--timestep-spacing", "quadratic")
    assert (flag["timestep_spacing"], flag["sources"]["timestep_spacing"]) == ("power:2", "user")
    assert not np.array_equal(img_plain, img_flag)
    code, stdout, err = run(["defaults", folder, "--timestep-spacing", "power:2", "--json"])
    assert code == 0, err
    assert json.loads(stdout)["timestep_spacing"] == "power:2"
    assert load_diffusion(folder).sampling["timestep_spacing"] == "power:2"  # the manifest still verifies
    by_model, img_model = sample_bar(folder, "model")
    assert (by_model["timestep_spacing"], by_model["sources"]["timestep_spacing"]) == ("power:2", "model")
    np.testing.assert_array_equal(img_model, img_flag)
    code, stdout, _ = run(["defaults", folder, "--timestep-spacing", "leading", "--json"])
    assert code == 0 and "timestep_spacing" not in json.loads(stdout)
    code, _, err = run(["sample", folder, "--class", "Bar", "--timestep-spacing", "cubic", "--out", tmp_path / "x"])
    assert code != 0 and "timestep spacing 'cubic' is unknown" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["sample", folder, "--class", "Bar", "--steps", "900", "--timestep-spacing", "power:5",
                        "--out", tmp_path / "y"])
    assert code != 0 and "at most" in err and len(err.strip().splitlines()) == 1
