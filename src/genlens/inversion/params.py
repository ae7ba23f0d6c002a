"""Image parameterisations (lucid ``param``): what the optimiser changes and how it becomes an image.

Each parameterisation holds a batch of B images and offers ``parameters()`` (for the optimiser),
``image()`` -> (B, C, H, W) in [0, 1], ``post_step()`` (called after every optimiser step) and
``grow(new_size, ...)`` for stage-wise runs: the current image is resized to ``new_size - margin`` and
pasted in the centre of a fresh-noise canvas of ``new_size`` (Plug-In Inversion's centering + zoom,
arXiv 2201.12961 section 4; ``margin=0`` is a pure zoom, as DeepDream's octaves).

- :class:`PixelParam`: raw pixels, clamped to [0, 1] after each step (as the PII code does).
- :class:`BlurredPixelParam`: raw pixels seen through a fixed Gaussian blur (a smoothness prior).
- :class:`FourierParam`: a 1/f-scaled spectrum through ``irfft2`` and a sigmoid (lucid's "fft" image,
  Olah et al., Distill 2017, "Feature Visualization", section "Preconditioning").
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from genlens.errors import GenlensError
from genlens.inversion.augment import as_size, paste_center, zoom
from genlens.registry import Registry

PARAMETERISATIONS: Registry[ImageParam] = Registry("image parameterisation")


@dataclass(frozen=True, kw_only=True)
class NoiseInit:
    """Starting noise in [0, 1]: ``center + scale * (U - 1/2)`` (uniform) or ``center + scale * N(0, 1)``
    (normal), clamped; ``center``/``scale`` may be per channel. Default: U(0, 1), as PII starts."""

    kind: Literal["uniform", "normal"] = "uniform"
    center: float | tuple[float, ...] = 0.5
    scale: float | tuple[float, ...] = 1.0

    def sample(self, shape: Sequence[int], *, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        shape = tuple(shape)
        if self.kind == "uniform":
            z = torch.rand(shape, generator=generator, device=generator.device) - 0.5
        elif self.kind == "normal":
            z = torch.randn(shape, generator=generator, device=generator.device)
        else:
            raise GenlensError(f"unknown noise kind '{self.kind}'; use uniform or normal")
        c = torch.as_tensor(self.center, dtype=z.dtype).reshape(1, -1, 1, 1).to(z.device)
        s = torch.as_tensor(self.scale, dtype=z.dtype).reshape(1, -1, 1, 1).to(z.device)
        return (c + s * z).clamp(0.0, 1.0).to(device)


class ImageParam(ABC):
    """A batch of B images of C channels and a (H, W) size, kept on ``device``."""

    def __init__(self, *, batch: int, channels: int, size: int | Sequence[int], generator: torch.Generator,
                 device: torch.device | str = "cpu", init: NoiseInit | None = None) -> None:
        if batch < 1 or channels < 1:
            raise GenlensError(f"need at least one image and one channel, got batch={batch} channels={channels}")
        self.batch, self.channels = batch, channels
        self.device = torch.device(device)
        self.init = init or NoiseInit()
        self._set_state(self.noise(as_size(size), generator=generator))

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self._state().shape[-2:])  # type: ignore[return-value]

    def noise(self, size: tuple[int, int], *, generator: torch.Generator) -> torch.Tensor:
        return self.init.sample((self.batch, self.channels, *size), generator=generator, device=self.device)

    @abstractmethod
    def parameters(self) -> list[torch.Tensor]: ...

    @abstractmethod
    def image(self) -> torch.Tensor:
        """(B, C, H, W) in [0, 1], differentiable with respect to ``parameters()``."""

    def post_step(self) -> None:
        """Called after each optimiser step (projection onto the valid set); default: nothing."""
        return None

    @abstractmethod
    def _state(self) -> torch.Tensor:
        """The image-like tensor (B, C, H, W) in [0, 1] that :meth:`grow` resizes and pastes."""

    @abstractmethod
    def _set_state(self, image01: torch.Tensor) -> None: ...

    @torch.no_grad()
    def grow(self, new_size: int | Sequence[int], *, generator: torch.Generator, margin: int = 0) -> None:
        """Resize the current image to ``new_size - margin`` and paste it in the centre of fresh noise of
        ``new_size`` (``margin`` is the noise border summed over both sides). New leaf tensors are made,
        so build a new optimiser afterwards."""
        h, w = as_size(new_size)
        if margin < 0 or margin >= min(h, w):
            raise GenlensError(f"grow margin must be in [0, {min(h, w) - 1}], got {margin}")
        inner = zoom(self._state().detach(), (h - margin, w - margin))
        canvas = self.noise((h, w), generator=generator)
        self._set_state(paste_center(inner.clamp(0, 1), canvas))


@PARAMETERISATIONS.register("pixels")
class PixelParam(ImageParam):
    """Raw pixels in [0, 1]; ``post_step`` clamps them back into range (PII, DeepInversion)."""

    def parameters(self) -> list[torch.Tensor]:
        return [self.pixels]

    def image(self) -> torch.Tensor:
        return self.pixels

    @torch.no_grad()
    def post_step(self) -> None:
        self.pixels.clamp_(0.0, 1.0)

    def _state(self) -> torch.Tensor:
        return self.pixels

    def _set_state(self, image01: torch.Tensor) -> None:
        self.pixels = image01.detach().clone().to(self.device).requires_grad_(True)


def gaussian_kernel1d(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(2.0 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with replicate padding; a convex combination, so [0, 1] stays [0, 1]."""
    if sigma <= 0:
        return x
    k = gaussian_kernel1d(sigma).to(device=x.device, dtype=x.dtype)
    c, r = x.shape[1], k.numel() // 2
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


