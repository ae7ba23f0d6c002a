"""Tiny denoisers, toy data and a saved tiny model folder shared by the diffusion tests."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, save_diffusion

CLASS_NAMES = ("Blob", "Bar")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The tiny convolutions run faster on one thread on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Loud(torch.nn.Module):
    """A denoiser whose ε̂ is 3× the wrapped one's: x̂_0 leaves [-1, 1] at most steps, so a sampler's clip acts."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.config, self.cond_kind = inner, inner.config, inner.cond_kind

    def forward(self, x, t, cond, drop=None):
        return 3.0 * self.inner(x, t, cond, drop=drop)


class Toy:
    """Helpers handed to tests through the ``toy`` fixture."""

    loud = Loud

    class_names = CLASS_NAMES

    @staticmethod
    def data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """Two classes of uint8 28×28 shapes: a tall block and a wide bar."""
        labels = torch.arange(n) % 2
        images = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
        images[labels == 0, :, 4:24, 9:19] = 255
        images[labels == 1, :, 10:18, 2:26] = 200
        return images, labels

    @staticmethod
    def scenes(n: int = 24, rgb: bool = False):
        """Tiny fashion-scenes (not cached) from toy items: a block per class, brighter for higher classes."""
        from genlens.data.base import ImageData
        from genlens.data.scenes import SceneConfig, generate_scenes

        labels = torch.arange(40) % 10
        images = torch.zeros(40, 1, 28, 28, dtype=torch.uint8)
        for i, c in enumerate(labels.tolist()):
            images[i, 0, 6:22, 4 + c:14 + c] = 60 + 19 * c
        items = ImageData(images, labels, tuple(f"c{i}" for i in range(10)), "toy")
        return generate_scenes(SceneConfig(count=n, rgb=rgb), items)

    @staticmethod
    def denoiser(cond: str = "class", seed: int = 0) -> Denoiser:
        torch.manual_seed(seed)
        return Denoiser(UNetConfig.tiny(cond, num_classes=len(CLASS_NAMES))).eval()

    @staticmethod
    def text_cond(b: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        tokens = torch.randn(b, 8, 384, generator=g)
        mask = torch.zeros(b, 8, dtype=torch.bool)
        mask[:, :5] = True
        return tokens, mask


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory) -> callable:
    """``model_folder(cond)``: a saved (untrained) tiny diffusion model folder of that kind."""
    made: dict[str, Path] = {}

    def make(cond: str = "class") -> Path:
        if cond not in made:
            folder = tmp_path_factory.mktemp(f"ddpm-{cond}")
            cfg = DiffusionTrainConfig(unet=UNetConfig.tiny(cond, num_classes=len(CLASS_NAMES)), steps=1)
            save_diffusion(folder, Toy.denoiser(cond), config=cfg, class_names=CLASS_NAMES, command="test",
                           metrics={})
            made[cond] = folder
        return made[cond]

    return make


@pytest.fixture(scope="session")
def toy() -> type[Toy]:
    return Toy


@pytest.fixture
def run(cli):
    """``run(ARGS)`` = ``genlens diffusion ARGS`` in this process: (exit code, stdout, stderr)."""
    return lambda args: cli(["diffusion", *args])


@pytest.fixture
def sample_bar(run, tmp_path):
    """``sample_bar(MODEL, TAG, *FLAGS)``: ``genlens diffusion sample MODEL --class Bar`` (2 images, 4 steps,
    seed 3) into tmp_path/TAG; returns (the --json record, the first image as an array)."""
    import json

    import numpy as np
    from PIL import Image

    def sample(model, tag, *flags):
        out = tmp_path / tag
        code, stdout, err = run(["sample", model, "--class", "Bar", "--n", "2", "--steps", "4", "--seed", "3",
                                 "--out", out, "--json", *flags])
        assert code == 0, err
        return json.loads(stdout), np.asarray(Image.open(out / "Bar" / "0.png"))

    return sample
