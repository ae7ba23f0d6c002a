"""The disequilibrium indicator (DI) of a trained G + D pair, read back from a training checkpoint.

EqGAN-SA (Wang et al., CVPR 2022, arXiv 2112.00718, sec. 4) measures how far the discriminator separates
real from fake. We implement it on raw D logits as DI = E_x[D(x)] - E_z[D(G(z))], x held-out real images
(the test split, never trained on) and z fresh latents with fresh heatmaps; :func:`genlens.gan.train.measure_di`
does the same during training. Shipped model folders hold only the EMA generator, so DI needs the run dir
that ``genlens gan train`` / ``bench/gan.py`` checkpoint into (``RUN_DIR/last``: G, D and the EMA of G).
"""
from __future__ import annotations

import os
from collections.abc import Callable

import torch

from genlens.errors import GenlensError
from genlens.gan.networks import Discriminator, GanConfig, Generator
from genlens.gan.train import GanPair, measure_di
from genlens.training.checkpoint import load_checkpoint, read_checkpoint_state
from genlens.training.ema import EMA


def load_training_checkpoint(run_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                             make_generator: Callable[[GanConfig], Generator] = Generator
                             ) -> tuple[Generator, Discriminator, Generator]:
    """(G, D, G_ema) in eval mode from a GAN run dir or checkpoint folder; one-line errors otherwise.
    ``make_generator``: how the run built G (a generator with injected variant modules)."""
    state = read_checkpoint_state(run_dir)  # raises "no checkpoint in ..." for an empty dir
    model = state.get("config", {}).get("model")
    if not isinstance(model, dict):
        raise GenlensError(f"'{run_dir}' is not a GAN training run (its checkpoint config has no GAN model); "
                           "pass a run dir written by `genlens gan train`")
    config = GanConfig.from_dict(model, where=f"'{run_dir}' checkpoint model config")
    pair = GanPair(config, make_generator=make_generator).to(device)
    ema = EMA(pair.G)
    load_checkpoint(run_dir, model=pair, ema=ema if state.get("ema") is not None else None)
    G_ema = ema.ema_model if state.get("ema") is not None else pair.G
    return pair.G.eval(), pair.D.eval(), G_ema.eval()


def di_from_checkpoint(run_dir: str | os.PathLike, held_out: torch.Tensor, *, n: int = 1024, seed: int = 0,
                       device: str | torch.device = "cpu", use_ema: bool = False) -> dict[str, float | int | str]:
    """DI of a checkpointed pair on ``n`` held-out reals (N, C, 32, 32) in [-1, 1] and ``n`` fresh fakes.

    ``use_ema`` scores the EMA generator against D instead of the trained G (the training curves use G).
    """
    if held_out.ndim != 4 or tuple(held_out.shape[-2:]) != (32, 32):
        raise GenlensError(f"held-out images must be (N, C, 32, 32) in [-1, 1]; got {tuple(held_out.shape)}")
    if n < 1:
        raise GenlensError(f"DI needs n >= 1 samples; got {n}")
    G, D, G_ema = load_training_checkpoint(run_dir, device=device)
    step = int(read_checkpoint_state(run_dir)["step"])
    n = min(n, len(held_out))
    value = measure_di(G_ema if use_ema else G, D, held_out, n=n, seed=seed)
    return {"di": value, "n": n, "step": step, "generator": "ema" if use_ema else "trained",
            "definition": "E[D(real held-out)] - E[D(G(z))], raw logits"}
