"""Measurement: each trainer preset's parameter count and CPU cost per training step, for ``--help`` and the README.

For every UNet preset of ``genlens diffusion train --size`` (class-conditional, 10 classes) and every GAN size of
``genlens gan train --size`` (EqGAN-SA), on its own canvas, in grey and in colour: the parameters (the GAN: G and
D together), and the seconds one training step takes on ONE CPU thread at the stated batch (diffusion: one AdamW
step of the ε-prediction loss; GAN: one D and one G step, R1 every 4th step as in training), the median over
``--steps`` steps after one warm-up step, through the real trainers (random images: the cost does not depend on
them). The numbers are copied into ``src/genlens/utils/preset_costs.py``, which the ``--help`` texts read.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python experiments/presets.py --steps 4 --batch 8

Writes experiments/presets.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

OUT = Path(__file__).with_suffix(".json")
CANVAS = {"64": 64, "128": 128}  # every other preset draws 32 px


def diffusion_cost(size: str, channels: int, *, batch: int, steps: int) -> tuple[int, float]:
    from genlens.diffusion.config import PRESETS, SIZE_ALIASES, DiffusionTrainConfig, UNetConfig
    from genlens.diffusion.train import train_diffusion
    from genlens.diffusion.unet import Denoiser

    canvas = CANVAS.get(SIZE_ALIASES.get(size, size), 32)
    assert SIZE_ALIASES.get(size, size) in PRESETS
    unet = UNetConfig.preset(size, "class", num_classes=10, in_channels=channels, sample_size=canvas, pad=0)
    params = sum(p.numel() for p in Denoiser(unet).parameters())
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch * 2, channels, canvas, canvas), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (batch * 2,), generator=g)
    times: list[float] = []
    last = [time.perf_counter()]

    def tick(record: dict) -> None:
        now = time.perf_counter()
        if record.get("step", 0) > 1:  # the first step warms up
            times.append(now - last[0])
        last[0] = now

    config = DiffusionTrainConfig(unet=unet, steps=steps + 1, batch_size=batch, warmup_steps=1)
    train_diffusion(images, labels, config=config, device="cpu", callback=tick)
    return params, statistics.median(times)


def gan_cost(size: str, channels: int, *, batch: int, steps: int) -> tuple[int, float]:
    import dataclasses

    from genlens.gan.config import SIZE_ALIASES, SIZES, GanConfig
    from genlens.gan.train import GanPair, GanTrainConfig, train_gan

    assert SIZE_ALIASES.get(size, size) in SIZES
    config = dataclasses.replace(GanConfig.sized("eqgan-sa", size), img_channels=channels)
    params = sum(p.numel() for p in GanPair(config).parameters())
    s = config.resolution
    data = torch.rand(batch * 2, channels, s, s, generator=torch.Generator().manual_seed(0)) * 2 - 1
    times: list[float] = []
    last = [time.perf_counter()]

    def tick(record: dict) -> None:
        now = time.perf_counter()
        if record["step"] > 1:
            times.append(now - last[0])
        last[0] = now

    train_gan(model_config=config, config=GanTrainConfig(total_steps=steps + 1, batch_size=batch, device="cpu"),
              data=data, callback=tick)
    return params, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per preset (after one warm-up step)")
    parser.add_argument("--batch", type=int, default=8, help="images per training step")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    load_before = os.getloadavg()[0]
    for family, sizes, measure in (("diffusion", ("base", "small", "64", "128"), diffusion_cost),
                                   ("gan", ("default", "half", "64", "128"), gan_cost)):
        for size in sizes:
            row = {"family": family, "size": size, "batch": args.batch}
            for channels, tag in ((1, "grey"), (3, "colour")):
                params, seconds = measure(size, channels, batch=args.batch, steps=args.steps)
                row[f"params_{tag}"] = params
                row[f"s_per_step_{tag}"] = round(seconds, 3)
            row["canvas"] = CANVAS.get(size, 32)
            print(json.dumps(row), flush=True)
            rows.append(row)
    OUT.write_text(json.dumps({"what": "parameters and one-thread CPU seconds per training step of each preset",
                               "command": "OMP_NUM_THREADS=1 experiments/presets.py "
                                          f"--steps {args.steps} --batch {args.batch}",
                               "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
                               "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                               # other work on the machine slows every step: the 1-minute load average before and
                               # after the run says how busy it was (on a busy machine, treat the times as upper bounds)
                               "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                               "rows": rows}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
