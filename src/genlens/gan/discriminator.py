"""The discriminator next to a shipped generator, and D's Grad-CAM on generated images.

A GAN model folder (``save_generator``) holds the EMA generator; ``genlens gan train`` also writes the final D as
``discriminator.safetensors`` in the same folder and lists its sha256 in ``manifest.json``, so the tour can
show D's CAM beside G's input heatmap and ``genlens gan eval`` can report DI without the training run. That D
is stored in float16 (half the bytes of the generator's float32): it only judges and explains, training resumes
from the run dir's float32 checkpoint, and the shipped folders must fit the 64 MiB a lent GPU machine takes.
The CAM is the one EqGAN-SA aligns with the heatmaps (arXiv 2112.00718, eq. 3): gradient of G's
non-saturating loss softplus(-D(x)) w.r.t. the D block matching a heatmap level, channel weights = spatial
mean of the gradients, CAM = sum_c relu(w_c A_c), upsampled to the image and min-max normalised.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from genlens.attribution.gradcam import GradCAM, normalize_cam, upsample_cam
from genlens.errors import GenlensError
from genlens.gan.networks import Discriminator, GanConfig
from genlens.gan.spatial import LEVELS
from genlens.models.weights_io import load_state_into, read_state, verify_manifest
from genlens.utils.io import atomic_write, atomic_write_json, read_json, sha256_file
from genlens.utils.modes import eval_mode

D_FILE = "discriminator.safetensors"


def save_discriminator(folder: str | os.PathLike, D: Discriminator, *, dtype: torch.dtype = torch.float16) -> Path:
    """Write D (floating tensors as ``dtype``, float16 by default: module docstring) into an existing GAN model
    folder and add its sha256 and dtype to the manifest; loading casts back to D's float32."""
    folder = Path(folder)
    mpath = folder / "manifest.json"
    if not mpath.is_file():
        raise GenlensError(f"'{folder}' has no manifest.json; save the generator there first (save_generator)")
    state = {k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).cpu().contiguous()
             for k, v in D.state_dict().items()}
    atomic_write(folder / D_FILE, lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    manifest = read_json(mpath)
    manifest.setdefault("sha256", {})[D_FILE] = sha256_file(folder / D_FILE)
    manifest["discriminator_dtype"] = str(dtype).removeprefix("torch.")
    atomic_write_json(mpath, manifest)
    return folder / D_FILE


def has_discriminator(folder: str | os.PathLike) -> bool:
    return (Path(folder) / D_FILE).is_file()


def load_discriminator(folder: str | os.PathLike, *, device: str | torch.device = "cpu") -> Discriminator:
    """D (eval mode, no grad) from a GAN model folder that has one; checks the manifest hashes first."""
    folder = Path(folder)
    if not has_discriminator(folder):
        raise GenlensError(f"'{folder}' has no {D_FILE}; folders written by `genlens gan train` include one, "
                           "or pass the training run dir (--run-dir) instead")
    verify_manifest(folder)
    cfg = read_json(folder / "config.json")
    config = GanConfig.from_dict(cfg.get("gan"), where=f"'{folder}/config.json' 'gan'")
    D = Discriminator(config)
    load_state_into(D, read_state(folder / D_FILE), what=str(folder / D_FILE), arch=config.arch)
    return D.to(device).eval().requires_grad_(False)


class _Judge(torch.nn.Module):
    """A layout GAN's D with the layout fixed, so Grad-CAM sees a one-argument model: D(images, layout)."""

    def __init__(self, D: Discriminator, layout: torch.Tensor) -> None:
        super().__init__()
        self.D, self.layout = D, layout

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.D(images, self.layout.to(images.device).expand(images.shape[0], -1, -1, -1))


def discriminator_cams(D: Discriminator, images: torch.Tensor, *, levels: tuple[int, ...] = LEVELS,
                       layout: torch.Tensor | None = None) -> dict[int, torch.Tensor]:
    """Level -> (B, H, W) CAM in [0, 1] of D on images (B, C, 32, 32) in [-1, 1], at the D block of each level.
    A layout GAN's D judges image and layout together: pass the layout channels the images were made from
    (``layout``, (1 or B, classes, H, W)); the gradient is taken w.r.t. D's features of both."""
    if D.config.use_layout and layout is None:
        raise GenlensError("a layout GAN's discriminator judges an image with its layout; pass the layout channels "
                           "the images were generated from (layout=...)")
    model = _Judge(D, layout) if D.config.use_layout else D
    size = tuple(images.shape[-2:])
    out = {}
    with eval_mode(D):
        for level in levels:
            cam = GradCAM(model, layer=D.cam_layer(level), relu="per_channel")
            res = cam.compute(images, target=lambda logits: F.softplus(-logits).reshape(-1))
            out[level] = normalize_cam(upsample_cam(res.cam, size)).detach()
    return out
