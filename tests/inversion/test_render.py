from __future__ import annotations

import pytest
import torch

from genlens.errors import GenlensError
from genlens.inversion.augment import Compose, Jitter, Repeat
from genlens.inversion.context import Objective
from genlens.inversion.objectives import bn_stats, channel, class_ce
from genlens.inversion.params import PixelParam
from genlens.inversion.render import AdamConfig, RenderDiverged, Stage, render
from genlens.utils.seed import make_generator


def pixels(batch: int = 2, size: int = 16, seed: int = 0) -> PixelParam:
    return PixelParam(batch=batch, channels=1, size=size, generator=make_generator(seed))


def no_hooks(model: torch.nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_render_lowers_the_loss_and_reports_each_step(toy_bn) -> None:
    rows = []
    result = render(toy_bn, class_ce(targets=[0, 3]) + 0.01 * bn_stats(), param=pixels(), generator=make_generator(0),
                    stages=30, transforms=Compose([Jitter(pixels=1), Repeat(copies=2)]),
                    optimizer=AdamConfig(lr=0.05), callback=rows.append)
    assert result.images.shape == (2, 1, 16, 16) and 0 <= result.images.min() and result.images.max() <= 1
    assert len(result.history) == len(rows) == 30
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert {"step", "stage", "size", "lr", "loss", "total_steps", "losses", "image"} <= set(rows[0])
    assert rows[0]["losses"].shape == (2,) and rows[0]["image"].shape == (2, 1, 16, 16)
    assert no_hooks(toy_bn.model)


def test_stages_grow_the_canvas_and_restart_the_cosine_schedule(toy_nobn) -> None:
    stages = [Stage(steps=4, size=8), Stage(steps=4, size=12, margin=None), Stage(steps=4, size=16, margin=0)]
    result = render(toy_nobn, class_ce(targets=1), param=pixels(size=8), generator=make_generator(0), stages=stages,
                    optimizer=AdamConfig(lr=0.1))
    lrs = [r["lr"] for r in result.history]
    assert [r["size"] for r in result.history[::4]] == [(8, 8), (12, 12), (16, 16)]
    assert lrs[0] == lrs[4] == lrs[8] == pytest.approx(0.1)  # restarted per stage
    assert lrs[3] < lrs[2] < lrs[1] < lrs[0]
    assert result.images.shape == (2, 1, 16, 16)


def test_render_is_deterministic_for_a_seed(toy_bn) -> None:
    def run(seed: int) -> torch.Tensor:
        return render(toy_bn, class_ce(targets=[1, 2]), param=pixels(seed=seed), generator=make_generator(seed),
                      stages=5, transforms=Compose([Jitter(pixels=2), Repeat(copies=3)])).images

    assert torch.equal(run(4), run(4)) and not torch.equal(run(4), run(5))


def test_render_stops_on_nan_with_a_one_line_error_and_the_last_good_image(toy_nobn) -> None:
    calls = {"n": 0}

    def fn(ctx) -> torch.Tensor:
        calls["n"] += 1
        loss = ctx.image.mean(dim=(1, 2, 3)) + ctx.logits.mean(1)
        return loss * float("nan") if calls["n"] == 4 else loss

    seen = []
    with pytest.raises(RenderDiverged) as err:
        render(toy_nobn, Objective(fn, name="nan-at-step-3"), param=pixels(), generator=make_generator(0), stages=10,
               callback=lambda row: seen.append(row["image"]))
    e = err.value
    assert isinstance(e, GenlensError) and "\n" not in str(e)
    assert "step 3 of 10" in str(e) and "nan" in str(e)
    assert e.step == 3 and len(e.history) == 3
    assert e.images.shape == (2, 1, 16, 16) and torch.isfinite(e.images).all()
    assert not torch.equal(e.images, seen[-1])  # the (finite) images of step 3, newer than step 2's
    assert no_hooks(toy_nobn.model)


def test_render_restores_the_model_state_and_checks_layers(toy_bn, toy_nobn) -> None:
    toy_bn.model.train()
    render(toy_bn, channel(layer="2", unit=0), param=pixels(), generator=make_generator(0), stages=2)
    assert toy_bn.model.training and all(p.requires_grad for p in toy_bn.model.parameters())
    assert no_hooks(toy_bn.model)
    with pytest.raises(GenlensError, match="no layer 'missing'"):
        render(toy_bn, channel(layer="missing", unit=0), param=pixels(), generator=make_generator(0), stages=1)
    with pytest.raises(GenlensError, match="no BatchNorm2d"):
        render(toy_nobn, bn_stats(), param=pixels(), generator=make_generator(0), stages=1)


def test_a_nan_image_keeps_the_previous_images(toy_nobn) -> None:
    class Poison(torch.optim.SGD):
        calls = 0

        def step(self, closure=None):
            super().step(closure)
            Poison.calls += 1
            if Poison.calls == 2:
                for group in self.param_groups:
                    for p in group["params"]:
                        p.data[0, 0, 0, 0] = float("inf")

    seen = []
    param = pixels()
    param.post_step = lambda: None  # no clamp, so the Inf survives
    with pytest.raises(RenderDiverged, match="step 2 of 5 \\(image is not finite\\)") as err:
        render(toy_nobn, class_ce(targets=0), param=param, generator=make_generator(0), stages=5,
               optimizer=lambda ps: Poison(ps, lr=0.1), callback=lambda row: seen.append(row["image"]))
    assert torch.equal(err.value.images, seen[-1]) and torch.isfinite(err.value.images).all()
