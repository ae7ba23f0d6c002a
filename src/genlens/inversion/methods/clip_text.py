"""CLIP-only text inversion (DESIGN.md section 4): find images whose image embedding has the largest
cosine similarity with the text embedding of a prompt.

Each step the images are tiled into an ensemble of copies and every copy gets its own random affine
warp (rotation, scale, translation), so only features that survive small geometric changes pay off
(the "CLIP-only" recipes of Ghiasi et al. 2022, arXiv 2201.12961, section 5, and of the
augmentation-ensemble line of work); a small total-variation prior (Mahendran & Vedaldi 2015, eq. 2)
discourages pixel noise, and the canvas grows in stages (render's :class:`Stage`, centering + zoom).

Objective per image b:  L_b = -mean_copies cos(E_img(A_k(x_b)), E_txt(prompt_b)) + tv * TV(x_b).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn as nn

from genlens.errors import GenlensError
from genlens.inversion.augment import Compose, Jitter, RandomAffine, Repeat
from genlens.inversion.methods.common import build_param, fraction_of, scale_steps
from genlens.inversion.objectives import text_cosine, total_variation
from genlens.inversion.params import NoiseInit
from genlens.inversion.render import AdamConfig, Callback, Stage, render
from genlens.models.handle import ModelHandle
from genlens.utils.config_io import to_dict


@dataclass(frozen=True, kw_only=True)
class ClipTextConfig:
    stage_fractions: tuple[float, ...] = (0.5, 0.75, 1.0)  # canvas sizes as fractions of the model's input
    stage_steps: int = 100
    grow_margin: int | None = 0  # 0: zoom the previous image to the new canvas
    lr: float = 0.05
    betas: tuple[float, float] = (0.9, 0.99)
    ensemble: int = 8  # random affine copies per image per step
    degrees: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.06
    padding_mode: Literal["zeros", "reflection", "border"] = "zeros"  # Fashion-MNIST background is black
    jitter: float = 0.0  # extra roll-jitter (fraction of the canvas) before the ensemble
    tv: float = 0.5  # weight of the l2 total variation prior
    param: Literal["pixels", "blur", "fft"] = "blur"
    blur_sigma: float = 0.5
    init_mean: float | tuple[float, ...] = 0.1
    init_scale: float | tuple[float, ...] = 0.2

    def __post_init__(self) -> None:
        if not self.stage_fractions or any(not 0 < f <= 1 for f in self.stage_fractions):
            raise GenlensError("stage_fractions must be a non-empty list of fractions in (0, 1]")
        if self.stage_steps < 1 or self.ensemble < 1:
            raise GenlensError("clip text inversion needs stage_steps >= 1 and ensemble >= 1")
        if self.tv < 0 or self.lr <= 0:
            raise GenlensError("clip text inversion needs tv >= 0 and lr > 0")


CLIP_TEXT_PRESETS: dict[str, ClipTextConfig] = {
    # 28 px grayscale Fashion-MNIST (fmnist-clip): black background, so warps pad with zeros.
    "clip": ClipTextConfig(),
    # natural-image open_clip models (224 px RGB): more stages, reflection padding, grey start.
    "clip-natural": ClipTextConfig(stage_fractions=(0.25, 0.5, 0.75, 1.0), stage_steps=100, lr=0.03,
                                   padding_mode="reflection", degrees=8.0, translate=0.05, jitter=0.05, tv=0.2,
                                   param="blur", blur_sigma=0.75, init_mean=0.5, init_scale=0.2),
}


def default_preset(model) -> str:
    return "clip" if model.input_size[0] == 1 else "clip-natural"


def clip_stages(config: ClipTextConfig, final: tuple[int, int], steps_scale: float) -> list[Stage]:
    return [Stage(steps=scale_steps(config.stage_steps, steps_scale), size=fraction_of(final, f),
                  margin=config.grow_margin) for f in config.stage_fractions]


def clip_transforms(config: ClipTextConfig) -> Compose:
    chain = [Jitter(fraction=config.jitter)] if config.jitter > 0 else []
    chain += [Repeat(copies=config.ensemble),
              RandomAffine(degrees=config.degrees, scale=config.scale, translate=config.translate,
                           padding_mode=config.padding_mode)]
    return Compose(chain)


def _handle(model) -> ModelHandle:
    """render's view of an image-text model: its weights (for eval mode, freezing, device); the
    objective calls ``model.encode_image`` itself, so mean/std here are never used."""
    c, h, w = model.input_size
    module: nn.Module = model.module
    return ModelHandle(model=module, name=model.name, mean=(0.0,) * c, std=(1.0,) * c, input_size=(c, h, w),
                       class_names=(), arch="clip")


def check_prompts(model, prompts: Sequence[str]) -> list[str]:
    if isinstance(prompts, str):
        prompts = [prompts]
    if not prompts:
        raise GenlensError("no prompt given; pass --prompt \"a leather ankle boot\"")
    return [model.check(p) for p in prompts]


def invert_text(model, prompts: Sequence[str], *, n: int = 1, seed: int = 0, steps_scale: float = 1.0,
                config: ClipTextConfig | str | None = None, generator: torch.Generator | None = None,
                callback: Callback | None = None) -> torch.Tensor:
    """``n`` images per prompt, prompt-major: (len(prompts) * n, C, H, W) in [0, 1], on the model's device."""
    if n < 1:
        raise GenlensError(f"n must be >= 1 images per prompt, got {n}")
    prompts = check_prompts(model, prompts)
    if config is None or isinstance(config, str):
        name = config or default_preset(model)
        if name not in CLIP_TEXT_PRESETS:
            raise GenlensError(f"unknown clip preset '{name}'; use one of {', '.join(CLIP_TEXT_PRESETS)}")
        config = CLIP_TEXT_PRESETS[name]
    handle = _handle(model)
    device = handle.device
    gen = generator or torch.Generator().manual_seed(seed)
    target = model.encode_text(prompts).float().to(device).repeat_interleave(n, dim=0)  # (P * n, D)
    c, h, w = model.input_size
    stages = clip_stages(config, (h, w), steps_scale)
    param = build_param(config.param, batch=target.shape[0], channels=c, size=stages[0].size, generator=gen,
                        device=device, blur_sigma=config.blur_sigma,
                        init=NoiseInit(center=config.init_mean, scale=config.init_scale))
    objective = text_cosine(embed=model.encode_image, target=target)
    if config.tv > 0:
        objective = objective + config.tv * total_variation(kind="l2")
    result = render(handle, objective, param=param, generator=gen, stages=stages, transforms=clip_transforms(config),
                    optimizer=AdamConfig(lr=config.lr, betas=config.betas), schedule="cosine", callback=callback)
    return result.images


