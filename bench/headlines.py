"""The README's headlines restated under the evaluator ``genlens-eval``, pre-registered, with 95 % intervals.

Issue 30: the numbers genlens reports come from a network nothing was tuned on. ``CONFIG`` below declares the
evaluation seeds, sample sizes and targets before anything runs and is copied into the result file. Parts:

- ``zoo``: each shipped classifier's test top-1 with a bootstrap interval over the 10,000 test images, and
  the agreement of each zoo model with the evaluator.
- ``diffusion``: the shipped class model at its recommended settings; per seed ``n`` class-balanced samples;
  FID/KID against the 10,000 test images, improved precision/recall (k = 3) against ``n`` test images drawn
  with the seed, and class accuracy judged by the evaluator (the zoo CNN beside it, for contrast). The floor is
  the same FID of ``n`` *training* images drawn with the seed, so the bar (3 x floor) is at equal sample size.
- ``gan``: each shipped GAN, the same scores plus class coverage judged by the evaluator; the EqGAN-SA claim
  ("better FID than the StyleGAN2 baseline") as a paired difference over seeds.

Seed intervals are Student-t over the seeds (``seed_interval``); image-level intervals are bootstraps.
Each part is written to the result file as soon as it finishes, so parts can run on separate days:

    OMP_NUM_THREADS=1 .venv/bin/python bench/headlines.py --parts zoo gan diffusion
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, write_json

from genlens.data.fashion_mnist import load_fashion_mnist
from genlens.metrics import bootstrap_interval, extractor_for, fid_from_features, kid_from_features, seed_interval
from genlens.metrics.intervals import verdict
from genlens.metrics.precision_recall import precision_recall_flags

SCHEMA = 1
OUT = Path(__file__).parent / "results" / "headlines.json"
# Declared before the first run; a change of any value is a new pre-registration (say so in the commit).
CONFIG: dict[str, Any] = {
    "features": "genlens-eval",  # extractor of every FID/KID/precision/recall here
    "judge": "genlens-eval",  # judge of every class accuracy and coverage here
    "contrast_judge": "fmnist-cnn",  # the development judge, recorded beside it, never used for a verdict
    "seeds": [0, 1, 2],
    "k": 3,  # precision/recall neighbourhood (Kynkäänniemi et al. 2019)
    "kid_subsets": 50,
    "kid_subset_size": 1000,
    "resamples": 10_000,
    "zoo": {"models": ["fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"]},
    "diffusion": {"model": "fmnist-ddpm", "n": 2000, "batch": 250, "fid_bar_times_floor": 3.0},
    "gan": {"models": ["fmnist-gan", "fmnist-sel-only", "fmnist-eqgan"], "n": 10_000, "batch": 500,
            "compare": ["fmnist-eqgan", "fmnist-gan"]},
}
PARTS = ("zoo", "diffusion", "gan")


def _interval(values: list[float]) -> dict[str, Any]:
    return {"per_seed": values, "interval": seed_interval(values).to_dict()}


def _subset(n: int, total: int, seed: int) -> torch.Tensor:
    return torch.randperm(total, generator=torch.Generator().manual_seed(10_000 + seed))[:n]


class Scorer:
    """The evaluator's features of the test (and training) split, computed once, and every score per sample set."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.ext = extractor_for(config["features"])
        self.judge = extractor_for(config["judge"])
        self.contrast = extractor_for(config["contrast_judge"])
        test = load_fashion_mnist("test")
        self.test_labels = test.labels
        self.test_features = self.ext.features(test.float_images())
        self._train = None

    def train_images(self) -> torch.Tensor:
        if self._train is None:
            self._train = load_fashion_mnist("train").float_images()
        return self._train

    def sample_set(self, images01: torch.Tensor, *, seed: int) -> dict[str, float]:
        """FID/KID against all test images, precision/recall against as many test images (drawn with the seed)."""
        c = self.config
        fake = self.ext.features(images01)
        n = fake.shape[0]
        real = self.test_features[_subset(n, self.test_features.shape[0], seed)]
        fake_in, real_in = precision_recall_flags(real, fake, k=c["k"])
        kid = kid_from_features(self.test_features, fake, subsets=c["kid_subsets"],
                                subset_size=min(c["kid_subset_size"], n),
                                generator=torch.Generator().manual_seed(seed))[0]
        return {"fid": fid_from_features(self.test_features, fake), "kid": kid,
                "precision": float(fake_in.double().mean()), "recall": float(real_in.double().mean())}

    def floor(self, n: int, *, seed: int) -> float:
        """FID of n training images (drawn with the seed) against the test images: the best a generator can do."""
        train = self.train_images()
        return fid_from_features(self.test_features, self.ext.features(train[_subset(n, train.shape[0], seed)]))

    def accuracy(self, images01: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        return {name: float((ext.logits(images01).argmax(1) == labels).double().mean())
                for name, ext in ((self.judge.name, self.judge), (self.contrast.name, self.contrast))}


def part_zoo(scorer: Scorer, config: dict[str, Any]) -> dict[str, Any]:
    import genlens

    test = load_fashion_mnist("test")
    x, y = test.float_images(), test.labels
    judge_pred = scorer.judge.logits(x).argmax(1)
    rows = {}
    for name in config["zoo"]["models"] + [config["judge"]]:
        pred = genlens.load_model(name).predict(x).argmax(1)
        correct = (pred == y).double()
        rows[name] = {"top1": bootstrap_interval(correct, resamples=config["resamples"]).to_dict(),
                      "agreement_with_judge": float((pred == judge_pred).double().mean())}
    return {"unit": "test image", "n": int(y.numel()), "models": rows}


def part_diffusion(scorer: Scorer, config: dict[str, Any]) -> dict[str, Any]:
    from genlens.diffusion.evaluate import generate_class_samples, settings_record
    from genlens.diffusion.pipeline import DiffusionPipeline

    c = config["diffusion"]
    pipe = DiffusionPipeline.from_folder(c["model"])
    per_seed: dict[str, list[float]] = {}
    for seed in config["seeds"]:
        t0 = time.process_time()
        images, labels = generate_class_samples(pipe, c["n"], seed=seed, batch_size=c["batch"])
        seconds = time.process_time() - t0
        row = {**scorer.sample_set(images, seed=seed), "floor_fid": scorer.floor(c["n"], seed=seed),
               **{f"accuracy[{k}]": v for k, v in scorer.accuracy(images, labels).items()},
               "cpu_seconds_sampling": seconds}
        for k, v in row.items():
            per_seed.setdefault(k, []).append(v)
    stats = {k: _interval(v) for k, v in per_seed.items()}
    bar = c["fid_bar_times_floor"] * stats["floor_fid"]["interval"]["estimate"]
    fid = seed_interval(per_seed["fid"])
    return {"model": c["model"], "n": c["n"], "settings": settings_record(pipe.config),
            "guide_model": None if pipe.config.guide_model is None else Path(pipe.config.guide_model).name,
            "guide_weight": pipe.config.guide_weight, "stats": stats,
            "fid_bar": bar, "fid_verdict": verdict(fid, bar, higher_is_better=False)}


def part_gan(scorer: Scorer, config: dict[str, Any]) -> dict[str, Any]:
    from genlens.gan.evaluate import coverage_from_predictions, generate, to_fmnist01
    from genlens.gan.io import load_generator

    c = config["gan"]
    out: dict[str, Any] = {"n": c["n"], "models": {}}
    floors = [scorer.floor(c["n"], seed=s) for s in config["seeds"]]
    out["floor_fid"] = _interval(floors)
    names = list(scorer.judge.handle.class_names)
    for name in c["models"]:
        G = load_generator(name)
        per_seed: dict[str, list[float]] = {}
        for seed in config["seeds"]:
            t0 = time.process_time()
            images = to_fmnist01(generate(G, c["n"], seed=seed, batch=c["batch"]))
            seconds = time.process_time() - t0
            pred = scorer.judge.logits(images).argmax(1)
            cov = coverage_from_predictions(pred, names, classifier=scorer.judge.name)
            row = {**scorer.sample_set(images, seed=seed), "coverage_min_fraction": cov.min_fraction,
                   "coverage_tv_to_uniform": cov.tv_to_uniform, "cpu_seconds_sampling": seconds}
            for k, v in row.items():
                per_seed.setdefault(k, []).append(v)
        out["models"][name] = {k: _interval(v) for k, v in per_seed.items()}
    a, b = c["compare"]
    diff = [x - y for x, y in zip(out["models"][a]["fid"]["per_seed"], out["models"][b]["fid"]["per_seed"],
                                  strict=True)]
    gap = seed_interval(diff)
    out["compare"] = {"what": f"FID {a} - FID {b} (paired by evaluation seed; below 0 = {a} better)",
                      **_interval(diff), "verdict": verdict(gap, 0.0, higher_is_better=False),
                      "note": "evaluation seeds only: one shipped model per arch, so training-seed spread is not in it"}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    result: dict[str, Any] = {"benchmark": "headlines", "schema": SCHEMA, "config": CONFIG, "parts": {}}
    if args.out.is_file():
        old = json.loads(args.out.read_text())
        if old.get("benchmark") != "headlines" or old.get("config") != CONFIG:
            raise SystemExit(f"{args.out}: written under another benchmark or config; move it away to start over")
        result = old
    scorer = Scorer(CONFIG)
    for part in args.parts:
        t0 = time.perf_counter()
        body = {"part_zoo": part_zoo, "part_diffusion": part_diffusion, "part_gan": part_gan}[f"part_{part}"](
            scorer, CONFIG)
        result["parts"][part] = {**body, "seconds": round(time.perf_counter() - t0, 1),
                                 "extractor": CONFIG["features"], "judge": CONFIG["judge"]}
        result["environment"] = environment(torch.device("cpu"))
        write_json(args.out, result)
        print(f"{part}: {result['parts'][part]['seconds']} s", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()


def _ci(stat: dict[str, Any], scale: float = 1.0, digits: int = 3) -> str:
    i = stat["interval"]
    return f"{scale * i['estimate']:.{digits}f} [{scale * i['low']:.{digits}f}, {scale * i['high']:.{digits}f}]"


def table(result: dict[str, Any]) -> str:
    """Markdown for bench/README.md: every headline under the evaluator, means over seeds with 95 % intervals."""
    cfg, parts, out = result["config"], result["parts"], []
    out.append(f"Extractor and judge `{cfg['features']}`; evaluation seeds {cfg['seeds']}; means with 95 % "
               "intervals (t over seeds; bootstrap over test images for the zoo).")
    if "zoo" in parts:
        out += ["", "| classifier | test top-1 % [95 % CI] | agrees with the evaluator % |", "|---|---:|---:|"]
        for name, row in parts["zoo"]["models"].items():
            t = row["top1"]
            out.append(f"| {name} | {100 * t['estimate']:.2f} [{100 * t['low']:.2f}, {100 * t['high']:.2f}] | "
                       f"{100 * row['agreement_with_judge']:.1f} |")
    if "diffusion" in parts:
        d = parts["diffusion"]
        s = d["stats"]
        judged, contrast = s["accuracy[" + cfg["judge"] + "]"], s["accuracy[" + cfg["contrast_judge"] + "]"]
        out += ["", f"Diffusion `{d['model']}` ({d['n']} samples per seed; "
                + ", ".join(f"{k} {v}" for k, v in d["settings"].items())
                + f", autoguidance {d['guide_model']} w {d['guide_weight']:g}):", "",
                "| FID | floor FID (n train images) | bar 3 x floor | verdict | KID | precision | recall | "
                f"judged % ({cfg['judge']}) | judged % ({cfg['contrast_judge']}) |",
                "|---:|---:|---:|---|---:|---:|---:|---:|---:|",
                f"| {_ci(s['fid'])} | {_ci(s['floor_fid'])} | {d['fid_bar']:.3f} | {d['fid_verdict']} | "
                f"{_ci(s['kid'], digits=4)} | {_ci(s['precision'])} | {_ci(s['recall'])} | "
                f"{_ci(judged, 100, 1)} | {_ci(contrast, 100, 1)} |"]
    if "gan" in parts:
        g = parts["gan"]
        out += ["", f"GANs ({g['n']} samples per seed; floor FID of {g['n']} training images {_ci(g['floor_fid'])}):",
                "", "| model | FID | KID | precision | recall | rarest class % | TV to uniform |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for name, s in g["models"].items():
            out.append(f"| {name} | {_ci(s['fid'])} | {_ci(s['kid'], digits=4)} | {_ci(s['precision'])} | "
                       f"{_ci(s['recall'])} | {_ci(s['coverage_min_fraction'], 100, 1)} | "
                       f"{_ci(s['coverage_tv_to_uniform'])} |")
        c = g["compare"]
        out += ["", f"{c['what']}: {_ci(c)}, {c['verdict']} ({c['note']})."]
    return "\n".join(out)
