"""Reference samples of the shipped diffusion models, for tests/diffusion/test_shipped_refs.py.

    PYTHONPATH=src OMP_NUM_THREADS=1 python tests/diffusion/data/make_refs.py

Draws a few images with DDIM at 5 steps and fixed seeds from ``fmnist-ddpm`` (class model, its recommended
settings: autoguidance guide, guidance interval, timestep spacing) and ``fmnist-ddpm-text`` (a prompt, without
caption anchors, so no caption index is built), two ways: ``genlens diffusion sample`` (the PNGs it writes, uint8)
and the library call the CLI makes (float). Written at commit 0c3aaea, before the diffusion pipeline (whose
library path then was load_diffusion, the CLI's guide/interval/spacing resolution and sample()), so the test
checks that the refactor kept the samples; rerun only when a change of the samples is intended, and
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
    """(N, 1, 28, 28) floats in [0, 1]: the library call ``diffusion sample`` makes (the pipeline, with the
    model's recommended settings)."""
    from genlens.diffusion.pipeline import DiffusionPipeline
    from genlens.utils.seed import make_generator

    name, what, n = ("fmnist-ddpm", CLASS, N_CLASS) if kind == "class" else ("fmnist-ddpm-text", PROMPT, N_TEXT)
    pipe = DiffusionPipeline.from_folder(name, steps=STEPS, guidance=GUIDANCE, anchors=0)
    return pipe.sample(what, n, generator=make_generator(SEED, "cpu"))


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
