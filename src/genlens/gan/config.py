"""The GAN's typed config and how its files (model folders, checkpoints, run.json) are read back.

One recipe per concept: the config holds what the shipped models use. The official EqGAN-SA code's
variants (per-layer SEL placement, the conv heatmap encoder, the wider sigmas) are modules injected into
:class:`genlens.gan.networks.Generator`, not config fields; files written while they were fields still load
when they hold the value every shipped model had (``MIGRATION``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from genlens.errors import GenlensError
from genlens.utils.config_io import Migration, from_dict

ARCHS = ("stylegan2", "sel-only", "eqgan-sa")  # the EqGAN-SA comparison (unconditional, heatmaps)
LAYOUT = "layout"  # the layout-conditioned GAN (genlens.gan.layout)
ALL_ARCHS = (*ARCHS, LAYOUT)
RESOLUTIONS = (4, 8, 16, 32)  # the 32-px networks' blocks; a 64 or 128-px network adds blocks above (resolutions())
CANVASES = (32, 64, 128)

# Model sizes by name (the CLI's --size): the shipped Fashion-MNIST GANs are "half" (trained on CPU). One width
# per resolution: G from 4 px up, D from the canvas down; the canvas is 4 * 2 ** (widths - 1).
SIZES: dict[str, dict[str, Any]] = {
    "default": {},  # 32 px: G (256, 256, 128, 64), D (64, 128, 256, 256), SEL hidden 64
    "half": {"g_channels": (128, 128, 64, 32), "d_channels": (32, 64, 128, 128), "sel_hidden": 32},
    "64": {"g_channels": (256, 256, 128, 64, 32), "d_channels": (32, 64, 128, 256, 256)},
    "128": {"g_channels": (256, 256, 128, 64, 32, 16), "d_channels": (16, 32, 64, 128, 256, 256)},
    "tiny": {},  # GanConfig.tiny: tests and smoke runs, at any canvas
}
SIZE_ALIASES = {"32": "default"}
# Parameters and one-thread CPU cost of each: genlens.utils.preset_costs (measured by experiments/presets.py).

# Options that left GanConfig (issue 28), with the only value that still means today's generator.
MIGRATION = Migration(removed={"heat_sigmas": "narrow", "heat_encoder": "mean", "heat_features": 32,
                               "sel_placement": "block"})


def resolutions(canvas: int) -> tuple[int, ...]:
    """The generator's block resolutions for a ``canvas``-px image: 4, 8, ... canvas."""
    return tuple(4 * 2 ** i for i in range(int(canvas).bit_length() - 2))


def size_for(canvas: int) -> str:
    """The size of ``canvas``-px images when ``--size`` is not given."""
    return {32: "default", 64: "64", 128: "128"}[canvas]


def check_canvas(side: int) -> int:
    """The GAN canvas for ``side``-px data (28 is padded to 32), or one line naming the sizes that work."""
    canvas = 32 if side == 28 else side
    if canvas not in CANVASES:
        raise GenlensError(f"--resolution {side} is not a GAN canvas; use --resolution 32, 64 or 128 (28 is "
                           "padded to 32)")
    return canvas


@dataclass(frozen=True)
class GanConfig:
    arch: str = "eqgan-sa"
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    g_channels: tuple[int, ...] = (256, 256, 128, 64)  # at 4, 8, 16, 32
    d_channels: tuple[int, ...] = (64, 128, 256, 256)  # at 32, 16, 8, 4
    img_channels: int = 1
    mbstd_group: int = 4  # 0: no minibatch-std layer
    sel_hidden: int = 64
    # arch "layout": the class of each layout channel, the most objects per layout (fashion-scenes: 3); the other
    # archs: two or more names make the GAN class-conditional (num_classes), none (the shipped GANs) unconditional
    class_names: tuple[str, ...] = ()
    max_items: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ALL_ARCHS:
            raise GenlensError(f"unknown GAN arch '{self.arch}'; choose one of: {', '.join(ALL_ARCHS)}")
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if self.use_layout and (not self.class_names or self.max_items < 1):
            raise GenlensError("a layout GAN needs class_names (one per layout channel) and max_items >= 1; "
                               "train it on data with layouts: --data fashion-scenes")
        for name in ("g_channels", "d_channels"):
            chans = getattr(self, name)
            object.__setattr__(self, name, tuple(int(c) for c in chans))
            if len(chans) not in (4, 5, 6) or min(chans) < 1:
                raise GenlensError(f"{name} needs 4, 5 or 6 positive widths (one per resolution from 4 px to a "
                                   "32, 64 or 128-px canvas)")
        if len(self.g_channels) != len(self.d_channels):
            raise GenlensError("g_channels and d_channels need one width per resolution each (the same count)")
        if self.mbstd_group < 0:
            raise GenlensError("mbstd_group must be >= 0 (0 turns minibatch-std off)")

    @property
    def resolution(self) -> int:
        return 4 * 2 ** (len(self.g_channels) - 1)

    @property
    def resolutions(self) -> tuple[int, ...]:
        """Each generator block's resolution, 4 px up to the canvas."""
        return resolutions(self.resolution)

    @property
    def use_sel(self) -> bool:
        return self.arch in ("sel-only", "eqgan-sa")

    @property
    def use_alignment(self) -> bool:
        return self.arch == "eqgan-sa"

    @property
    def use_layout(self) -> bool:
        return self.arch == LAYOUT

    @property
    def num_classes(self) -> int:
        """Classes of a class-conditional GAN (0: unconditional; a layout GAN's classes are its layout's)."""
        return 0 if self.use_layout or len(self.class_names) < 2 else len(self.class_names)

    @classmethod
    def tiny(cls, arch: str = "eqgan-sa", *, canvas: int = 32, **layout: Any) -> GanConfig:
        """A few-thousand-parameter config for tests and smoke runs at ``canvas`` px (``layout``: class_names,
        max_items, img_channels)."""
        more = len(resolutions(canvas)) - 4
        return cls(arch=arch, z_dim=16, w_dim=16, mapping_layers=2, g_channels=(16, 16, 8, 8) + (8,) * more,
                   d_channels=(8,) * more + (8, 8, 16, 16), mbstd_group=2, sel_hidden=8, **layout)

    @classmethod
    def sized(cls, arch: str, size: str = "default", *, canvas: int | None = None, **layout: Any) -> GanConfig:
        """The config of ``size`` (a key of ``SIZES``) for ``arch``; ``canvas`` (px) must be the size's own
        (tiny fits any)."""
        size = SIZE_ALIASES.get(size, size)
        if size not in SIZES:
            raise GenlensError(f"unknown GAN size '{size}'; choose one of: {', '.join([*SIZES, *SIZE_ALIASES])}")
        if size == "tiny":
            return cls.tiny(arch, canvas=canvas or 32, **layout)
        config = cls(arch=arch, **SIZES[size], **layout)
        if canvas is not None and config.resolution != canvas:
            raise GenlensError(f"GAN size '{size}' draws {config.resolution}-px images but the data is {canvas} px; "
                               f"use --size {size_for(canvas)} (or drop --size)")
        return config

    def with_arch(self, arch: str) -> GanConfig:
        return replace(self, arch=arch)

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "GAN config") -> GanConfig:
        """Read a config written by any genlens version (``MIGRATION``); one-line errors name ``where``."""
        return from_dict(cls, data, where=where, migration=MIGRATION)