@torch.no_grad()
def prompt_similarity(model, images01: torch.Tensor, prompts: Sequence[str], *, n: int = 1) -> torch.Tensor:
    """cos(image, its prompt) for prompt-major images (len(prompts) * n,) without augmentation."""
    from genlens.utils.modes import eval_mode

    with eval_mode(model.module):
        img = model.encode_image(images01.to(_handle(model).device)).float()
    txt = model.encode_text(list(prompts)).float().to(img.device).repeat_interleave(n, dim=0)
    return (img * txt).sum(-1).cpu()


@dataclass
class PromptInversionResult:
    images: torch.Tensor  # (len(prompts) * n, C, H, W) in [0, 1], on the CPU, prompt-major
    prompts: list[str]  # one per image
    similarity: list[float]  # cos(image embedding, prompt embedding) per image, no augmentation
    model: str
    preset: str
    config: dict[str, Any]


def run_prompt_inversion(model_name: str, prompts: Sequence[str], n: int = 1, seed: int = 0,
                         steps_scale: float = 1.0, device: str | torch.device = "cpu",
                         callback: Callback | None = None, *, preset: str | None = None) -> PromptInversionResult:
    """What ``genlens invert clip --prompt ...`` calls: load ``model_name`` (``fmnist-clip``, a model folder,
    or ``open_clip:<arch>:<weights file>``), check the prompts, invert, and measure each image's similarity."""
    from genlens.clip.model import load_image_text_model

    if isinstance(prompts, str):
        prompts = [prompts]
    model = load_image_text_model(model_name, device=device)
    prompts = check_prompts(model, prompts)  # fail before any work
    name = preset or default_preset(model)
    if name not in CLIP_TEXT_PRESETS:
        raise GenlensError(f"unknown clip preset '{name}'; use one of {', '.join(CLIP_TEXT_PRESETS)}")
    images = invert_text(model, prompts, n=n, seed=seed, steps_scale=steps_scale, config=name, callback=callback)
    sims = prompt_similarity(model, images, prompts, n=n)
    return PromptInversionResult(images=images.cpu(), prompts=[p for p in prompts for _ in range(n)],
                                 similarity=[float(s) for s in sims], model=model.name, preset=name,
                                 config=to_dict(CLIP_TEXT_PRESETS[name]))
