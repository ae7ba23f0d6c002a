"""Control experiment for the editing target (issue 5): is it Fashion-MNIST's centring that stops the
heatmap from moving objects?

Every Fashion-MNIST object sits in the middle of its frame, so a generator that moved an object along with
its level-1 heatmap would make images no real sample looks like. This trains the same half-width EqGAN-SA
(``genlens.gan.train.train_gan``, the settings of ``bench/gan.py``) on "placed" Fashion-MNIST: each item
downscaled 28 -> 20 px (antialiased) and pasted at a random, per-image fixed offset of 0-12 px on the black
32x32 canvas, so object positions vary as much as the level-1 centres do (about ±0.4 in [-1, 1] units).
If centring were the only obstacle, the editing correlation here should be clearly higher. For scale, the
JSON also holds the score of untrained generators of the same shape (three initialisations).

    python experiments/gan_placed.py --seeds 0 1          # 40.4 kimg each, ~30 min per seed on one thread
    python experiments/gan_placed.py --quick              # tiny smoke run, < 1 min

The same 40.4-kimg run on the ordinary (centred) data, and with the official code's wider heatmap sigmas for
levels 2/3 (``--heat-sigmas official``: ``genlens.gan.spatial.sample_official_heatmaps`` injected into the
generator), separates the two causes (recorded in ``gan_editing_sigmas.json`` beside this script):

    python experiments/gan_placed.py --data centred --heat-sigmas narrow official --seeds 0 1 --fid-n 5000 \
        --threads 2 --out experiments/gan_editing_sigmas.json

The run directory keeps the checkpoint, so the same command resumes (or, once finished, only re-scores).
Writes ``experiments/gan_placed.json`` and a PNG (four latents of the first seed, level-1 centre moved left
to right, each with its signed change).
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from common import environment, write_json

from genlens.gan.data import fmnist_32
from genlens.gan.evaluate import editing_correlation, fid_kid
from genlens.gan.networks import GanConfig, Generator
from genlens.gan.spatial import sample_heatmaps, sample_official_heatmaps
from genlens.gan.train import GanTrainConfig, measure_di, train_gan

HERE = Path(__file__).resolve().parent

SAMPLERS = {"narrow": sample_heatmaps, "official": sample_official_heatmaps}  # heatmap sigmas -> injected sampler
EDIT_SEED = 12345 + 3  # bench/gan.py: FID_SEED + 3
ITEM, CANVAS = 20, 32


def placed(images32: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(N, 1, 32, 32) padded Fashion-MNIST in [-1, 1] -> the same items at ITEM px, pasted at random offsets."""
    x = F.interpolate(images32[:, :, 2:30, 2:30], size=ITEM, mode="bilinear", antialias=True, align_corners=False)
    out = torch.full((len(x), 1, CANVAS, CANVAS), -1.0)
    off = torch.randint(0, CANVAS - ITEM + 1, (len(x), 2), generator=gen)
    for i, (oy, ox) in enumerate(off.tolist()):
        out[i, :, oy:oy + ITEM, ox:ox + ITEM] = x[i]
    return out


