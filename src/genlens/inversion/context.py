"""The objective algebra (lucid ``objectives``) and the per-step context objectives read from.

An :class:`Objective` is a **loss to minimise** that returns one value per image, shape (B,): class
objectives return cross-entropy or the negated logit, activation objectives the negated activation,
priors their penalty. Objectives add and scale — ``ce + 1e-4 * tv``, ``0.1 * a``, ``-a``, ``a - b`` — and
the sum remembers which layers to hook and whether BatchNorm statistics are needed.

A :class:`Context` is built once per optimisation step. It holds the parameterised images (B, ...), the
augmented batch (N = copies * B rows, copy-major, see ``augment.Repeat``) and runs the model lazily: an
objective that never asks for logits or activations (text similarity, a pure prior) costs no forward.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from genlens.errors import GenlensError
from genlens.inversion.hooks import BNStats
from genlens.models.handle import ModelHandle

LayerRef = str | Callable[[ModelHandle], str]  # a layer name, or a rule that finds it in a model


def resolve_layer(ref: LayerRef, handle: ModelHandle) -> str:
    return ref if isinstance(ref, str) else ref(handle)


@dataclass(eq=False)
class Context:
    handle: ModelHandle
    image: torch.Tensor  # (B, C, H, W) in [0, 1]: the parameterised images, before augmentation
    batch: torch.Tensor  # (N, C, h, w): what the model sees, N = copies * B, row i shows image i % B
    activations: dict[str, torch.Tensor] = field(default_factory=dict)  # filled by the forward hooks
    bn: list[BNStats] = field(default_factory=list)  # filled by the BatchNorm hooks
    _logits: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.batch.shape[0] % self.image.shape[0]:
            raise GenlensError(
                f"augmentations turned {self.image.shape[0]} images into {self.batch.shape[0]} rows; "
                "batch-changing transforms must tile the batch (use Repeat)"
            )

    @property
    def n_images(self) -> int:
        return self.image.shape[0]

    @property
    def copies(self) -> int:
        return self.batch.shape[0] // self.n_images

    def forward(self) -> torch.Tensor:
        """Run the model on the augmented batch once per step (hooks fill activations and bn)."""
        if self._logits is None:
            self.activations.clear()
            self.bn.clear()
            self._logits = self.handle(self.batch)
        return self._logits

    @property
    def logits(self) -> torch.Tensor:
        return self.forward()

    def act(self, ref: LayerRef) -> torch.Tensor:
        name = resolve_layer(ref, self.handle)
        self.forward()
        if name not in self.activations:
            raise GenlensError(f"layer '{name}' was not hooked or did not run; list it in the objective's layers")
        return self.activations[name]

    def bn_stats(self) -> list[BNStats]:
        self.forward()
        return self.bn

    def per_image(self, values: torch.Tensor) -> torch.Tensor:
        """(N,) values of the augmented rows -> (B,) mean over each image's copies."""
        return values.reshape(self.copies, self.n_images).mean(0)

    def rows(self, per_image: torch.Tensor) -> torch.Tensor:
        """(B, ...) per-image values -> (N, ...) aligned with the augmented rows."""
        return per_image.repeat(self.copies, *([1] * (per_image.ndim - 1)))

    def normalized_image(self) -> torch.Tensor:
        """The images in the model's normalised space, at their own size (no resize)."""
        c = self.image.shape[1]
        mean = torch.tensor(self.handle.mean, device=self.image.device, dtype=self.image.dtype).view(1, c, 1, 1)
        std = torch.tensor(self.handle.std, device=self.image.device, dtype=self.image.dtype).view(1, c, 1, 1)
        return (self.image - mean) / std


class Objective:
    """A per-image loss ``fn(ctx) -> (B,)`` (a scalar is broadcast to every image)."""

    def __init__(self, fn: Callable[[Context], torch.Tensor], *, name: str,
                 layers: Sequence[LayerRef] = (), needs_bn: bool = False) -> None:
        self.fn, self.name = fn, name
        self.layers: tuple[LayerRef, ...] = tuple(layers)
        self.needs_bn = needs_bn

    def __call__(self, ctx: Context) -> torch.Tensor:
        value = self.fn(ctx)
        if value.ndim == 0:
            return value.expand(ctx.n_images)
        if value.shape != (ctx.n_images,):
            raise GenlensError(f"objective '{self.name}' returned shape {tuple(value.shape)}; expected ({ctx.n_images},)")
        return value

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    # --- algebra ------------------------------------------------------------------------------------
    @staticmethod
    def _join(a: Objective, b: Objective, fn: Callable[[Context], torch.Tensor], name: str) -> Objective:
        layers = tuple(dict.fromkeys(a.layers + b.layers, None))  # union, order kept
        return Objective(fn, name=name, layers=layers, needs_bn=a.needs_bn or b.needs_bn)

    def __add__(self, other: Objective | float) -> Objective:
        if isinstance(other, numbers.Real):
            if other == 0:
                return self  # sum([...]) starts from 0
            return Objective(lambda ctx: self(ctx) + float(other), name=f"{self.name} + {other}",
                             layers=self.layers, needs_bn=self.needs_bn)
        if not isinstance(other, Objective):
            return NotImplemented
        return self._join(self, other, lambda ctx: self(ctx) + other(ctx), f"{self.name} + {other.name}")

    __radd__ = __add__

    def __neg__(self) -> Objective:
        return self * -1.0

    def __sub__(self, other: Objective | float) -> Objective:
        return self + (-other)

    def __rsub__(self, other: float) -> Objective:
        return (-self) + other

    def __mul__(self, k: float) -> Objective:
        if not isinstance(k, numbers.Real):
            return NotImplemented
        k = float(k)
        return Objective(lambda ctx: k * self(ctx), name=f"{k:g} * ({self.name})", layers=self.layers,
                         needs_bn=self.needs_bn)

    __rmul__ = __mul__

    def __truediv__(self, k: float) -> Objective:
        return self * (1.0 / float(k))
