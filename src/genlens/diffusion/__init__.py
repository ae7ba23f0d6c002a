"""Diffusion models on Fashion-MNIST and fashion-scenes: diffusers UNets (class-, text- or layout-conditional),
DDPM training with condition dropout and EMA, classifier-free guidance and autoguidance, DDPM / DDIM /
DPM-Solver++ sampling.

Sampling goes through :class:`DiffusionPipeline` (a model folder or shipped name, its recommended settings,
one frozen :class:`SamplingConfig`)."""
from genlens.diffusion.config import DiffusionTrainConfig, NoiseSchedule, SamplingConfig, UNetConfig
from genlens.diffusion.guidance import GuidedDenoiser, check_guidance, check_interval, combine
from genlens.diffusion.io import DiffusionBundle, load_diffusion, save_diffusion, shipped_diffusion_folder
from genlens.diffusion.layout import edit_layout_sample, layout_channels
from genlens.diffusion.pipeline import DiffusionPipeline
from genlens.diffusion.sample import SAMPLERS, sample
from genlens.diffusion.schedule import q_sample
from genlens.diffusion.train import CaptionTable, DiffusionResult, diffusion_loss, train_diffusion
from genlens.diffusion.unet import Denoiser, from_model_space, to_model_space

__all__ = [
    "SAMPLERS",
    "CaptionTable",
    "Denoiser",
    "DiffusionBundle",
    "DiffusionPipeline",
    "DiffusionResult",
    "DiffusionTrainConfig",
    "GuidedDenoiser",
    "NoiseSchedule",
    "SamplingConfig",
    "UNetConfig",
    "check_guidance",
    "check_interval",
    "combine",
    "diffusion_loss",
    "edit_layout_sample",
    "from_model_space",
    "layout_channels",
    "load_diffusion",
    "q_sample",
    "sample",
    "save_diffusion",
    "shipped_diffusion_folder",
    "to_model_space",
    "train_diffusion",
]
