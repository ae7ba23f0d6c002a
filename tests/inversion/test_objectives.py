from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genlens.errors import GenlensError
from genlens.inversion.context import Context, Objective
from genlens.inversion.hooks import capture_bn_stats
from genlens.inversion.objectives import (
    OBJECTIVES,
    bn_stats,
    channel,
    class_ce,
    class_logit,
    direction,
    l2,
    mlp_hidden_unit,
    neuron,
    text_cosine,
    total_variation,
    tv_value,
)
from genlens.inversion.render import evaluate
from genlens.utils.seed import make_generator


def const(values: list[float], name: str, **kw) -> Objective:
    return Objective(lambda ctx: torch.tensor(values), name=name, **kw)


def test_objectives_add_and_scale(toy_nobn) -> None:
    ctx = Context(handle=toy_nobn, image=torch.zeros(2, 1, 16, 16), batch=torch.zeros(2, 1, 16, 16))
    a, b = const([1.0, 2.0], "a", layers=("0",)), const([10.0, 20.0], "b", layers=("0", "1"), needs_bn=True)
    assert torch.equal((a + 2 * b - a / 2)(ctx), torch.tensor([20.5, 41.0]))
    assert torch.equal((-a)(ctx), torch.tensor([-1.0, -2.0]))
    assert torch.equal((0.5 * a + 1)(ctx), torch.tensor([1.5, 2.0]))
    assert torch.equal((1 - a)(ctx), torch.tensor([0.0, -1.0]))
    assert torch.equal(sum([a, b])(ctx), torch.tensor([11.0, 22.0]))
    combo = a + 0.1 * b
    assert combo.layers == ("0", "1") and combo.needs_bn and not a.needs_bn
    scalar = Objective(lambda ctx: torch.tensor(3.0), name="s")
    assert torch.equal(scalar(ctx), torch.tensor([3.0, 3.0]))  # batch-level values are charged to every image
    with pytest.raises(GenlensError, match="shape"):
        const([1.0, 2.0, 3.0], "wrong")(ctx)


def test_tv_golden_values() -> None:
    i, j = torch.meshgrid(torch.arange(3.0), torch.arange(3.0), indexing="ij")
    x = (i + 2 * j).view(1, 1, 3, 3)  # dx = 2, dy = 1, diagonals -1 and -3
    assert tv_value(x, "l1").item() == pytest.approx(3.0)
    assert tv_value(x, "l2").item() == pytest.approx(5.0)
    assert tv_value(x, "deepinversion").item() == pytest.approx(math.sqrt(24) + math.sqrt(6) + 2 + 6)
    assert tv_value(torch.full((2, 3, 5, 5), 0.7), "l2").tolist() == [0.0, 0.0]
    with pytest.raises(GenlensError, match="l1, l2 or deepinversion"):
        total_variation(kind="l3")


@pytest.mark.parametrize("kind", ["l2", "deepinversion"])
def test_tv_gradient_matches_finite_differences(kind: str) -> None:
    x = torch.rand(2, 2, 4, 5, generator=make_generator(0), dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: tv_value(t, kind), (x,))


def test_class_objectives_gradients_on_a_linear_model(handle_factory) -> None:
    torch.manual_seed(0)
    lin = nn.Linear(16, 3)
    handle = handle_factory(nn.Sequential(nn.Flatten(), lin), size=4, classes=3)
    x = torch.rand(2, 1, 4, 4, generator=make_generator(1)).requires_grad_(True)
    targets = [2, "class 0"]
    onehot = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    (g,) = torch.autograd.grad(evaluate(handle, class_ce(targets=targets), x).sum(), x)
    p = handle(x).softmax(-1)
    expected = (p - onehot) @ lin.weight / 0.25  # d CE / d x through (x - 0.5) / 0.25
    torch.testing.assert_close(g.view(2, 16), expected.detach())
    (g,) = torch.autograd.grad(evaluate(handle, class_logit(targets=targets), x).sum(), x)
    torch.testing.assert_close(g.view(2, 16), -(onehot @ lin.weight).detach() / 0.25)
    with pytest.raises(GenlensError, match="targets"):
        evaluate(handle, class_ce(targets=[0, 1, 2]), x)


def test_ce_averages_over_ensemble_copies(toy_nobn) -> None:
    x = torch.rand(2, 1, 16, 16, generator=make_generator(0))
    batch = torch.cat([x, 1 - x])  # copy-major: rows 0, 1 then their second copies
    per_row = nn.functional.cross_entropy(toy_nobn(batch), torch.tensor([1, 3, 1, 3]), reduction="none")
    got = evaluate(toy_nobn, class_ce(targets=[1, 3]), x, batch)
    torch.testing.assert_close(got, per_row.view(2, 2).mean(0))


def test_neuron_channel_direction_read_the_right_numbers(toy_bn) -> None:
    x = torch.rand(3, 1, 16, 16, generator=make_generator(0))
    a = nn.Sequential(*list(toy_bn.model)[:3])(toy_bn.normalize(x)).detach()  # output of layer "2" (ReLU)
    torch.testing.assert_close(evaluate(toy_bn, neuron(layer="2", unit=1), x), -a[:, 1, 8, 8])
    torch.testing.assert_close(evaluate(toy_bn, neuron(layer="2", unit=1, y=0, x=3), x), -a[:, 1, 0, 3])
    torch.testing.assert_close(evaluate(toy_bn, channel(layer="2", unit=3), x), -a[:, 3].mean((1, 2)))
    v = torch.tensor([1.0, -2.0, 0.5, 0.0])
    torch.testing.assert_close(evaluate(toy_bn, direction(layer="2", vector=v), x),
                               -(a * v.view(1, 4, 1, 1)).sum(1).mean((1, 2)))
    with pytest.raises(GenlensError, match="out of range"):
        evaluate(toy_bn, channel(layer="2", unit=4), x)
    with pytest.raises(GenlensError) as err:
        evaluate(toy_bn, channel(layer="nope", unit=0), x)
    assert "\n" not in str(err.value) and "nope" in str(err.value)


