"""Reference samples of the shipped diffusion models, for tests/diffusion/test_shipped_refs.py.

    PYTHONPATH=src OMP_NUM_THREADS=1 python tests/diffusion/data/make_refs.py

Draws a few images with DDIM at 5 steps and fixed seeds from ``fmnist-ddpm`` (class model, its recommended
settings: autoguidance guide, guidance interval, timestep spacing) and ``fmnist-ddpm-text`` (a prompt, without
caption anchors, so no caption index is built), two ways: ``genlens diffusion sample`` (the PNGs it writes, uint8)
and the library call the CLI makes (float). Written first at commit 4572eec, before the diffusion pipeline, so
the test checks that the refactor kept the samples; rerun only when a change of the samples is intended, and
say why in the commit.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

OUT = Path(__file__).resolve().parent / "shipped_refs.safetensors"
STEPS, GUIDANCE, SEED = 5, 3.0, 0
CLASS, N_CLASS = "Sneaker", 3
PROMPT, N_TEXT = "a black leather ankle boot", 2


def cli_args(kind: str, out: Path) -> list[str]:
    """``genlens diffusion sample`` arguments for ``kind`` ("class" or "text") writing into ``out``."""
    what = (["--class", CLASS, "--n", str(N_CLASS)] if kind == "class"
            else ["--prompt", PROMPT, "--n", str(N_TEXT), "--anchors", "0"])
    return ["diffusion", "sample", *what, "--steps", str(STEPS), "--seed", str(SEED), "--device", "cpu",
            "--out", str(out), "--json"]


def read_pngs(folder: Path) -> torch.Tensor:
    """(N, 28, 28) uint8: OUT/<group>/<i>.png of the single group ``diffusion sample`` wrote."""
    (group,) = [p for p in folder.iterdir() if p.is_dir()]
    files = sorted(group.glob("*.png"), key=lambda p: int(p.stem))
    return torch.from_numpy(np.stack([np.asarray(Image.open(f)) for f in files]))


def library_samples(kind: str) -> torch.Tensor:
    """(N, 1, 28, 28) floats in [0, 1]: the library calls ``diffusion sample`` makes."""
    from genlens.cli.diffusion_eval import guided_for, interval_for, spacing_for
    from genlens.data.base import resolve_class
    from genlens.diffusion.io import load_diffusion, shipped_diffusion_folder
    from genlens.diffusion.sample import sample
    from genlens.diffusion.text import encode_prompts, token_layout
    from genlens.text import load_text_encoder
    from genlens.utils.seed import make_generator

    bundle = load_diffusion(shipped_diffusion_folder(kind))
    interval, _ = interval_for(None, bundle)
    spacing, _ = spacing_for(None, bundle, STEPS)
    net, _ = guided_for(None, None, bundle, "cpu")
    if kind == "class":
        cond = torch.full((N_CLASS,), resolve_class(CLASS, bundle.class_names), dtype=torch.long)
    else:
        tokens, mask = encode_prompts(load_text_encoder("minilm"), [PROMPT], **token_layout(net.config))
        cond = (tokens.expand(N_TEXT, -1, -1), mask.expand(N_TEXT, -1))
    return sample(net, cond, sampler="ddim", steps=STEPS, guidance=GUIDANCE, guidance_interval=interval,
                  schedule=bundle.schedule, generator=make_generator(SEED, "cpu"), spacing=spacing)


def main() -> None:
    from safetensors.torch import save_file

    from genlens.cli.main import main as cli

    torch.set_num_threads(1)
    refs = {}
    for kind in ("class", "text"):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                cli(cli_args(kind, Path(tmp)))
            except SystemExit as e:
                if e.code:
                    sys.exit(f"genlens diffusion sample ({kind}) failed with exit code {e.code}")
            refs[f"{kind}_png"] = read_pngs(Path(tmp)).contiguous()
        refs[kind] = library_samples(kind).contiguous()
    save_file(refs, str(OUT))
    print(f"wrote {OUT}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in refs.items()))


if __name__ == "__main__":
    main()
