"""Every diffusion config in one leaf module: the denoiser (:class:`UNetConfig`), the noise schedule
(:class:`NoiseSchedule`), training (:class:`DiffusionTrainConfig`) and sampling (:class:`SamplingConfig`).

Nothing here imports the rest of :mod:`genlens.diffusion`, so every other module may import it. Configs are
frozen dataclasses, checked at construction (one-line :class:`~genlens.errors.GenlensError` naming the fix),
and travel as JSON through :mod:`genlens.utils.config_io`; the migrations below say how older files map onto
today's fields.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from genlens.data.captions import LATEST_ROUND, check_round
from genlens.errors import GenlensError
from genlens.utils.config_io import Migration

CONDS = ("class", "text", "none", "layout")
CAPTIONS_FROM = ("classes", "images")  # where a text run's captions come from (DiffusionTrainConfig.captions_from)
LAYOUT_MODES = ("blobs", "masks")  # genlens.data.layout.render_layout
IMAGE_SIZE = 28  # Fashion-MNIST
PAD = 2  # 28 + 2·2 = 32: three resolutions (32, 16, 8) divide evenly
BETA_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


# ----------------------------------------------------------------------------------------- checks
def check_interval(interval: tuple[int, int] | None, num_train_timesteps: int = 1000) -> tuple[int, int] | None:
    """An interval [t_lo, t_hi] in training timesteps, checked: 0 <= t_lo <= t_hi < T."""
    if interval is None:
        return None
    lo, hi = (int(v) for v in interval)
    if not 0 <= lo <= hi < num_train_timesteps:
        raise GenlensError(f"guidance interval {lo},{hi} must satisfy 0 <= lo <= hi < {num_train_timesteps} "
                           f"(training timesteps; e.g. 150,700)")
    return lo, hi


def check_guide_weight(weight: float) -> float:
    """w of autoguidance (Karras et al. 2024, eq. 2): 1 = the good model alone, > 1 extrapolates away from the
    guide (they use 1.2–3)."""
    w = float(weight)
    if not w >= 1.0 or w > 20.0:
        raise GenlensError(f"guide weight {weight} must lie in [1, 20] (1 = no autoguidance; about 2 is a good start)")
    return w


# ----------------------------------------------------------------------------------------- timestep spacing
SPACING_KINDS = ("leading", "trailing", "power")
SPACING_ALIASES = {"quadratic": "power:2", "linear": "power:1"}
SPACING_HELP = "leading (diffusers' default), trailing, power:RHO (e.g. power:1.5) or quadratic (power:2)"


@dataclass(frozen=True)
class TimestepSpacing:
    """Which training timesteps a few-step sampler visits (:mod:`genlens.diffusion.spacing`): ``kind`` in
    ``SPACING_KINDS``; ``power`` ρ for ``kind="power"``."""

    kind: str = "leading"
    power: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in SPACING_KINDS:
            raise GenlensError(f"timestep spacing '{self.kind}' is unknown; use {SPACING_HELP}")
        if self.kind == "power" and not (math.isfinite(self.power) and 0.1 <= self.power <= 10):
            raise GenlensError(f"timestep spacing power {self.power:g} is out of range; use a power in [0.1, 10] "
                               "(1 = even, 2 = quadratic)")

    @classmethod
    def parse(cls, text: str | TimestepSpacing | None) -> TimestepSpacing:
        """``"leading"``, ``"trailing"``, ``"power:1.5"``, ``"quadratic"`` (None: leading)."""
        if isinstance(text, TimestepSpacing):
            return text
        if text is None or not str(text).strip():
            return cls()
        word = SPACING_ALIASES.get(str(text).strip().lower(), str(text).strip().lower())
        if word.startswith("power"):
            _, _, rho = word.partition(":")
            try:
                return cls("power", float(rho))
            except ValueError:
                raise GenlensError(f"timestep spacing '{text}' needs a number after 'power:', e.g. power:1.5") from None
        if word not in ("leading", "trailing"):
            raise GenlensError(f"timestep spacing '{text}' is unknown; use {SPACING_HELP}")
        return cls(word)

    def __str__(self) -> str:
        return f"power:{self.power:g}" if self.kind == "power" else self.kind

    @property
    def is_default(self) -> bool:
        return self.kind == "leading"


# ----------------------------------------------------------------------------------------- network
@dataclass(frozen=True)
class UNetConfig:
    """Architecture of the denoiser; stored in checkpoints and in the model folder's config.json."""

    cond: str = "class"  # class | text | none
    num_classes: int = 10
    block_out_channels: tuple[int, ...] = (32, 64, 64)
    layers_per_block: int = 2
    attention_head_dim: int = 8
    norm_num_groups: int = 16
    attention_levels: tuple[bool, ...] = (False, True, True)  # (cross-)attention per resolution
    text_dim: int = 384  # MiniLM token embeddings
    max_tokens: int = 16
    # Text only: cross-attention also sees the prompt's mean token (MiniLM's sentence pooling) in slot 0,
    # so paraphrases, which sentence-BERT places together, condition alike (like Imagen's pooled embedding).
    pooled_token: bool = False
    in_channels: int = 1  # image channels (1 grey, 3 rgb); a layout model's UNet also sees the layout channels
    sample_size: int = IMAGE_SIZE + 2 * PAD
    pad: int = PAD  # background border added around each training image (28 + 2·2 = 32; scenes: 0)
    # Layout only (Make-A-Scene, Gafni et al. 2022): the scene layout as num_classes blob (or mask) channels
    # concatenated to x_t; the most objects a training scene held (more is refused at sampling).
    max_items: int = 0
    layout_mode: str = "blobs"

    def __post_init__(self) -> None:
        if self.cond not in CONDS:
            raise GenlensError(f"conditioning '{self.cond}' is unknown; use {', '.join(CONDS)}")
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        object.__setattr__(self, "attention_levels", tuple(bool(a) for a in self.attention_levels))
        if len(self.attention_levels) != len(self.block_out_channels):
            raise GenlensError("attention_levels needs one flag per entry of block_out_channels")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise GenlensError(f"every block width {self.block_out_channels} must be a multiple of "
                               f"norm_num_groups={self.norm_num_groups}")
        if self.cond in ("class", "layout") and self.num_classes < 1:
            raise GenlensError(f"a {self.cond}-conditional denoiser needs num_classes >= 1")
        if self.cond == "layout" and self.max_items < 1:
            raise GenlensError("a layout-conditional denoiser needs max_items >= 1 (the most objects per scene)")
        if self.layout_mode not in LAYOUT_MODES:
            raise GenlensError(f"layout_mode '{self.layout_mode}' is unknown; use {' or '.join(LAYOUT_MODES)}")
        if not 0 <= self.pad < self.sample_size // 2:
            raise GenlensError(f"pad {self.pad} must be in [0, {self.sample_size // 2}) for sample_size {self.sample_size}")
        check_canvas(self.sample_size - 2 * self.pad, self.pad, len(self.block_out_channels))

    @property
    def cond_channels(self) -> int:
        """Extra UNet input channels: the layout's per-class channels (layout models), else 0."""
        return self.num_classes if self.cond == "layout" else 0

    @classmethod
    def preset(cls, name: str, cond: str = "class", **kw: Any) -> UNetConfig:
        """Named sizes (:data:`PRESETS`; parameters and CPU cost in :mod:`genlens.utils.preset_costs`): ``base`` (alias ``32``)
        and ``small`` (the shipped models) for 28–32 px, ``64`` and ``128`` for larger canvases, ``tiny`` (tests)."""
        name = SIZE_ALIASES.get(name, name)
        if name == "tiny":
            return cls.tiny(cond, **kw)
        if name not in PRESETS:
            raise GenlensError(f"denoiser size '{name}' is unknown; use one of: "
                               f"{', '.join([*PRESETS, *SIZE_ALIASES, 'tiny'])}")
        return cls(cond=cond, **{**PRESETS[name], **kw})

    @classmethod
    def tiny(cls, cond: str = "class", **kw: Any) -> UNetConfig:
        """A few thousand parameters: for tests and smoke runs only."""
        base = dict(block_out_channels=(8, 16), layers_per_block=1, attention_head_dim=4, norm_num_groups=4,
                    attention_levels=(False, cond == "text"), max_tokens=8)  # text needs one cross-attention
        return cls(cond=cond, **{**base, **kw})


