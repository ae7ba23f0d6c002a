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

ARCHS = ("stylegan2", "sel-only", "eqgan-sa")
RESOLUTIONS = (4, 8, 16, 32)

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

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise GenlensError(f"unknown GAN arch '{self.arch}'; choose one of: {', '.join(ARCHS)}")
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

    @classmethod
    def tiny(cls, arch: str = "eqgan-sa") -> GanConfig:
        """A few-thousand-parameter config for tests and smoke runs."""
        return cls(arch=arch, z_dim=16, w_dim=16, mapping_layers=2, g_channels=(16, 16, 8, 8),
                   d_channels=(8, 8, 16, 16), mbstd_group=2, sel_hidden=8)

    def with_arch(self, arch: str) -> GanConfig:
        return replace(self, arch=arch)

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "GAN config") -> GanConfig:
        """Read a config written by any genlens version (``MIGRATION``); one-line errors name ``where``."""
        return from_dict(cls, data, where=where, migration=MIGRATION)
