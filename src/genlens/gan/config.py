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
RESOLUTIONS = (4, 8, 16, 32)

# Model sizes by name (the CLI's --size): the shipped Fashion-MNIST GANs are "half" (trained on CPU)
SIZES: dict[str, dict[str, Any]] = {
    "default": {},  # G (256, 256, 128, 64), D (64, 128, 256, 256), SEL hidden 64
    "half": {"g_channels": (128, 128, 64, 32), "d_channels": (32, 64, 128, 128), "sel_hidden": 32},
    "tiny": {},  # GanConfig.tiny: tests and smoke runs
}

# Options that left GanConfig (issue 28), with the only value that still means today's generator.
MIGRATION = Migration(removed={"heat_sigmas": "narrow", "heat_encoder": "mean", "heat_features": 32,
                               "sel_placement": "block"})


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
    # arch "layout" only: the class of each layout channel, the most objects per layout (fashion-scenes: 3)
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
            if len(chans) != len(RESOLUTIONS) or min(chans) < 1:
                raise GenlensError(f"{name} needs {len(RESOLUTIONS)} positive widths (for 4, 8, 16, 32 px)")
        if self.mbstd_group < 0:
            raise GenlensError("mbstd_group must be >= 0 (0 turns minibatch-std off)")

    @property
    def resolution(self) -> int:
        return RESOLUTIONS[-1]

    @property
    def use_sel(self) -> bool:
        return self.arch in ("sel-only", "eqgan-sa")

    @property
    def use_alignment(self) -> bool:
        return self.arch == "eqgan-sa"

    @property
    def use_layout(self) -> bool:
        return self.arch == LAYOUT

    @classmethod
    def tiny(cls, arch: str = "eqgan-sa", **layout: Any) -> GanConfig:
        """A few-thousand-parameter config for tests and smoke runs (``layout``: class_names, max_items)."""
        return cls(arch=arch, z_dim=16, w_dim=16, mapping_layers=2, g_channels=(16, 16, 8, 8),
                   d_channels=(8, 8, 16, 16), mbstd_group=2, sel_hidden=8, **layout)

    @classmethod
    def sized(cls, arch: str, size: str = "default", **layout: Any) -> GanConfig:
        """The config of ``size`` (a key of ``SIZES``) for ``arch``."""
        if size not in SIZES:
            raise GenlensError(f"unknown GAN size '{size}'; choose one of: {', '.join(SIZES)}")
        return cls.tiny(arch, **layout) if size == "tiny" else cls(arch=arch, **SIZES[size], **layout)

    def with_arch(self, arch: str) -> GanConfig:
        return replace(self, arch=arch)

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "GAN config") -> GanConfig:
        """Read a config written by any genlens version (``MIGRATION``); one-line errors name ``where``."""
        return from_dict(cls, data, where=where, migration=MIGRATION)