# Parameters and one-thread CPU cost of each: genlens.utils.preset_costs (measured by experiments/presets.py).
PRESETS: dict[str, dict[str, Any]] = {
    "base": {},  # 3 resolutions (32, 16, 8 at 32 px)
    "small": dict(block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=8,
                  attention_levels=(False, False, True)),
    # 4 resolutions (64, 32, 16, 8): self-attention at 16 and 8 px, as base has at 16 and 8
    "64": dict(block_out_channels=(32, 64, 128, 128), attention_levels=(False, False, True, True)),
    # 5 resolutions (128 ... 8): the 64 preset with one more level in front
    "128": dict(block_out_channels=(32, 64, 64, 128, 128), attention_levels=(False, False, False, True, True)),
}
SIZE_ALIASES = {"32": "base"}


def size_for(side: int) -> str:
    """The preset for ``side``-pixel images when ``--size`` is not given: base up to 32 px, then 64, then 128."""
    return "base" if side <= 32 else "64" if side <= 64 else "128"


def canvas_fields(side: int, channels: int, size: str | None) -> dict[str, int]:
    """The UNet fields that follow ``side``-px images of ``channels`` for preset ``size`` (None: ``size_for``):
    channels, canvas and padding (28 px is padded to 32); a side the preset cannot halve is a one-line error."""
    name = SIZE_ALIASES.get(size or size_for(side), size or size_for(side))
    pad = 2 if side == 28 else 0
    check_canvas(side, pad, 2 if name == "tiny" else len(UNetConfig.preset(name).block_out_channels))
    return {"in_channels": channels, "sample_size": side + 2 * pad, "pad": pad}


