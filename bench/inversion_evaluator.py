"""Inversion recognisability under the evaluator: the committed inversion grids judged once by ``genlens-eval``.

``bench/inversion.py`` (the shipped ``pii`` preset and its peers, 600-step budget, seeds 0-2, four zoo
architectures, all ten classes) saved every inversion as a PNG grid in ``bench/results/inversion/``: one row
of ten 28x28 images, classes 0-9 in order, 2 px padding, upscaled 2x. This script reads those grids back
(exactly the pixels a person sees: 8-bit, as saved) and judges them with the evaluator, which no preset was
chosen on (issue 30: "choose it with the development judges, fix it, then score it once with the
evaluator"). Per method: accuracy per architecture, the mean over the four architectures, a t interval over
the three seeds of that mean, and a bootstrap interval over all judged images.

    .venv/bin/python bench/inversion_evaluator.py
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, write_json

from genlens.metrics import bootstrap_interval, extractor_for, seed_interval
from genlens.metrics.intervals import verdict

SCHEMA = 1
RESULTS = Path(__file__).parent / "results"
# Declared before the run: which grids, which judge, the target of issue 30 (PII as shipped >= 70 %).
CONFIG: dict[str, Any] = {
    "grids": "bench/results/inversion", "judge": "genlens-eval", "seeds": [0, 1, 2],
    "archs": ["fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"],
    "methods": ["pii", "pii-paper", "deepdream", "deepinversion", "lucent", "torch-dreams"],
    "classes": 10, "cell": 28, "padding": 2, "upscale": 2, "resamples": 10_000,
    "target": {"method": "pii", "accuracy": 0.70},
}


def grid_path(folder: Path, method: str, arch: str, seed_index: int) -> Path:
    """The file name bench/inversion.py gives a grid (its first seed has no suffix)."""
    suffix = "" if seed_index == 0 else f"_seed{CONFIG['seeds'][seed_index]}"
    return folder / f"{method}_{arch}{suffix}.png"


def read_grid(path: Path, *, classes: int, cell: int, padding: int, upscale: int) -> torch.Tensor:
    """(classes, 1, cell, cell) in [0, 1] from a one-row grid written by ``save_grid(nrow=classes)``."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    arr = arr[::upscale, ::upscale]  # the upscale is nearest-neighbour, so every other pixel is the original
    want = (cell + 2 * padding, classes * (cell + padding) + padding)
    if arr.shape != want:
        raise SystemExit(f"{path}: grid is {arr.shape} px after un-upscaling, expected {want}")
    cells = [arr[padding : padding + cell, padding + i * (cell + padding) : padding + i * (cell + padding) + cell]
             for i in range(classes)]
    return torch.from_numpy(np.stack(cells))[:, None]


def measure(config: dict[str, Any], root: Path) -> dict[str, Any]:
    judge = extractor_for(config["judge"])
    labels = torch.arange(config["classes"])
    methods: dict[str, Any] = {}
    for method in config["methods"]:
        per_arch, per_seed_mean, units, missing = {}, [], [], []
        for si in range(len(config["seeds"])):
            accs = []
            for arch in config["archs"]:
                path = grid_path(root / config["grids"], method, arch, si)
                if not path.is_file():
                    missing.append(path.name)
                    continue
                x = read_grid(path, classes=config["classes"], cell=config["cell"], padding=config["padding"],
                              upscale=config["upscale"])
                correct = (judge.logits(x).argmax(1) == labels).double()
                units.append(correct)
                accs.append(float(correct.mean()))
                per_arch.setdefault(arch, []).append(float(correct.mean()))
            if len(accs) == len(config["archs"]):
                per_seed_mean.append(sum(accs) / len(accs))
        row: dict[str, Any] = {"per_arch": {a: sum(v) / len(v) for a, v in per_arch.items()},
                               "per_seed_mean_over_archs": per_seed_mean, "missing": missing}
        if units:
            row["bootstrap_over_images"] = bootstrap_interval(torch.cat(units), resamples=config["resamples"]).to_dict()
        if len(per_seed_mean) >= 3:
            row["seed_interval"] = seed_interval(per_seed_mean).to_dict()
        methods[method] = row
    t = config["target"]
    pii = methods[t["method"]]
    target = {**t, "verdict": verdict(seed_interval(pii["per_seed_mean_over_archs"]), t["accuracy"],
                                      higher_is_better=True) if "seed_interval" in pii else "not measured"}
    return {"judge": judge.name, "methods": methods, "target": target}


def table(result: dict[str, Any]) -> str:
    cfg = result["config"]
    rows = [f"Judge `{result['judge']}` on the committed grids of `bench/inversion.py` (its budget and seeds); "
            "mean over the four architectures [95 % t interval over seeds].", "",
            "| method | " + " | ".join(cfg["archs"]) + " | mean [95 % CI] |", "|---|" + "---:|" * (len(cfg["archs"]) + 1)]
    for m, r in result["methods"].items():
        si = r.get("seed_interval")
        mean = f"{100 * si['estimate']:.1f} [{100 * si['low']:.1f}, {100 * si['high']:.1f}]" if si else "n/a"
        rows.append(f"| {m} | " + " | ".join(f"{100 * r['per_arch'][a]:.0f}" if a in r["per_arch"] else "n/a"
                                              for a in cfg["archs"]) + f" | {mean} |")
    t = result["target"]
    rows += ["", f"Target: `{t['method']}` at least {100 * t['accuracy']:.0f} % judged by the evaluator: {t['verdict']}."]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / "inversion_evaluator.json")
    args = p.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    result = {"benchmark": "inversion_evaluator", "schema": SCHEMA, "config": CONFIG, **measure(CONFIG, root),
              "environment": environment(torch.device("cpu"))}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