def _strip_png(G: Generator, path: Path, latents: int = 4) -> Path:
    """Per latent: the level-1 centre moved left to right (9 frames), then each frame minus the middle one
    (grey = no change, white = brighter, black = darker; scaled per row)."""
    import torchvision

    edit = importlib.import_module("genlens.gan.edit")
    rows = []
    for s in range(latents):
        z, heat = edit.latents(G, 1, s)
        frames = torch.cat([edit.render(G, z, edit.move_level(heat, 1, (float(x), 0.0), size=CANVAS), seed=s)
                            for x in torch.linspace(-0.8, 0.8, 9)])
        diff = frames - frames[4:5]
        scale = diff.abs().flatten().quantile(0.99).clamp_min(1e-6)
        rows += [frames * 0.5 + 0.5, (0.5 + 0.5 * diff / scale).clamp(0, 1)]
    big = F.interpolate(torch.cat(rows), scale_factor=3, mode="nearest")
    path.parent.mkdir(parents=True, exist_ok=True)
    torchvision.utils.save_image(big, path, nrow=9, padding=3, pad_value=0.5)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=632,
                   help="batches of 64 (632 = 40.4 kimg, bench/gan.py's 40-kimg comparison point)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--data", choices=("placed", "centred"), default="placed",
                   help="placed: items at random offsets (the control); centred: Fashion-MNIST as bench/gan.py uses it")
    p.add_argument("--fid-n", type=int, default=0, help="samples for FID/KID against the test set (centred data "
                   "only; 0: skip)")
    p.add_argument("--heat-sigmas", nargs="+", choices=("narrow", "official"), default=["narrow"],
                   help="heatmap sigma sets to train (each seed once per set)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--edit-latents", type=int, default=64)
    p.add_argument("--run-root", type=Path, default=None, help="default runs/gan-placed (eqgan-sa-s<seed> inside)")
    p.add_argument("--out", type=Path, default=None, help="default experiments/gan_placed.json")
    p.add_argument("--data-dir", type=Path, default=None, help="Fashion-MNIST IDX folder (default: the usual search)")
    p.add_argument("--quick", action="store_true",
                   help="tiny networks, 4 steps, 512 images (smoke test; writes under runs/gan-placed/quick)")
    args = p.parse_args(argv)
    root = args.run_root or Path("runs/gan-placed") / ("quick" if args.quick else "")
    args.out = args.out or (root / "quick.json" if args.quick else HERE / "gan_placed.json")
    torch.set_num_threads(args.threads)

    limit = 512 if args.quick else None
    gen = torch.Generator().manual_seed(123)
    data, held_out = fmnist_32("train", data_dir=args.data_dir, limit=limit), fmnist_32("test", data_dir=args.data_dir, limit=limit)
    if args.data == "placed":
        data, held_out = placed(data, gen), placed(held_out, gen)
    held_out = held_out[:1024]
    if args.fid_n and args.data != "centred":
        raise SystemExit("--fid-n compares with the (centred) test set; use it with --data centred")
    test_ref = None
    if args.fid_n:
        from genlens.data.fashion_mnist import load_fashion_mnist
        from genlens.gan.evaluate import reference

        test_ref = reference(load_fashion_mnist("test", data_dir=args.data_dir).float_images())
    if args.quick:
        cfg, steps = GanConfig.tiny("eqgan-sa"), 4
    else:  # bench/gan.py's "half" width
        cfg = GanConfig(arch="eqgan-sa", g_channels=(128, 128, 64, 32), d_channels=(32, 64, 128, 128), sel_hidden=32)
        steps = args.steps
    t0 = time.perf_counter()
    runs, png = [], args.out.with_suffix(".png")
    for sigmas in args.heat_sigmas:
        for seed in args.seeds:
            tcfg = GanTrainConfig(total_steps=steps, batch_size=64, seed=seed, device="cpu",
                                  checkpoint_every=100, di_every=100)
            # the first runs (placed, narrow) keep their original folder names
            tag = "" if (args.data, sigmas) == ("placed", "narrow") else f"-{args.data}-{sigmas}"
            run = train_gan(model_config=cfg, config=tcfg, data=data, held_out=held_out,
                            run_dir=root / f"eqgan-sa{tag}-s{seed}", resume=True,
                            make_generator=partial(Generator, heat_sampler=SAMPLERS[sigmas]))
            G = run.G_ema.eval()
            # bench/gan.py's editing score (content displacement vs heatmap shift), on the same latents.
            runs.append({"seed": seed, "heat_sigmas": sigmas, "steps": run.step, "kimg": run.step * 64 / 1000,
                         "editing": editing_correlation(G, latents_n=args.edit_latents, seed=EDIT_SEED),
                         # bench/gan.py's DI: trained G and D, held-out reals vs fresh fakes
                         "di": measure_di(run.pair.G, run.pair.D, held_out, n=min(1024, len(held_out)),
                                          seed=tcfg.seed + 7919)})
            if args.fid_n:  # bench/gan.py's final FID/KID (genlens-fmnist, the full test set, the same latents)
                fk = fid_kid(G, args.fid_n, test_ref, seed=EDIT_SEED - 2)
                runs[-1].update(fid=fk["fid"].value, kid=fk["kid"].value, fid_n=args.fid_n)
            if seed == args.seeds[0]:
                _strip_png(G, png if sigmas == args.heat_sigmas[0] else png.with_name(f"{png.stem}-{sigmas}.png"))
    # The same score for untrained generators of the same shape: the "no learned spatial control" reference.
    untrained = []
    for s in range(3):
        torch.manual_seed(s)
        untrained.append(editing_correlation(Generator(cfg).eval(), latents_n=args.edit_latents,
                                             seed=EDIT_SEED)["correlation"])
    rs = [r["editing"]["correlation"] for r in runs]
    by_sigmas = {sg: [r["editing"]["correlation"] for r in runs if r["heat_sigmas"] == sg] for sg in args.heat_sigmas}
    result = {
        "benchmark": "gan_placed", "schema": 1, "env": environment(torch.device("cpu")),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]),
        "data": (f"Fashion-MNIST train, items {ITEM} px at random offsets on a {CANVAS}x{CANVAS} canvas"
                 if args.data == "placed" else "Fashion-MNIST train, centred, padded 28 -> 32 (as bench/gan.py)"),
        "arch": "eqgan-sa", "seconds_this_call": time.perf_counter() - t0, "runs": runs,
        "editing_correlation": {"mean": sum(rs) / len(rs), "per_seed": rs},
        "editing_by_heat_sigmas": {sg: {"mean": sum(v) / len(v), "per_seed": v} for sg, v in by_sigmas.items()},
        "editing_untrained": {"correlation": untrained, "init_seeds": [0, 1, 2]},
        "png": str(png),
    }
    write_json(args.out, result)
    print(json.dumps({"editing_r": by_sigmas, "untrained_r": untrained, "kimg": [r["kimg"] for r in runs]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
