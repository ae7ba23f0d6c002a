"""DeepInversion (Yin et al., "Dreaming to Distill", CVPR 2020, arXiv 1912.08795).

Loss (eq. 2-4): cross-entropy + 0.01 x feature-distribution regulariser (for every BatchNorm, the
L2 distances between the batch mean/variance of its input and its running statistics; first BN x10)
+ 1e-4 x total variation (the "l2" image prior: norms of the four neighbour differences) + 1e-5 x the
L2 norm of the input, both priors on the normalised image as the official code computes them.
Random flips and roll-jitter (30 px at 224, i.e. 30/224 of the size). Adam betas (0.5, 0.9), lr 0.25
with a 100-step warm-up then cosine, per resolution. The official ImageNet recipe (``setting_id=0``) runs
2k steps at half resolution, then 1k at full resolution; here the half-resolution image is zoomed up to
start the second stage. The official lr acts on normalised inputs; we optimise [0, 1] pixels, so the
step is scaled by the model's std. Starts from N(0, 1) in normalised space (mean + std * N in pixels).
Needs BatchNorm layers: on other models it says so and names the alternatives.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from genlens.errors import GenlensError
from genlens.inversion.augment import Compose, Flip, Jitter
from genlens.inversion.hooks import batchnorm_layers
from genlens.inversion.methods.common import build_param, final_size, fraction_of, scale_steps
from genlens.inversion.objectives import bn_stats, class_ce, l2, total_variation
from genlens.inversion.params import NoiseInit
from genlens.inversion.render import AdamConfig, Callback, Stage, render
from genlens.models.handle import ModelHandle


@dataclass(frozen=True, kw_only=True)
class DeepInversionConfig:
    low_res_steps: int = 2000  # at half resolution (0 skips the stage: the official setting_id=1)
    full_res_steps: int = 1000
    lr: float = 0.25  # on normalised inputs (official ImageNet command); 0.2 is the script default
    betas: tuple[float, float] = (0.5, 0.9)
    warmup_steps: int = 100
    bn: float = 0.01  # the paper's range is 0.01-0.05
    first_bn_multiplier: float = 10.0
    tv: float = 1e-4
    l2: float = 1e-5
    jitter: float = 30 / 224
    flip: bool = True

    def __post_init__(self) -> None:
        if self.full_res_steps < 1 or self.low_res_steps < 0:
            raise GenlensError("DeepInversion needs full_res_steps >= 1 and low_res_steps >= 0")


DEEPINVERSION_PRESETS: dict[str, DeepInversionConfig] = {"deepinversion": DeepInversionConfig()}


def check_batchnorm(handle: ModelHandle) -> None:
    if not batchnorm_layers(handle.model):
        raise GenlensError(
            f"DeepInversion needs BatchNorm layers and {handle.name} has none; "
            "use --method pii or --method deepdream for this model"
        )


def run_deepinversion(handle: ModelHandle, targets: torch.Tensor, *, config: DeepInversionConfig,
                      generator: torch.Generator, steps_scale: float = 1.0,
                      callback: Callback | None = None) -> torch.Tensor:
    check_batchnorm(handle)
    final = final_size(handle)
    stages = []
    if config.low_res_steps > 0:
        stages.append(Stage(steps=scale_steps(config.low_res_steps, steps_scale), size=fraction_of(final, 0.5)))
    stages.append(Stage(steps=scale_steps(config.full_res_steps, steps_scale), size=final, margin=0))
    std = sum(handle.std) / len(handle.std)
    param = build_param("pixels", batch=targets.numel(), channels=handle.input_size[0], size=stages[0].size,
                        generator=generator, device=handle.device,
                        init=NoiseInit(kind="normal", center=tuple(handle.mean), scale=tuple(handle.std)))
    objective = (class_ce(targets=targets)
                 + config.bn * bn_stats(first_multiplier=config.first_bn_multiplier)
                 + config.tv * total_variation(kind="deepinversion", space="normalized")
                 + config.l2 * l2(space="normalized"))
    chain = [Jitter(fraction=config.jitter)] + ([Flip()] if config.flip else [])
    result = render(handle, objective, param=param, generator=generator, stages=stages, transforms=Compose(chain),
                    optimizer=AdamConfig(lr=config.lr * std, betas=config.betas), schedule="cosine",
                    warmup_steps=scale_steps(config.warmup_steps, steps_scale), callback=callback)
    return result.images
