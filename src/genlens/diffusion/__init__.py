"""Diffusion models on Fashion-MNIST: diffusers UNets (class- or text-conditional), DDPM training with
condition dropout and EMA, classifier-free guidance and DDPM / DDIM / DPM-Solver++ sampling."""
from genlens.diffusion.guidance import GuidedDenoiser, check_guidance, check_interval, combine
from genlens.diffusion.io import DiffusionBundle, load_diffusion, save_diffusion, shipped_diffusion_folder
from genlens.diffusion.sample import SAMPLERS, Trajectory, sample
from genlens.diffusion.schedule import NoiseSchedule, q_sample
from genlens.diffusion.train import CaptionTable, DiffusionResult, DiffusionTrainConfig, diffusion_loss, train_diffusion
from genlens.diffusion.unet import Denoiser, UNetConfig, from_model_space, to_model_space

__all__ = [
    "SAMPLERS",
    "CaptionTable",
    "Denoiser",
    "DiffusionBundle",
    "DiffusionResult",
    "DiffusionTrainConfig",
    "GuidedDenoiser",
    "NoiseSchedule",
    "Trajectory",
    "UNetConfig",
    "check_guidance",
    "check_interval",
    "combine",
    "diffusion_loss",
    "from_model_space",
    "load_diffusion",
    "q_sample",
    "sample",
    "save_diffusion",
    "shipped_diffusion_folder",
    "to_model_space",
    "train_diffusion",
]
