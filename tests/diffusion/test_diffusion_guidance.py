"""Classifier-free guidance: the formula, and the doubled batch equals two separate calls."""
import pytest
import torch

from genlens.diffusion import GuidedDenoiser, combine
from genlens.errors import GenlensError


def test_combine_is_the_formula(toy):
    g = torch.Generator().manual_seed(0)
    ec, eu = torch.randn(4, 1, 8, 8, generator=g), torch.randn(4, 1, 8, 8, generator=g)
    for s in (0.0, 1.0, 3.0, 7.5):
        torch.testing.assert_close(combine(ec, eu, s), eu + s * (ec - eu))
    torch.testing.assert_close(combine(ec, eu, 1.0), ec)
    torch.testing.assert_close(combine(ec, eu, 0.0), eu)


@pytest.mark.parametrize("cond_kind", ["class", "text"])
def test_doubled_batch_equals_two_calls(cond_kind, toy):
    model = toy.denoiser(cond_kind)
    with torch.no_grad():  # make the null condition matter
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    t = torch.tensor(400)
    cond = torch.tensor([0, 1, 0]) if cond_kind == "class" else toy.text_cond(3)
    calls = []
    model.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    guided = GuidedDenoiser(model, 3.0)(x, t, cond)
    assert calls == [6]  # ONE forward over the doubled batch
    eps_c = model(x, t, cond)
    eps_u = model(x, t, cond, drop=torch.ones(3, dtype=torch.bool))
    assert not torch.allclose(eps_c, eps_u)
    torch.testing.assert_close(guided, eps_u + 3.0 * (eps_c - eps_u), rtol=1e-4, atol=1e-5)


def test_scale_one_is_the_conditional_model(toy):
    model = toy.denoiser("class")
    x, t, y = torch.randn(2, 1, 32, 32), torch.tensor(50), torch.tensor([0, 1])
    torch.testing.assert_close(GuidedDenoiser(model, 1.0)(x, t, y), model(x, t, y))


def test_guidance_on_unconditional_model_is_one_line_error(toy):
    with pytest.raises(GenlensError, match="unconditional") as err:
        GuidedDenoiser(toy.denoiser("none"), 3.0)
    assert "\n" not in str(err.value)
    GuidedDenoiser(toy.denoiser("none"), None)  # no guidance: fine


def _perturbed(toy):
    model = toy.denoiser("class")
    with torch.no_grad():  # make the null condition matter
        for p in model.parameters():
            p.add_(torch.randn_like(p, generator=torch.Generator().manual_seed(5)) * 0.05)
    return model


def test_guidance_interval_guides_inside_and_is_conditional_outside(toy):
    model = _perturbed(toy)
    x, y = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(4)), torch.tensor([0, 1, 0])
    calls = []
    model.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    limited = GuidedDenoiser(model, 3.0, interval=(150, 700))
    # Inside the interval: exactly the full-guidance prediction (one doubled batch).
    torch.testing.assert_close(limited(x, torch.tensor(400), y), GuidedDenoiser(model, 3.0)(x, torch.tensor(400), y))
    assert calls[0] == 6
    # Outside (above and below): the conditional prediction alone, from ONE undoubled forward.
    for t in (900, 20):
        calls.clear()
        out = limited(x, torch.tensor(t), y)
        assert calls == [3]
        torch.testing.assert_close(out, model(x, torch.tensor(t), y))
    # The bounds are inclusive.
    torch.testing.assert_close(limited(x, torch.tensor(700), y), GuidedDenoiser(model, 3.0)(x, torch.tensor(700), y))


def test_guidance_interval_per_row_timesteps(toy):
    model = _perturbed(toy)
    x, y = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(6)), torch.tensor([1, 0])
    t = torch.tensor([400, 900])  # the first row inside the interval, the second outside
    out = GuidedDenoiser(model, 3.0, interval=(150, 700))(x, t, y)
    full = GuidedDenoiser(model, 3.0)(x, t, y)
    cond = model(x, t, y)
    torch.testing.assert_close(out[0], full[0])
    torch.testing.assert_close(out[1], cond[1])


@pytest.mark.parametrize("interval", [(700, 150), (-1, 10), (0, 1000)])
def test_bad_guidance_interval_is_one_line_error(interval, toy):
    from genlens.diffusion.sample import sample

    with pytest.raises(GenlensError, match="guidance interval") as err:
        sample(toy.denoiser("class"), torch.tensor([0]), steps=2, guidance=3.0, guidance_interval=interval)
    assert "\n" not in str(err.value)


def test_sampling_with_an_interval(toy):
    from genlens.diffusion.sample import sample

    model, y = _perturbed(toy), torch.tensor([0, 1])

    def draw(**kw):
        return sample(model, y, steps=4, guidance=3.0, generator=torch.Generator().manual_seed(0), **kw)

    torch.testing.assert_close(draw(guidance_interval=(0, 999)), draw())  # the whole range: plain guidance
    # An interval that no DDIM-4 timestep (750, 500, 250, 0) falls in: the conditional model alone.
    none_guided = draw(guidance_interval=(760, 999))
    torch.testing.assert_close(none_guided, sample(model, y, steps=4, guidance=1.0,
                                                   generator=torch.Generator().manual_seed(0)))
    assert not torch.allclose(draw(guidance_interval=(300, 999)), draw())
