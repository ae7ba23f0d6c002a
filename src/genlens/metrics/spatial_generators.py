"""Adapters that make generators measurable by :mod:`genlens.metrics.editing`, registered by name, and the
locator's backbone as the scenes' feature extractor for FID.

An adapter factory is ``factory(source, *, untrained=False, seed=0, device="cpu") -> SpatialGenerator``:
``source`` is a model folder or shipped name (None for generators without weights); ``untrained=True``
gives a generator of the same shape with fresh, untrained weights (the measurement's floor). Generator
families register their adapters beside their code (``@SPATIAL_GENERATORS.register("layout-gan")``) and
list the module in :data:`ADAPTER_MODULES` so that :func:`load_adapter` finds them. Built in today: the
analytic generators of :mod:`genlens.metrics.spatial_analytic` (squares, for exact checks) and of
:mod:`genlens.metrics.spatial_paste` (``paste-follow``: real garments pasted on the layout, the ceiling of
the measurement with the real locator; ``source`` is the Fashion-MNIST folder, default the usual search).
:func:`sample_images` draws the samples of a sample-quality FID: freely where a generator has ``sample_free``
(``free-gan``, ``heatmap-gan``), else on the layouts of real test scenes.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from genlens.data.layout import Layout
from genlens.errors import GenlensError
from genlens.metrics.editing import SpatialGenerator
from genlens.metrics.locator import Locator, check_images
from genlens.metrics.spatial_analytic import SpriteGenerator
from genlens.registry import Registry
from genlens.utils.modes import eval_mode

SPATIAL_GENERATORS: Registry[Callable[..., SpatialGenerator]] = Registry("spatial generator adapter")

# modules whose import registers more adapters (e.g. "genlens.gan.spatial_adapter"); missing ones are skipped
ADAPTER_MODULES: tuple[str, ...] = ("genlens.gan.spatial_adapter", "genlens.diffusion.spatial_adapter")


@SPATIAL_GENERATORS.register("analytic-follow", description="squares drawn exactly on the layout (ideal)")
def _analytic_follow(source: str | None = None, *, untrained: bool = False, seed: int = 0,
                     device: str = "cpu") -> SpatialGenerator:
    # its "untrained" twin has no notion of the layout: it draws where its latent says
    return SpriteGenerator(follow=not untrained, name="analytic-follow" + (" (floor)" if untrained else ""))


@SPATIAL_GENERATORS.register("analytic-ignore", description="squares drawn where the latent says (deaf)")
def _analytic_ignore(source: str | None = None, *, untrained: bool = False, seed: int = 0,
                     device: str = "cpu") -> SpatialGenerator:
    return SpriteGenerator(follow=False, name="analytic-ignore" + (" (floor)" if untrained else ""))


@SPATIAL_GENERATORS.register("paste-follow", description="real Fashion-MNIST test items pasted on the layout (ceiling)")
def _paste_follow(source: str | None = None, *, untrained: bool = False, seed: int = 0,
                  device: str = "cpu") -> SpatialGenerator:
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.metrics.spatial_paste import ItemPaster

    return ItemPaster(load_fashion_mnist("test", data_dir=source), follow=not untrained,
                      name="paste-follow" + (" (floor)" if untrained else ""))


def load_adapter(spec: str, *, untrained: bool = False, seed: int = 0, device: str = "cpu") -> SpatialGenerator:
    """``ADAPTER`` or ``ADAPTER:SOURCE`` (a model folder or shipped name) -> a :class:`SpatialGenerator`."""
    for module in ADAPTER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    name, _, source = spec.partition(":")
    return SPATIAL_GENERATORS.create(name, source=source or None, untrained=untrained, seed=seed, device=device)


def sample_images(generator: SpatialGenerator, n: int, *, layouts: Sequence[Layout] | None = None, seed: int = 0,
                  batch: int = 250) -> torch.Tensor:
    """``n`` images (n, C, canvas, canvas) in [0, 1] for a sample-quality FID: a generator with a distribution of
    its own (``sample_free``: unconditional and heatmap GANs) is sampled freely; any other is sampled on
    ``layouts`` (cycled; the ground truth of real test scenes), one fresh latent each. Seeded by ``seed``."""
    g = torch.Generator().manual_seed(int(seed))
    free = getattr(generator, "sample_free", None)
    if free is None and not layouts:
        raise GenlensError(f"generator '{generator.name}' draws from layouts; pass the layouts of real test scenes")
    out = []
    for s in range(0, n, batch):
        k = min(batch, n - s)
        if free is not None:
            out.append(free(k, g))
        else:
            assert layouts is not None
            out.append(generator.sample(generator.latents(k, g), [layouts[(s + i) % len(layouts)] for i in range(k)]))
    return torch.cat(out)


class LocatorFeatures:
    """The locator's backbone as a feature extractor: its deepest features and its decoder output, each
    averaged over space and concatenated (N, 4c + c'); logits = each class heatmap's peak logit. Trained
    only on real scenes' ground truth, so never used to tune a generator (issue 27's FID extractor)."""

    def __init__(self, model: Locator, *, name: str = "locator-backbone", batch_size: int = 256) -> None:
        self.model, self.name, self.batch_size = model, name, batch_size

    @property
    def num_classes(self) -> int:
        return self.model.config.num_classes

    @property
    def dim(self) -> int:
        c = self.model.config.width
        return 4 * c + (c if self.model.config.stride == 1 else 2 * c)

    def _run(self, images: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        out = []
        with torch.no_grad(), eval_mode(self.model):
            for s in range(0, images.shape[0], self.batch_size):
                out.append(fn(check_images(self.model, images[s : s + self.batch_size])).float().cpu())
        return torch.cat(out)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        def pooled(x: torch.Tensor) -> torch.Tensor:
            e3, d = self.model.trunk(x)
            return torch.cat([F.adaptive_avg_pool2d(e3, 1).flatten(1), F.adaptive_avg_pool2d(d, 1).flatten(1)], 1)

        return self._run(images, pooled)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self._run(images, lambda x: self.model(x)[0].amax(dim=(2, 3)))

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim}
