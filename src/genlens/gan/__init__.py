"""GANs: a StyleGAN2-style baseline, EqGAN-SA (arXiv 2112.00718) and a layout-conditioned GAN (``arch="layout"``).

The official code's variants are parts injected into :class:`Generator`: ``block=LayerSelBlock``,
``heat_encoder=HeatmapEncoder``, ``heat_sampler=sample_official_heatmaps``.
"""
from genlens.gan.edit import edit, edit_layout, interpolate, move_items, sample
from genlens.gan.io import gan_folder, load_generator, save_generator
from genlens.gan.layout import LayoutModulation, layout_channels
from genlens.gan.losses import d_loss, disequilibrium, g_loss, r1_penalty
from genlens.gan.networks import ALL_ARCHS, ARCHS, Discriminator, GanConfig, GBlock, Generator, LayerSelBlock
from genlens.gan.render import FixedLatentRenderer
from genlens.gan.spatial import (
    HeatmapEncoder,
    Heatmaps,
    MeanHeatmaps,
    SpatialEncodingLayer,
    alignment_loss,
    render_heatmap,
    sample_heatmaps,
    sample_official_heatmaps,
)
from genlens.gan.train import GanRun, GanTrainConfig, measure_di, train_gan

__all__ = [
    "ALL_ARCHS", "ARCHS", "Discriminator", "FixedLatentRenderer", "GBlock", "GanConfig", "GanRun", "GanTrainConfig",
    "Generator", "HeatmapEncoder", "Heatmaps", "LayerSelBlock", "LayoutModulation", "MeanHeatmaps",
    "SpatialEncodingLayer", "alignment_loss", "d_loss", "disequilibrium", "edit", "edit_layout", "g_loss", "gan_folder",
    "interpolate", "layout_channels", "load_generator", "measure_di", "move_items", "r1_penalty", "render_heatmap",
    "sample", "sample_heatmaps", "sample_official_heatmaps", "save_generator", "train_gan",
]