def test_mlp_hidden_unit_excludes_the_class_token(tiny_vit) -> None:
    x = torch.rand(2, 1, 16, 16, generator=make_generator(0))
    seen = {}
    hook = tiny_vit.layer("blocks.1.mlp.act").register_forward_hook(lambda m, i, o: seen.setdefault("a", o))
    tiny_vit(x)
    hook.remove()
    a = seen["a"].detach()  # (B, 1 + 16 tokens, 32)
    assert a.shape == (2, 17, 32)
    got = evaluate(tiny_vit, mlp_hidden_unit(block=1, unit=5), x)
    torch.testing.assert_close(got, -a[:, 1:, 5].mean(1))
    assert not torch.allclose(got, -a[:, :, 5].mean(1))
    torch.testing.assert_close(evaluate(tiny_vit, neuron(layer="blocks.1.mlp.act", unit=5), x), -a[:, 1 + 10, 5])
    fc1 = evaluate(tiny_vit, mlp_hidden_unit(block=1, unit=5, site="fc1"), x)
    assert not torch.allclose(fc1, got)  # before the GELU
    with pytest.raises(GenlensError, match="blocks go 0..1"):
        evaluate(tiny_vit, mlp_hidden_unit(block=7, unit=0), x)


def test_mlp_hidden_unit_on_a_mixer(handle_factory) -> None:
    from timm.models.mlp_mixer import MlpMixer

    torch.manual_seed(0)
    mixer = handle_factory(MlpMixer(num_classes=3, img_size=16, in_chans=1, patch_size=4, num_blocks=2, embed_dim=8),
                        classes=3)
    x = torch.rand(2, 1, 16, 16, generator=make_generator(0))
    value = evaluate(mixer, mlp_hidden_unit(block=0, unit=2), x)
    assert value.shape == (2,) and torch.isfinite(value).all()


def test_text_cosine_is_minus_one_at_the_target(toy_nobn) -> None:
    x = torch.rand(2, 1, 16, 16, generator=make_generator(0))
    obj = text_cosine(embed=lambda b: b.flatten(1), target=x.flatten(1))
    torch.testing.assert_close(evaluate(toy_nobn, obj, x), torch.tensor([-1.0, -1.0]))
    assert evaluate(toy_nobn, obj, 1 - x).gt(-1.0).all()


def match_running_stats(handle, x: torch.Tensor) -> None:
    """Set every BN's running statistics to those of its input on ``x``, first layer first."""
    bns = [m for m in handle.model.modules() if isinstance(m, nn.BatchNorm2d)]
    for k in range(len(bns)):
        with torch.no_grad(), capture_bn_stats(handle.model) as records:
            handle(x)
        bns[k].running_mean.copy_(records[k].mean)
        bns[k].running_var.copy_(records[k].var)


def test_bn_stats_is_zero_on_data_matching_the_running_stats(toy_bn) -> None:
    x = torch.rand(6, 1, 16, 16, generator=make_generator(0))
    match_running_stats(toy_bn, x)
    assert evaluate(toy_bn, bn_stats(), x).abs().max() < 1e-5
    assert evaluate(toy_bn, bn_stats(), x * 0.5).min() > 0.01
    last = [m for m in toy_bn.model.modules() if isinstance(m, nn.BatchNorm2d)][-1]
    last.running_var.add_(torch.tensor([0.3, 0.4, 0.0, 0.0, 0.0, 0.0]))  # off by a vector of norm 0.5
    torch.testing.assert_close(evaluate(toy_bn, bn_stats(), x), torch.full((6,), 0.5), atol=1e-5, rtol=0)


def test_bn_stats_weights_the_first_layer(toy_bn) -> None:
    x = torch.rand(4, 1, 16, 16, generator=make_generator(0))
    with torch.no_grad(), capture_bn_stats(toy_bn.model) as records:
        toy_bn(x)
    first = records[0]
    term = (first.mean - first.running_mean).norm() + (first.var - first.running_var).norm()
    diff = evaluate(toy_bn, bn_stats(first_multiplier=10.0), x) - evaluate(toy_bn, bn_stats(first_multiplier=1.0), x)
    torch.testing.assert_close(diff, torch.full((4,), 9 * term.item()), rtol=1e-5, atol=1e-5)


def test_bn_stats_needs_batchnorm_and_l2(toy_nobn) -> None:
    x = torch.rand(2, 1, 16, 16, generator=make_generator(0))
    with pytest.raises(GenlensError, match="no BatchNorm2d"):
        evaluate(toy_nobn, bn_stats(), x)
    torch.testing.assert_close(evaluate(toy_nobn, l2(), x), ((x - 0.5) / 0.25).flatten(1).norm(dim=1))
    torch.testing.assert_close(evaluate(toy_nobn, l2(space="pixels"), x), x.flatten(1).norm(dim=1))


def test_registry_lists_every_objective() -> None:
    assert set(OBJECTIVES.available()) == {
        "bn_stats", "channel", "class_ce", "class_logit", "direction", "l2", "mlp_hidden_unit", "neuron",
        "text_cosine", "tv",
    }
    assert OBJECTIVES.create("tv", kind="l1").name == "tv(l1)"
