"""Which classifier-free guidance scale should `scenes-ddpm-layout` recommend? A development sweep (issue 27).

Scored with guidance 3 (the library default), the shipped layout diffusion model's samples come out saturated:
garments near-white and flat where real ones are grey and textured, and its FID under the locator's backbone is
about 67x the unconditional GAN's (bench/results/spatial.json). CFG at high scales is known to over-saturate
(Ho & Salimans 2022, sec. 4; Saharia et al. 2022, "Imagen", sec. 2.3). This script chooses the scale with
development measurements only, never the locator (the evaluator of bench/spatial.py) and never test scenes:

- layouts and real references: 256 **train** scenes (a fixed permutation, seed 1234);
- pixel statistics against those real scenes: mean foreground intensity (pixels > 0.1), the share of
  foreground pixels above 0.95 (saturation) and the 1-D Wasserstein distance between the foreground intensity
  distributions;
- layout following without a detector: the share of foreground mass inside the ground-truth boxes (dilated by
  one pixel), and the share of boxes holding foreground on at least 10 % of their area (an item is there).

    OMP_NUM_THREADS=1 .venv/bin/python experiments/layout_guidance.py      # about 10 CPU-minutes
Writes experiments/results/layout_guidance.json.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from genlens.data.layout import scene_layouts
from genlens.data.scenes import SceneConfig, load_scenes
from genlens.diffusion.pipeline import DiffusionPipeline

SCALES = (1.0, 1.5, 2.0, 3.0, 4.0)
N, SEED, FG = 256, 1234, 0.1


def stats(x: torch.Tensor, boxes: torch.Tensor, ref_fg: torch.Tensor | None = None) -> dict[str, float]:
    """x: (n, 1, H, W) in [0, 1]; boxes (n, K, 4) x0, y0, x1, y1 exclusive, -1 rows absent."""
    fg = x[x > FG]
    inside = torch.zeros_like(x, dtype=torch.bool)
    present, total = 0, 0
    h = x.shape[-1]
    for i in range(x.shape[0]):
        for x0, y0, x1, y1 in boxes[i].tolist():
            if x1 <= x0:
                continue
            inside[i, :, max(y0 - 1, 0):min(y1 + 1, h), max(x0 - 1, 0):min(x1 + 1, h)] = True
            total += 1
            present += int((x[i, :, y0:y1, x0:x1] > FG).float().mean() >= 0.1)
    mass = (x * (x > FG)).sum()
    out = {"fg_mean": fg.mean().item(), "fg_share_above_0.95": (fg > 0.95).float().mean().item(),
           "fg_pixels": (x > FG).float().mean().item(),
           "mass_inside_boxes": ((x * (x > FG) * inside).sum() / mass).item(),
           "boxes_with_item": present / total}
    if ref_fg is not None:  # 1-D Wasserstein-1 between the foreground intensity distributions (quantiles)
        q = torch.linspace(0, 1, 201)
        out["fg_w1_to_real"] = (torch.quantile(fg, q) - torch.quantile(ref_fg, q)).abs().mean().item()
    return out


def main() -> int:
    torch.set_num_threads(1)
    train = load_scenes(SceneConfig(split="train"))
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(SEED))[:N]
    real = train.images[idx].float() / 255
    boxes = train.boxes[idx]
    layouts = scene_layouts(train.subset(idx))
    pipe = DiffusionPipeline.from_folder("scenes-ddpm-layout").with_config(sampler="ddim", eta=0.0)
    result = {"n": N, "seed": SEED, "layouts": "train scenes", "sampler": "ddim-20, eta 0",
              "real": stats(real, boxes), "scales": {}}
    ref_fg = real[real > FG]
    cond = pipe.layout_condition(layouts)
    for s in SCALES:
        t0 = time.process_time()
        noise = torch.randn(N, 1, 32, 32, generator=torch.Generator().manual_seed(SEED))
        x = pipe.sample(cond, config=replace(pipe.config, guidance=s), noise=noise).float()
        result["scales"][str(s)] = {**stats(x, boxes, ref_fg), "cpu_s": time.process_time() - t0}
        print(s, json.dumps(result["scales"][str(s)]), file=sys.stderr, flush=True)
    out = Path(__file__).parent / "results" / "layout_guidance.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
