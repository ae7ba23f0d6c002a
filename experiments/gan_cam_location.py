"""Where does the discriminator's Grad-CAM sit: on the object or on the background? (issue 5, editing)

The alignment loss (EqGAN-SA, arXiv 2112.00718, eq. 3-4) pulls D's Grad-CAM on a fake image towards G's input
heatmap. If the CAM marks the object, G can satisfy it by moving object mass under the heatmap (the edit
follows the heatmap); if it marks the background, by clearing the region under the heatmap (the edit runs
away from it). For each trained run (``RUN_DIR/last``: G, D and the EMA of G) this measures, per level, the
per-image Pearson correlation between the normalised CAM and

* the image's brightness (Fashion-MNIST objects are bright on black): ``object`` on fresh fakes and on
  held-out real test images;
* G's input heatmap of that level: ``heatmap`` on fakes,

for both CAM choices (``genlens.gan.spatial.alignment_loss``'s ``cam_score``): ``g-loss``, the gradient of
G's loss softplus(-D) as the issue and the official code (where D sees evidence of fake), and ``real``, the
gradient of D's logit (where D sees evidence of real; experiments/gan_variants.py align_real). Means over
``--n`` images; seconds on a CPU. The recorded run (``gan_cam_location.json`` beside this script; the run dirs
of bench/gan.py and of the align_real variant):

    python experiments/gan_cam_location.py runs/gan-rcurve/eqgan-sa-s0 runs/gan-realcam/eqgan-sa-s0
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, write_json
from gan_variants import real_logit

from genlens.gan.spatial import LEVELS, alignment_loss, g_loss_score

HERE = Path(__file__).resolve().parent


CAM_SCORES = {"g-loss": g_loss_score, "real": real_logit}  # the scalar whose Grad-CAM is compared


def image_corr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over images of the Pearson correlation between two (B, H, W) maps (flat images count as 0)."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    denom = a.norm(dim=1) * b.norm(dim=1)
    r = torch.where(denom > 0, (a * b).sum(1) / denom.clamp_min(1e-12), torch.zeros_like(denom))
    return float(r.mean())


def cam_location(G: Any, D: Any, real: torch.Tensor, *, n: int, seed: int) -> dict[str, Any]:
    """Per CAM choice and level: correlation of the CAM with the object (fakes, reals) and the heatmap."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.config.z_dim, generator=g)
    heat = G.sample_heatmaps(n, generator=g)
    with torch.no_grad():
        fake = G(z, heat, noise_mode="const")
    real = real[:n]
    real_heat = G.sample_heatmaps(len(real), generator=g)  # only shapes the call; the CAM of a real ignores it
    out: dict[str, Any] = {}
    for cam_of, score in CAM_SCORES.items():
        on_fake = alignment_loss(D, fake, heat, cam_score=score).cams
        on_real = alignment_loss(D, real, real_heat, cam_score=score).cams
        out[cam_of] = {str(lv): {"object_fake": image_corr(on_fake[lv], (fake[:, 0] + 1) / 2),
                                 "object_real": image_corr(on_real[lv], (real[:, 0] + 1) / 2),
                                 "heatmap_fake": image_corr(on_fake[lv], heat.maps[lv][:, 0])} for lv in LEVELS}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="GAN run dirs (bench/gan.py --run-root ARCH-sSEED or genlens gan train --run-dir) "
                   "of generators with the shipped layout")
    p.add_argument("--n", type=int, default=256, help="fakes and held-out reals per run (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=str(HERE / "gan_cam_location.json"))
    args = p.parse_args(argv)
    from genlens.gan.data import fmnist_32
    from genlens.gan.di import load_training_checkpoint
    from genlens.training.checkpoint import read_checkpoint_state

    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    real = fmnist_32("test", data_dir=args.data_dir, limit=args.n)
    results = []
    for run in args.runs:
        _, D, G_ema = load_training_checkpoint(run)
        state = read_checkpoint_state(run)
        train = state.get("config", {}).get("train", {})
        # align_cam: how the run was trained, as genlens recorded it before issue 28 (later runs: unknown)
        results.append({"run": run, "arch": G_ema.config.arch, "step": int(state["step"]),
                        "align_cam": train.get("align_cam"), "cams": cam_location(G_ema, D, real, n=args.n, seed=args.seed)})
    result = {"benchmark": "gan_cam_location", "env": environment(torch.device("cpu")), "n": args.n,
              "definitions": {"object_fake": "mean per-image Pearson r of the CAM with the fake's brightness",
                              "object_real": "the same on held-out real test images",
                              "heatmap_fake": "mean per-image Pearson r of the CAM with G's input heatmap of the level",
                              "g-loss": "Grad-CAM of softplus(-D(x)), as the issue and the official code",
                              "real": "Grad-CAM of D's raw logit"},
              "runs": results, "wall_seconds": time.perf_counter() - t0}
    path = write_json(args.out, result)
    for r in results:
        for cam_of, levels in r["cams"].items():
            row = "  ".join(f"L{lv} obj {v['object_fake']:+.2f}/{v['object_real']:+.2f} heat {v['heatmap_fake']:+.2f}"
                            for lv, v in levels.items())
            print(f"{r['run']} (trained with {r['align_cam']}) CAM {cam_of}: {row}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