def data_fields(side: int, channels: int, cond: str, *, size: str | None, data: Any = None) -> dict[str, int]:
    """UNet fields that follow the data (:func:`canvas_fields`) and, for layouts, the most objects a scene of
    ``data`` holds (data without ground-truth layouts is a one-line error)."""
    out = canvas_fields(side, channels, size)
    if cond == "layout" and data is not None:
        if not hasattr(data, "classes"):
            raise GenlensError("--cond layout needs scenes with ground-truth layouts; pass --data fashion-scenes "
                               "(or fashion-scenes-rgb)")
        out["max_items"] = int(data.classes.shape[1])
    return out


def check_canvas(side: int, pad: int, levels: int) -> None:
    """``side`` px (plus ``pad`` on each side) must halve evenly ``levels - 1`` times (the UNet's downsamplings)."""
    need = 2 ** (levels - 1)
    if (side + 2 * pad) % need:
        up = -(-side // need) * need
        raise GenlensError(f"--resolution {side} does not fit the denoiser's {levels - 1} downsamplings; use a "
                           f"multiple of {need} (e.g. --resolution {up})")


# ----------------------------------------------------------------------------------------- noise schedule
@dataclass(frozen=True)
class NoiseSchedule:
    """The forward process's β schedule (:mod:`genlens.diffusion.schedule`)."""

    beta_schedule: str = "linear"  # linear | cosine
    num_train_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        if self.beta_schedule not in BETA_SCHEDULES:
            raise GenlensError(f"beta schedule '{self.beta_schedule}' is unknown; use linear or cosine")
        if self.num_train_timesteps < 2:
            raise GenlensError("num_train_timesteps must be at least 2 (DDPM uses 1000)")

    def scheduler_config(self) -> dict[str, Any]:
        """Keyword arguments every diffusers scheduler of ours is built from."""
        return {"num_train_timesteps": self.num_train_timesteps, "beta_start": self.beta_start,
                "beta_end": self.beta_end, "beta_schedule": BETA_SCHEDULES[self.beta_schedule],
                "prediction_type": "epsilon"}

    def train_scheduler(self):
        """The ``DDPMScheduler`` that defines the training noise."""
        from diffusers import DDPMScheduler

        return DDPMScheduler(**self.scheduler_config())

    def alphas_cumprod(self):
        """ᾱ_t for t = 0 … T−1 (float32)."""
        return self.train_scheduler().alphas_cumprod.float()


# ----------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class DiffusionTrainConfig:
    unet: UNetConfig = field(default_factory=UNetConfig)
    schedule: NoiseSchedule = field(default_factory=NoiseSchedule)
    steps: int = 20_000
    batch_size: int = 128
    lr: float = 2e-4
    warmup_steps: int = 500
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    cond_dropout: float = 0.1
    grad_clip: float | None = 1.0
    mixed_precision: str = "no"  # no | bf16 (autocast)
    seed: int = 0
    init_from: str | None = None  # warm start: a diffusion model folder with the same UNet and schedule
    data: str = "fashion-mnist"  # the data spec trained on (genlens.data.spec)
    hflip: bool = False  # random horizontal flips of the training images (drawn from the loss's generator)
    # Text runs: the caption round trained on (genlens.data.captions.ROUNDS); prompt anchoring retrieves only
    # from this round's captions, never from captions the model did not see.
    caption_round: int = LATEST_ROUND
    # Text runs: "classes" (each image draws a caption of its Fashion-MNIST class from the round) or "images"
    # (each image has its own captions, e.g. a captioned folder; see genlens.diffusion.text.caption_table).
    captions_from: str = "classes"

    def __post_init__(self) -> None:
        object.__setattr__(self, "caption_round", check_round(self.caption_round))
        if self.captions_from not in CAPTIONS_FROM:
            raise GenlensError(f"captions_from '{self.captions_from}' is unknown; use {' or '.join(CAPTIONS_FROM)}")
        if not 0.0 <= self.cond_dropout < 1.0:
            raise GenlensError(f"cond_dropout must be in [0, 1), got {self.cond_dropout} (0.1 is usual)")
        if self.mixed_precision not in ("no", "bf16"):
            raise GenlensError(f"mixed_precision '{self.mixed_precision}' is not supported here; use no or bf16")


# ----------------------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class SamplingConfig:
    """How to draw samples; one frozen value, so a sweep is ``dataclasses.replace(config, guidance=s)``.

    ``sampler``: ddim | dpm++ | ddpm (:data:`genlens.diffusion.sample.SAMPLERS`); ``steps``: sampling steps
    (None: the sampler's default, 20; ddpm 1000); ``eta``: DDIM's η (0: deterministic given x_T);
    ``guidance``: classifier-free guidance s (None or 1: the conditional model alone); ``guidance_interval``:
    training timesteps [lo, hi] where s applies (None: every step; Kynkäänniemi et al. 2024);
    ``timestep_spacing``: which timesteps the steps visit (:class:`TimestepSpacing`); ``guide_model``: an
    autoguidance guide folder (absolute, or relative to the model folder's parent) or None, with weight
    ``guide_weight`` (Karras et al. 2024); ``anchors``: text prompts are also conditioned on their K nearest
    training captions (:mod:`genlens.diffusion.anchors`; 0 = the prompt alone)."""

    sampler: str = "ddim"
    steps: int | None = None
    eta: float = 0.0
    guidance: float | None = 3.0
    guidance_interval: tuple[int, int] | None = None
    timestep_spacing: str = "leading"
    guide_model: str | None = None
    guide_weight: float = 2.0
    anchors: int = 8

    def __post_init__(self) -> None:
        if self.steps is not None and int(self.steps) < 1:
            raise GenlensError(f"steps must be at least 1, got {self.steps}")
        if not 0.0 <= float(self.eta) <= 1.0:
            raise GenlensError(f"eta must be in [0, 1] (0 = deterministic DDIM), got {self.eta}")
        if self.guidance is not None and not float(self.guidance) >= 0:
            raise GenlensError(f"guidance must be >= 0, got {self.guidance} (1 = no guidance, 3 is a good start)")
        object.__setattr__(self, "guidance_interval", check_interval(self.guidance_interval, 10**9))
        object.__setattr__(self, "timestep_spacing", str(TimestepSpacing.parse(self.timestep_spacing)))
        if self.guide_model is not None and not str(self.guide_model).strip():
            raise GenlensError("guide_model must be a folder or None; pass --guide-model FOLDER or none")
        object.__setattr__(self, "guide_weight", check_guide_weight(self.guide_weight))
        if int(self.anchors) < 0:
            raise GenlensError(f"anchors must be >= 0, got {self.anchors} (0 = condition on the prompt alone)")

    @property
    def autoguided(self) -> bool:
        """A guide is named and its weight is not 1 (w = 1 is the good model alone)."""
        return self.guide_model is not None and self.guide_weight != 1.0


# Older "sampling" blocks: autoguidance limited to an interval of timesteps left the library (no shipped model
# used it; fmnist-ddpm stores null).
SAMPLING_MIGRATION = Migration(removed={"guide_interval": None})
# Older "train" blocks: word dropout and conditioning noise for text models were measured and not adopted (no
# shipped model trained with them; fmnist-ddpm's block stores both at 0).
# Older "train" blocks predate --data: they all trained on Fashion-MNIST.
# Older "train" blocks predate --hflip: no flips.
# Older "train" blocks predate caption rounds: they were trained on round 1 (the shipped fmnist-ddpm-text was;
# round 2 came later, commit c69baba).
# Older "train" blocks predate per-image captions: text runs drew their class's captions.
TRAIN_MIGRATION = Migration(removed={"word_dropout": 0.0, "cond_noise": 0.0},
                            added={"data": "fashion-mnist", "hflip": False, "caption_round": 1,
                                   "captions_from": "classes"})
# Older "unet" blocks predate layout conditioning and other canvases: 28-px images padded by 2, no layout.
UNET_MIGRATION = Migration(added={"pad": PAD, "max_items": 0, "layout_mode": "blobs"})