@PARAMETERISATIONS.register("blur")
class BlurredPixelParam(PixelParam):
    """Pixels in [0, 1] shown through a fixed Gaussian blur of ``sigma`` pixels: high frequencies cost
    nothing to the objective, so the optimiser cannot build pixel-level textures."""

    def __init__(self, *, sigma: float = 0.75, **kw) -> None:
        if sigma < 0:
            raise GenlensError(f"blur sigma must be >= 0, got {sigma}")
        self.sigma = float(sigma)
        super().__init__(**kw)

    def image(self) -> torch.Tensor:
        return gaussian_blur(self.pixels, self.sigma)


@PARAMETERISATIONS.register("fft")
class FourierParam(ImageParam):
    """``image = sigmoid(irfft2(spectrum * scale))`` with ``scale = 1 / max(|f|, 1/max(H, W)) ** decay``:
    every frequency gets about the same step size in image energy (lucid's ``fft_image``)."""

    def __init__(self, *, decay: float = 1.0, **kw) -> None:
        self.decay = float(decay)
        super().__init__(**kw)

    def _scale(self, h: int, w: int) -> torch.Tensor:
        fy = torch.fft.fftfreq(h).view(-1, 1)
        fx = torch.fft.rfftfreq(w).view(1, -1)
        freq = torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / max(h, w))
        return (1.0 / freq**self.decay).to(self.device)  # (H, W//2+1)

    def parameters(self) -> list[torch.Tensor]:
        return [self.spectrum]

    def image(self) -> torch.Tensor:
        h, w = self.hw
        coeffs = torch.view_as_complex(self.spectrum) * self._scale(h, w)
        return torch.sigmoid(torch.fft.irfft2(coeffs, s=(h, w), norm="ortho"))

    def _state(self) -> torch.Tensor:
        return self.image()

    def _set_state(self, image01: torch.Tensor) -> None:
        self.hw = tuple(image01.shape[-2:])
        logits = torch.logit(image01.detach().to(self.device).clamp(1e-4, 1 - 1e-4))
        coeffs = torch.fft.rfft2(logits, norm="ortho") / self._scale(*self.hw)
        self.spectrum = torch.view_as_real(coeffs).contiguous().requires_grad_(True)

    @property
    def size(self) -> tuple[int, int]:
        return self.hw  # type: ignore[return-value]
