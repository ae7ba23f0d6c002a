"""Write ``shipped_refs.safetensors``: what the shipped GANs give today for fixed seeds (issue 28).

tests/gan/test_gan_shipped_samples.py compares the library's output with these tensors, so a refactor that
changes what a shipped model draws fails there. Regenerate only when a change of behaviour is intended, and
say why in the commit:

    PYTHONPATH=src OMP_NUM_THREADS=1 python tests/gan/data/make_refs.py
"""
from __future__ import annotations

from pathlib import Path

import torch

OUT = Path(__file__).with_name("shipped_refs.safetensors")
SHIPPED = ("fmnist-gan", "fmnist-sel-only", "fmnist-eqgan")
N, SEED = 4, 7  # images per model, sampling seed
EDIT_SEED, EDIT_CENTER = 3, (0.5, -0.2)  # one level-1 edit of fmnist-eqgan (blob-grid coordinates in [-1, 1])
RENDER_CENTERS = ((-0.5, 0.2), (0.6, -0.4))  # level-1 centres for the fast renderer (one latent)


def compute() -> dict[str, torch.Tensor]:
    """Every reference tensor, from the public API the CLI and the explorer call."""
    from genlens.gan import FixedLatentRenderer, edit, load_generator, sample
    from genlens.gan.edit import latents
    from genlens.gan.evaluate import with_level1
    from genlens.gan.spatial import heat_to_canvas

    out = {}
    with torch.no_grad():
        for name in SHIPPED:
            G = load_generator(name)
            out[f"{name}/sample"] = sample(G, N, SEED)
        G = load_generator("fmnist-eqgan")
        # edit() takes canvas coordinates since issue 27 (x, y in [0, 1]); the same blob-grid centre as before
        center = tuple(heat_to_canvas(torch.tensor(EDIT_CENTER), G.config.resolution).tolist())
        res = edit(G, EDIT_SEED, center=center, level=1)
        out["fmnist-eqgan/edit_original"], out["fmnist-eqgan/edit_edited"] = res.original, res.edited
        z, heat = latents(G, 1, EDIT_SEED)
        renderer = FixedLatentRenderer(G, G.mapping(z), noise_mode="const")
        out["fmnist-eqgan/render"] = torch.cat([
            renderer(with_level1(heat, torch.tensor([c]), size=G.config.resolution)) for c in RENDER_CENTERS])
    return {k: v.detach().cpu().contiguous() for k, v in out.items()}


def main() -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    save_file(compute(), str(OUT))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
