"""CPU budget of the layout diffusion model (issue 27: "in a few CPU-hours, like the class model").

Times training steps of the ``small`` denoiser, batch 64, on one and two CPU threads: ``layout`` (fashion-scenes
32×32, per-class blob channels rendered from each batch's ground truth) against ``class`` (Fashion-MNIST padded
to 32, the shipped class model's recipe), in alternating windows so a busy machine slows both alike. Each window
is ``train_diffusion`` for ``--steps`` steps; the first ``--skip`` steps of a window (start-up) are not timed.
Writes ``bench/results/layout_diffusion_budget.json``.

    OMP_NUM_THREADS=1 python bench/layout_diffusion_budget.py --threads 1 2 --windows 2
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from genlens.data.spec import load_data
from genlens.diffusion import DiffusionTrainConfig, UNetConfig, train_diffusion

OUT = Path(__file__).parent / "results" / "layout_diffusion_budget.json"


def window(cond: str, data, *, steps: int, skip: int, batch: int) -> float:
    """Images/s of the timed steps of one short training run."""
    extra = dict(max_items=int(data.classes.shape[1]), pad=0) if cond == "layout" else {}
    unet = UNetConfig.preset("small", cond, num_classes=10, **extra)
    cfg = DiffusionTrainConfig(unet=unet, steps=steps, batch_size=batch, warmup_steps=1,
                               data="fashion-scenes" if cond == "layout" else "fashion-mnist")
    stamps: list[float] = []
    train_diffusion(data.images, data.labels, config=cfg, scenes=data if cond == "layout" else None, device="cpu",
                    callback=lambda record: stamps.append(time.perf_counter()))
    timed = stamps[skip:]
    return batch * (len(timed) - 1) / (timed[-1] - timed[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--skip", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    data = {"layout": load_data("fashion-scenes:train").take(4096),
            "class": load_data("fashion-mnist:train").take(4096)}
    results = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        rates: dict[str, list[float]] = {"layout": [], "class": []}
        for _ in range(args.windows):
            for cond in ("layout", "class"):
                rates[cond].append(window(cond, data[cond], steps=args.steps, skip=args.skip, batch=args.batch))
                print(f"{threads} thread(s) {cond}: {rates[cond][-1]:.1f} img/s", flush=True)
        results[str(threads)] = {c: {"median_img_s": statistics.median(r), "windows": r} for c, r in rates.items()}
    record = {"batch": args.batch, "size": "small", "steps_per_window": args.steps, "skipped": args.skip,
              "load_average": os.getloadavg(), "cpu_count": os.cpu_count(), "results": results,
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
