"""GANs on Fashion-MNIST: a StyleGAN2-style baseline and EqGAN-SA (arXiv 2112.00718)."""
from genlens.gan.edit import edit, editing_score, interpolate, sample
from genlens.gan.io import load_generator, save_generator
from genlens.gan.losses import d_loss, disequilibrium, g_loss, r1_penalty
from genlens.gan.networks import ARCHS, Discriminator, GanConfig, Generator
from genlens.gan.render import FixedLatentRenderer
from genlens.gan.spatial import (
    Heatmaps,
    SpatialEncodingLayer,
    alignment_loss,
    render_heatmap,
    sample_heatmaps,
)
from genlens.gan.train import GanRun, GanTrainConfig, measure_di, train_gan

__all__ = [
    "ARCHS", "Discriminator", "FixedLatentRenderer", "GanConfig", "GanRun", "GanTrainConfig", "Generator", "Heatmaps",
    "SpatialEncodingLayer", "alignment_loss", "d_loss", "disequilibrium", "edit", "editing_score", "g_loss",
    "interpolate", "load_generator", "measure_di", "r1_penalty", "render_heatmap", "sample",
    "sample_heatmaps", "save_generator", "train_gan",
]
