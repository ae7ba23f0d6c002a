"""Real-data floors and the judge's ceiling under one extractor, pre-registered, with 95 % intervals.

Every generated-set score is read against the same score of real against real at the same sample size
(issue 30). This benchmark declares its seeds and sample size before it runs (``CONFIG`` below, copied
into the result file), then, for each seed, splits the Fashion-MNIST test set into two disjoint random
halves of ``n`` images and measures FID, KID and improved precision/recall between them. Headlines are
means over the seeds with a Student-t interval; precision/recall of the first seed also get a bootstrap
interval over images, and the judge's top-1 on the whole test split a bootstrap interval over images.

    .venv/bin/python bench/evaluator.py                                  # genlens-eval (needs its weights)
    .venv/bin/python bench/evaluator.py --features genlens-fmnist --out /tmp/floors-dev.json
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, write_json

from genlens.data.fashion_mnist import load_fashion_mnist
from genlens.metrics import (
    bootstrap_interval,
    extractor_for,
    fid_from_features,
    kid_from_features,
    seed_interval,
)
from genlens.metrics.precision_recall import precision_recall_flags

SCHEMA = 1
CONFIG: dict[str, Any] = {"n": 5000, "seeds": [0, 1, 2], "k": 3, "kid_subsets": 50, "kid_subset_size": 1000,
                          "resamples": 10_000}


def measure(features: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, *, extractor: str,
            config: dict[str, Any]) -> dict[str, Any]:
    """Floors from (N, D) test features and the judge's top-1 from (N, K) logits, as a result dict."""
    n = config["n"]
    if 2 * n > features.shape[0]:
        raise SystemExit(f"n = {n} needs {2 * n} test images; the split has {features.shape[0]}")
    per_seed: dict[str, list[float]] = {"fid": [], "kid": [], "precision": [], "recall": []}
    first_flags = None
    for seed in config["seeds"]:
        perm = torch.randperm(features.shape[0], generator=torch.Generator().manual_seed(seed))
        a, b = features[perm[:n]], features[perm[n : 2 * n]]  # disjoint halves
        per_seed["fid"].append(fid_from_features(a, b))
        per_seed["kid"].append(kid_from_features(
            a, b, subsets=config["kid_subsets"], subset_size=config["kid_subset_size"],
            generator=torch.Generator().manual_seed(seed))[0])
        fake_in, real_in = precision_recall_flags(a, b, k=config["k"])
        per_seed["precision"].append(float(fake_in.double().mean()))
        per_seed["recall"].append(float(real_in.double().mean()))
        first_flags = first_flags or (fake_in, real_in)
    floors = {m: {"per_seed": v, "interval": seed_interval(v).to_dict()} for m, v in per_seed.items()}
    for name, flags in zip(("precision", "recall"), first_flags):
        floors[name]["bootstrap_first_seed"] = bootstrap_interval(flags.double(), resamples=config["resamples"]).to_dict()
    correct = (logits.argmax(1) == labels).double()  # (N,) the per-image unit
    return {"extractor": extractor, "judge": extractor, "floors": floors,
            "judge_top1": bootstrap_interval(correct, resamples=config["resamples"]).to_dict()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", default="genlens-eval", help="extractor and judge (default: the evaluator)")
    p.add_argument("--n", type=int, default=CONFIG["n"], help="images per half")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "evaluator.json")
    args = p.parse_args(argv)
    config = {**CONFIG, "n": args.n}
    t0 = time.perf_counter()
    test = load_fashion_mnist("test")
    ext = extractor_for(args.features)
    x = test.float_images()
    result = {"benchmark": "evaluator", "schema": SCHEMA, "config": config,
              **measure(ext.features(x), ext.logits(x), test.labels, extractor=ext.name, config=config),
              "seconds": round(time.perf_counter() - t0, 1), "environment": environment(torch.device("cpu"))}
    write_json(args.out, result)
    return result


def table(result: dict[str, Any]) -> str:
    """Markdown for bench/README.md: the floors (two disjoint real halves) and the judge's own top-1."""
    cfg, f = result["config"], result["floors"]
    rows = [f"Extractor and judge `{result['extractor']}`; two disjoint random halves of {cfg['n']} test images per "
            f"seed {cfg['seeds']}; mean [95 % t interval over seeds].", "",
            "| FID | KID | precision | recall | judge top-1 % (bootstrap over test images) |", "|---:|---:|---:|---:|---:|"]
    cell = [f"{f[m]['interval']['estimate']:.4f} [{f[m]['interval']['low']:.4f}, {f[m]['interval']['high']:.4f}]"
            for m in ("fid", "kid", "precision", "recall")]
    t = result["judge_top1"]
    rows.append("| " + " | ".join(cell) + f" | {100 * t['estimate']:.2f} [{100 * t['low']:.2f}, {100 * t['high']:.2f}] |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
