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
