"""DeepDream-style class visualisation: gradient ascent on the class logit, with jitter and octaves
(Simonyan et al. 2014, arXiv 1312.6034, eq. 1, "class model visualisation"; Mordvintsev et al. 2015,
"Inceptionism", for jitter and octaves).

Each step moves the pixels by ``lr`` times the gradient normalised by its mean absolute value per image
(the classic DeepDream step), then clamps to [0, 1]. Octaves run coarse to fine: each one zooms the
previous image up by ``octave_scale`` (a pure zoom, no fresh noise) and continues.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from genlens.errors import GenlensError
from genlens.inversion.augment import Compose, Jitter
from genlens.inversion.methods.common import build_param, final_size, fraction_of, scale_steps
from genlens.inversion.objectives import class_logit
from genlens.inversion.params import NoiseInit
from genlens.inversion.render import Callback, Stage, render
from genlens.models.handle import ModelHandle


class NormalizedAscent(torch.optim.Optimizer):
    """``p <- p - lr * g / mean|g|`` with the mean taken per image (dim 0 indexes images)."""

    def __init__(self, params, *, lr: float = 0.05, eps: float = 1e-8) -> None:
        super().__init__(params, {"lr": lr, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                scale = g.abs().flatten(1).mean(1).clamp_min(group["eps"]).view(-1, *([1] * (g.ndim - 1)))
                p.sub_(group["lr"] * g / scale)


@dataclass(frozen=True, kw_only=True)
class DeepDreamConfig:
    octaves: int = 3
    octave_scale: float = 1.4  # each octave is this much larger; the last one is the model's input size
    steps_per_octave: int = 100
    lr: float = 0.05  # step in units of the mean absolute gradient
    jitter_pixels: int = 2
    init_scale: float = 0.2  # start from grey 0.5 ± init_scale / 2

    def __post_init__(self) -> None:
        if self.octaves < 1 or self.octave_scale < 1.0 or self.steps_per_octave < 1:
            raise GenlensError("DeepDream needs octaves >= 1, octave_scale >= 1 and steps_per_octave >= 1")


DEEPDREAM_PRESETS: dict[str, DeepDreamConfig] = {"deepdream": DeepDreamConfig()}


def run_deepdream(handle: ModelHandle, targets: torch.Tensor, *, config: DeepDreamConfig,
                  generator: torch.Generator, steps_scale: float = 1.0, callback: Callback | None = None) -> torch.Tensor:
    final = final_size(handle)
    steps = scale_steps(config.steps_per_octave, steps_scale)
    stages = [Stage(steps=steps, size=fraction_of(final, config.octave_scale ** -(config.octaves - 1 - k)), margin=0)
              for k in range(config.octaves)]
    param = build_param("pixels", batch=targets.numel(), channels=handle.input_size[0], size=stages[0].size,
                        generator=generator, device=handle.device,
                        init=NoiseInit(kind="uniform", center=0.5, scale=config.init_scale))
    result = render(handle, class_logit(targets=targets), param=param, generator=generator, stages=stages,
                    transforms=Compose([Jitter(pixels=config.jitter_pixels)]),
                    optimizer=lambda params: NormalizedAscent(params, lr=config.lr), schedule="constant",
                    callback=callback)
    return result.images
