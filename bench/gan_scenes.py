"""GAN costs on fashion-scenes (issue 27): training step time per arch and the CPU-hours to ~80 kimg, and the
fast renderer's time per image (the "drag" loop) for the layout GAN, each against a peer in the same run.

One thread (``torch.set_num_threads(1)``), the way the long CPU runs train (two runs share a 2-core machine).
Training: ``--steps`` steps of each arch at batch 64 on real scenes (lazy R1 included, every 4th step), the
mean after one warm-up step. Render: the layout GAN's ``FixedLatentRenderer`` on a two-item layout against
EqGAN-SA's on its heatmaps, interleaved so both see the same machine load; the load average is recorded.

    python bench/gan_scenes.py --size half --steps 8 --out bench/results/gan_scenes.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, load_average, summarize, write_json

from genlens.gan import ALL_ARCHS, FixedLatentRenderer, GanTrainConfig, Generator, train_gan
from genlens.gan.config import GanConfig
from genlens.gan.data import load_gan_data
from genlens.gan.layout import layout_channels, train_inputs

KIMG = 80  # the budget per model
BATCH = 64
LAYOUT = "Sneaker@0.25,0.7;Bag@0.7,0.3"


def train_step_seconds(arch: str, data, images: torch.Tensor, *, size: str, steps: int) -> list[float]:
    """Seconds of each training step after the first (which pays one-off allocations)."""
    inputs = train_inputs(arch, data, images, None, size=size)
    times: list[float] = []
    last = [time.perf_counter()]

    def tick(_record) -> None:
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    train_gan(config=GanTrainConfig(total_steps=steps + 1, batch_size=BATCH, device="cpu"), callback=tick, **inputs)
    return times[1:]


def render_ms(size: str, repeats: int) -> dict[str, dict]:
    """ms per image of the fast renderer, the layout GAN and EqGAN-SA interleaved (untrained weights: the same
    arithmetic as trained ones)."""
    from genlens.data.fashion_mnist import CLASS_NAMES
    from genlens.data.layout import parse_layout

    layout_cfg = GanConfig.sized("layout", size, class_names=CLASS_NAMES, max_items=3)
    calls = {}
    with torch.inference_mode():
        for arch in ("layout", "eqgan-sa"):
            G = Generator(layout_cfg if arch == "layout" else GanConfig.sized(arch, size)).eval()
            R = FixedLatentRenderer(G, G.mapping(torch.randn(1, G.config.z_dim)))
            if arch == "layout":
                lay = layout_channels(layout_cfg, [parse_layout(LAYOUT, CLASS_NAMES)[0]])
                calls[arch] = lambda R=R, lay=lay: R(layout=lay)
            else:
                heat = G.sample_heatmaps(1)
                calls[arch] = lambda R=R, heat=heat: R(heat)
        samples: dict[str, list[float]] = {k: [] for k in calls}
        for i in range(repeats + 3):
            for k, fn in calls.items():
                t = time.perf_counter()
                fn()
                if i >= 3:
                    samples[k].append(1000 * (time.perf_counter() - t))
    return {k: summarize(v) for k, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="half", choices=("default", "half", "tiny"))
    p.add_argument("--steps", type=int, default=8, help="Timed training steps per arch.")
    p.add_argument("--archs", nargs="+", default=list(ALL_ARCHS), choices=ALL_ARCHS)
    p.add_argument("--render-repeats", type=int, default=50)
    p.add_argument("--data", default="fashion-scenes")
    p.add_argument("--out", type=Path, default=Path("bench/results/gan_scenes.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    images, data = load_gan_data(args.data, "train")
    result = {"benchmark": "gan_scenes", "data": args.data, "size": args.size, "batch": BATCH, "threads": 1,
              "load_average_before": load_average(),
              "environment": environment(torch.device("cpu")), "render_ms": render_ms(args.size, args.render_repeats),
              "train": {}}
    for arch in args.archs:
        secs = train_step_seconds(arch, data, images, size=args.size, steps=args.steps)
        step_s = statistics.mean(secs)
        hours = KIMG * 1000 / BATCH * step_s / 3600
        result["train"][arch] = {"step_s": summarize(secs), "mean_step_s": step_s, f"cpu_hours_{KIMG}kimg": hours}
        print(f"{arch}: {step_s:.2f} s/step at batch {BATCH} -> {hours:.1f} CPU-hours to {KIMG} kimg", flush=True)
    result["load_average_after"] = load_average()
    r = result["render_ms"]
    print(f"render ms/image (1 thread): layout {r['layout']['median']:.1f} (min {r['layout']['min']:.1f}), "
          f"eqgan-sa {r['eqgan-sa']['median']:.1f} (min {r['eqgan-sa']['min']:.1f}); "
          f"load {result['load_average_after']}")
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
